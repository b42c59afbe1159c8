"""KsefApi: paging via x-continuation-token, one refresh on 401, secrets reported, query parameters."""
import json

import httpx
import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._api import KsefApi
from ansible_collections.ksef.credentials.plugins.module_utils._auth import KsefSession
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefApiError, KsefAuthError
from ansible_collections.ksef.credentials.plugins.module_utils._http import KsefHttp


class Tokens:
    """GET/POST /tokens and friends with 25 tokens served in pages; access tokens may be refused."""

    def __init__(self, refuse=()):
        self.items = [{"referenceNumber": f"ref-{i:02d}", "status": "Active", "description": f"token {i}"}
                      for i in range(25)]
        self.refuse = set(refuse)
        self.requests = []
        self.refreshes = 0

    def __call__(self, request):
        self.requests.append(request)
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        path = request.url.path.removeprefix("/v2")
        if path == "/auth/token/refresh":
            self.refreshes += 1
            return httpx.Response(200, json={"accessToken": {"token": f"fresh-{self.refreshes}",
                                                             "validUntil": "2999-01-01T00:00:00Z"}})
        if bearer in self.refuse:
            return httpx.Response(401, json={"title": "Unauthorized", "status": 401, "detail": "Token wygasł."})
        if path == "/tokens" and request.method == "GET":
            size = int(request.url.params["pageSize"])
            start = int(request.headers.get("x-continuation-token") or 0)
            page = self.items[start:start + size]
            more = start + size < len(self.items)
            return httpx.Response(200, json={"tokens": page, "continuationToken": str(start + size) if more else None})
        if path == "/tokens" and request.method == "POST":
            return httpx.Response(202, json={"referenceNumber": "ref-new", "token": "ref-new|nip-5265877635|" + "f" * 64})
        if path.startswith("/tokens/"):
            ref = path.split("/")[-1]
            if request.method == "DELETE":
                return httpx.Response(204)
            return httpx.Response(200, json={"referenceNumber": ref, "status": "Active"})
        if path == "/auth/sessions":
            return httpx.Response(200, json={"items": [{"referenceNumber": "AU-1", "isCurrent": True}]})
        if path.startswith("/auth/sessions/"):
            return httpx.Response(204)
        return httpx.Response(404)


def api_for(fake, access="a1", refresh="r1", on_secret=None):
    http = KsefHttp("https://ksef.example/v2", transport=httpx.MockTransport(fake), sleep=lambda s: None)
    session = KsefSession(http, access_token=access, refresh_token=refresh, access_expires=4102444800.0)
    return KsefApi(http, session, on_secret=on_secret)


def test_list_tokens_follows_continuation_until_exhausted():
    fake = Tokens()
    api = api_for(fake)
    tokens = api.list_tokens(page_size=10)
    assert [t["referenceNumber"] for t in tokens] == [f"ref-{i:02d}" for i in range(25)]
    assert len(fake.requests) == 3
    assert [r.headers.get("x-continuation-token") for r in fake.requests] == [None, "10", "20"]
    assert api.calls == {"GET /tokens": 3}


def test_list_tokens_filters_become_query_parameters():
    fake = Tokens()
    api_for(fake).list_tokens(statuses=["Active", "Pending"], description="[ksef:erp]", author_identifier="526",
                              author_identifier_type="Nip", page_size=500)
    params = fake.requests[0].url.params
    assert params.get_list("status") == ["Active", "Pending"]
    assert params["description"] == "[ksef:erp]" and params["authorIdentifier"] == "526"
    assert params["authorIdentifierType"] == "Nip" and params["pageSize"] == "100"  # clamped to the API maximum


def test_a_401_refreshes_once_and_retries():
    fake = Tokens(refuse={"a1"})
    api = api_for(fake)
    assert api.get_token("ref-03")["referenceNumber"] == "ref-03"
    assert fake.refreshes == 1 and api.session.access_token == "fresh-1"
    assert [r.url.path for r in fake.requests] == ["/v2/tokens/ref-03", "/v2/auth/token/refresh", "/v2/tokens/ref-03"]


def test_a_second_401_is_an_error_not_a_loop():
    fake = Tokens(refuse={"a1", "fresh-1"})
    with pytest.raises(KsefApiError) as err:
        api_for(fake).get_token("ref-03")
    assert err.value.status == 401 and fake.refreshes == 1


def test_401_without_refresh_token_is_reported():
    fake = Tokens(refuse={"a1"})
    with pytest.raises(KsefApiError) as err:
        api_for(fake, refresh=None).list_tokens()
    assert err.value.status == 401 and fake.refreshes == 0


def test_create_token_reports_the_value_as_a_secret_at_once():
    secrets = set()
    fake = Tokens()
    body = api_for(fake, on_secret=secrets.add).create_token(["InvoiceRead"], "erp invoices [ksef:erp]")
    assert body["referenceNumber"] == "ref-new" and body["token"] in secrets
    assert json.loads(fake.requests[0].content) == {"permissions": ["InvoiceRead"],
                                                    "description": "erp invoices [ksef:erp]"}


def test_revoke_sessions_and_keys():
    fake = Tokens()
    api = api_for(fake)
    api.revoke_token("ref-01")
    assert api.list_sessions() == [{"referenceNumber": "AU-1", "isCurrent": True}]
    api.close_session("AU-9")
    api.close_current_session()
    assert api.session.closed
    assert [f"{r.method} {r.url.path}" for r in fake.requests] == [
        "DELETE /v2/tokens/ref-01", "GET /v2/auth/sessions", "DELETE /v2/auth/sessions/AU-9",
        "DELETE /v2/auth/sessions/current"]


def test_expired_reused_session_without_refresh_fails_before_calling():
    fake = Tokens()
    http = KsefHttp("https://ksef.example/v2", transport=httpx.MockTransport(fake))
    api = KsefApi(http, KsefSession(http, access_token="a1", access_expires=1.0))
    with pytest.raises(KsefAuthError):
        api.list_tokens()
    assert fake.requests == []
