"""Token management: POST/GET /tokens, GET/DELETE /tokens/{ref} (open-api.json, tokeny-ksef.md)."""
from __future__ import annotations

import re

import pytest

VALUE_RE = re.compile(r"^(\d{8}-EC-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2})\|nip-(\d{10})\|[0-9a-f]{64}$")


def create(ksef, login, permissions, description="Token do testów"):
    return ksef.emu.api("POST", "tokens", headers=login.headers,
                        json={"permissions": permissions, "description": description})


def test_create_returns_value_once_and_activates(ksef, nip):
    login = ksef.owner_login(nip)
    with ksef.settings(activation_delay=3600):
        r = create(ksef, login, ["InvoiceRead", "InvoiceWrite"])
    assert r.status_code == 202
    body = r.json()
    m = VALUE_RE.match(body["token"])
    assert m and m.group(1) == body["referenceNumber"] and m.group(2) == nip
    status = ksef.emu.api("GET", f"tokens/{body['referenceNumber']}", headers=login.headers).json()
    assert status["status"] == "Pending"
    assert "token" not in status
    assert status["requestedPermissions"] == ["InvoiceRead", "InvoiceWrite"]
    assert status["authorIdentifier"] == {"type": "Nip", "value": nip}  # seeded owner token authored by the NIP
    assert status["contextIdentifier"] == {"type": "Nip", "value": nip}
    body = create(ksef, login, ["InvoiceRead", "InvoiceWrite"]).json()
    assert ksef.wait_token_status(login, body["referenceNumber"], "Active")["status"] == "Active"
    # the new token authenticates with exactly its permissions
    new_login = ksef.login(body["token"], nip)
    denied = create(ksef, new_login, ["CredentialsManage"])
    assert denied.status_code == 400 and ksef.codes(denied) == [26001]


def test_missing_permission_is_26001_naming_it(ksef, nip):
    _reference, value = ksef.seed_token(nip, ["CredentialsManage", "InvoiceRead"])
    login = ksef.login(value, nip)
    r = create(ksef, login, ["InvoiceRead", "InvoiceWrite", "EnforcementOperations"])
    assert r.status_code == 400 and ksef.codes(r) == [26001]
    entry = r.json()["exception"]["exceptionDetailList"][0]
    assert entry["exceptionDescription"] == "Nie można nadać tokenowi uprawnień których nie posiadasz."
    assert "InvoiceWrite" in entry["details"][0] and "EnforcementOperations" in entry["details"][0]
    assert "InvoiceRead" not in entry["details"][0]


@pytest.mark.parametrize("body", [
    {"permissions": ["InvoiceRead"], "description": "abcd"},
    {"permissions": ["InvoiceRead"], "description": "x" * 257},
    {"permissions": ["InvoiceRead"]},
    {"permissions": [], "description": "Pusta lista"},
    {"permissions": ["Superuser"], "description": "Nieznane uprawnienie"},
    {"description": "Bez uprawnień"},
])
def test_invalid_generate_request_is_21405(ksef, nip, body):
    login = ksef.owner_login(nip)
    r = ksef.emu.api("POST", "tokens", headers=login.headers, json=body)
    assert r.status_code == 400 and ksef.codes(r) == [21405]
    assert r.json()["exception"]["exceptionDetailList"][0]["exceptionDescription"] == \
        "Błąd walidacji danych wejściowych."


def test_internal_id_context_tokens(ksef, nip):
    internal_id = f"{nip}-00001"
    _reference, value = ksef.seed_token(nip, context_type="InternalId", context_value=internal_id)
    assert f"|internalId-{internal_id}|" in value
    login = ksef.login(value, internal_id, context_type="InternalId")
    r = create(ksef, login, ["InvoiceRead"])
    assert r.status_code == 202 and f"|internalId-{internal_id}|" in r.json()["token"]


def test_list_filters(ksef, nip):
    login = ksef.owner_login(nip)
    pesel_author = "Pesel:80010112345"
    ksef.seed_token(nip, ["InvoiceRead"], description="Faktury ERP produkcja", author=pesel_author)
    ksef.seed_token(nip, ["InvoiceRead"], description="Odczyt do archiwum", status="Revoked")
    ksef.seed_token(nip, ["InvoiceWrite"], description="ERP wysyłka", status="Failed")
    h = login.headers

    def refs(params):
        r = ksef.emu.api("GET", "tokens", headers=h, params=params)
        assert r.status_code == 200, r.text
        return [t["description"] for t in r.json()["tokens"]]

    assert refs({"description": "erp"}) == ["ERP wysyłka", "Faktury ERP produkcja"]
    assert refs([("status", "Revoked"), ("status", "Failed")]) == ["ERP wysyłka", "Odczyt do archiwum"]
    assert refs({"authorIdentifier": "800101"}) == ["Faktury ERP produkcja"]
    assert refs({"authorIdentifierType": "Pesel"}) == ["Faktury ERP produkcja"]
    assert len(refs({"authorIdentifierType": "Nip"})) == 3  # two seeded + the login token
    for params in ({"description": "er"}, {"authorIdentifier": "80"}, {"pageSize": "9"}, {"pageSize": "101"},
                   {"pageSize": "\u0661\u0660"}, {"pageSize": "\uff11\uff10"},  # Arabic-Indic and fullwidth 10
                   {"status": "Sleeping"}, {"authorIdentifierType": "Regon"}):
        r = ksef.emu.api("GET", "tokens", headers=h, params=params)
        assert r.status_code == 400 and ksef.codes(r) == [21405], params


def test_list_pagination_newest_first(ksef, nip):
    login = ksef.owner_login(nip)
    created = [ksef.seed_token(nip, ["InvoiceRead"], description=f"Token numer {i:02d}")[0] for i in range(24)]
    seen, token, pages = [], None, 0
    while True:
        headers = dict(login.headers)
        if token:
            headers["x-continuation-token"] = token
        body = ksef.emu.api("GET", "tokens", headers=headers, params={"pageSize": 10}).json()
        pages += 1
        seen += [t["referenceNumber"] for t in body["tokens"]]
        token = body.get("continuationToken")
        if not token:
            break
    assert pages == 3 and len(seen) == 25 and len(set(seen)) == 25
    assert seen[:24] == list(reversed(created))  # dateCreated desc; the login token is the oldest
    dates = [t["dateCreated"] for t in ksef.emu.api("GET", "tokens", headers=login.headers,
                                                    params={"pageSize": 100}).json()["tokens"]]
    assert dates == sorted(dates, reverse=True)
    bad = ksef.emu.api("GET", "tokens", headers={**login.headers, "x-continuation-token": "garbage!"})
    assert bad.status_code == 400 and ksef.codes(bad) == [21418]


def test_backdate_changes_order(ksef, nip):
    login = ksef.owner_login(nip)
    older, _value = ksef.seed_token(nip, ["InvoiceRead"], description="Stary token")
    newer, _value = ksef.seed_token(nip, ["InvoiceRead"], description="Nowy token")
    r = ksef.emu.admin("POST", f"tokens/{newer}/backdate", json={"seconds": 86400 * 30})
    assert r.status_code == 200
    listed = [t["referenceNumber"] for t in ksef.emu.api("GET", "tokens", headers=login.headers).json()["tokens"]]
    assert listed.index(older) < listed.index(newer)


def test_visibility_of_token_session_without_credentials_permissions(ksef, nip):
    own_ref, value = ksef.seed_token(nip, ["InvoiceRead"])
    other_ref, _value = ksef.seed_token(nip, ["InvoiceRead"], description="Cudzy token")
    login = ksef.login(value, nip)
    listed = ksef.emu.api("GET", "tokens", headers=login.headers).json()["tokens"]
    assert [t["referenceNumber"] for t in listed] == [own_ref]
    assert ksef.emu.api("GET", f"tokens/{own_ref}", headers=login.headers).status_code == 200
    r = ksef.emu.api("GET", f"tokens/{other_ref}", headers=login.headers)
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["reasonCode"] == "missing-permissions"
    assert r.json()["security"]["presentPermissions"] == ["InvoiceRead"]
    r = ksef.emu.api("DELETE", f"tokens/{other_ref}", headers=login.headers)
    assert r.status_code == 403 and r.json()["reasonCode"] == "missing-permissions"
    # its own token it may revoke without CredentialsManage
    assert ksef.emu.api("DELETE", f"tokens/{own_ref}", headers=login.headers).status_code == 204


def test_credentials_read_sees_all_but_cannot_revoke_others(ksef, nip):
    _reference, value = ksef.seed_token(nip, ["CredentialsRead"])
    other_ref, _value = ksef.seed_token(nip, ["InvoiceRead"], description="Cudzy token", author="Pesel:80010112345")
    login = ksef.login(value, nip)
    listed = [t["referenceNumber"] for t in ksef.emu.api("GET", "tokens", headers=login.headers).json()["tokens"]]
    assert other_ref in listed and len(listed) == 2
    assert ksef.emu.api("DELETE", f"tokens/{other_ref}", headers=login.headers).status_code == 403


def test_tokens_of_other_contexts_are_not_found(ksef, nip, fresh_nip):
    login = ksef.owner_login(nip)
    foreign_ref, _value = ksef.seed_token(fresh_nip())
    for method in ("GET", "DELETE"):
        r = ksef.emu.api(method, f"tokens/{foreign_ref}", headers=login.headers)
        assert r.status_code == 400 and ksef.codes(r) == [21405]
    assert foreign_ref not in [t["referenceNumber"] for t in
                               ksef.emu.api("GET", "tokens", headers=login.headers).json()["tokens"]]


def test_revoke_goes_revoking_then_revoked_and_blocks_authentication(ksef, nip):
    login = ksef.owner_login(nip)
    slow_ref, slow_value = ksef.seed_token(nip, ["InvoiceRead"])
    with ksef.settings(activation_delay=3600):
        assert ksef.emu.api("DELETE", f"tokens/{slow_ref}", headers=login.headers).status_code == 204
    assert ksef.emu.api("GET", f"tokens/{slow_ref}", headers=login.headers).json()["status"] == "Revoking"
    assert ksef.token_auth_status(slow_value, nip)["status"]["details"] == ["Token unieważniony"]
    ref, value = ksef.seed_token(nip, ["InvoiceRead"])
    assert ksef.emu.api("DELETE", f"tokens/{ref}", headers=login.headers).status_code == 204
    assert ksef.wait_token_status(login, ref, "Revoked")["status"] == "Revoked"
    assert ksef.token_auth_status(value, nip)["status"]["details"] == ["Token unieważniony"]
    assert ksef.emu.api("DELETE", f"tokens/{ref}", headers=login.headers).status_code == 204  # idempotent


def test_failed_activation_via_control_api(ksef, nip):
    login = ksef.owner_login(nip)
    assert ksef.emu.admin("PUT", "activation", json={"fail_next": 1}).status_code == 200
    failed = create(ksef, login, ["InvoiceRead"]).json()
    ok = create(ksef, login, ["InvoiceRead"]).json()
    assert ksef.wait_token_status(login, failed["referenceNumber"], "Failed")["status"] == "Failed"
    assert ksef.wait_token_status(login, ok["referenceNumber"], "Active")["status"] == "Active"
    assert ksef.token_auth_status(failed["token"], nip)["status"]["details"] == ["Token nieaktywny"]
    with ksef.settings(activation_delay=3600):
        pending_ref, _value = ksef.seed_token(nip, ["InvoiceRead"], status="Pending")
    r = ksef.emu.admin("POST", f"tokens/{pending_ref}/fail")
    assert r.status_code == 200 and r.json()["status"] == "Failed"
    assert ksef.emu.admin("POST", f"tokens/{ok['referenceNumber']}/fail").status_code == 409


def test_problem_details_format_on_request(ksef, nip):
    login = ksef.owner_login(nip)
    r = ksef.emu.api("POST", "tokens", headers={**login.headers, "X-Error-Format": "problem-details"},
                     json={"permissions": ["InvoiceRead"], "description": "abc"})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert {"title", "status", "instance", "detail", "errors", "timestamp", "traceId"} <= set(body)
    assert body["status"] == 400 and body["instance"] == "/v2/tokens"
    assert body["errors"][0]["code"] == 21405 and body["errors"][0]["details"]
    # default shape is ExceptionResponse
    r = ksef.emu.api("POST", "tokens", headers=login.headers, json={"permissions": ["InvoiceRead"], "description": "abc"})
    assert r.headers["content-type"].startswith("application/json")
    exc = r.json()["exception"]
    assert {"exceptionDetailList", "referenceNumber", "serviceCode", "timestamp"} <= set(exc)


def test_unauthenticated_token_calls_are_401(emulator):
    for method, path in (("GET", "tokens"), ("POST", "tokens"), ("GET", "tokens/20250514-EC-2DFC46C000-3AC6D5877F-D4"),
                         ("DELETE", "tokens/20250514-EC-2DFC46C000-3AC6D5877F-D4"), ("GET", "auth/sessions")):
        r = emulator.api(method, path)
        assert r.status_code == 401, (method, path)
        assert r.headers["content-type"].startswith("application/problem+json")
