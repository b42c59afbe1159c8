"""The HTTP client: retry/backoff/Retry-After logic, ambiguous creates, error parsing of both shapes.

Pure logic runs on httpx.MockTransport; dropped connections run against a real local socket server.
"""
import json
import socket
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefAmbiguousError, KsefApiError
from ansible_collections.ksef.credentials.plugins.module_utils._http import (
    KsefHttp, backoff_delay, error_from_response, parse_error_body, parse_retry_after)

BASE = "https://ksef.example/v2"


class Script:
    """A MockTransport handler answering from a list of (status, body, headers) or exceptions."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        status, body, headers = (answer + (None, None))[:3]
        if isinstance(body, (dict, list)):
            return httpx.Response(status, json=body, headers=headers)
        return httpx.Response(status, content=body or b"", headers=headers)


def client(script, **kwargs):
    sleeps = []
    http = KsefHttp(BASE, transport=httpx.MockTransport(script), sleep=sleeps.append, rng=lambda: 1.0, **kwargs)
    return http, sleeps


EXCEPTION_SHAPE = {"exception": {"exceptionDetailList": [{
    "exceptionCode": 26001, "exceptionDescription": "Nie można nadać tokenowi uprawnień których nie posiadasz.",
    "details": ["missing: CredentialsManage"]}], "referenceNumber": "x", "serviceCode": "y"}}
PROBLEM_400 = {"title": "Bad Request", "status": 400, "detail": "Żądanie jest nieprawidłowe.", "errors": [
    {"code": 21405, "description": "Błąd walidacji danych wejściowych.", "details": ["pageSize too large"]},
    {"code": 21418, "description": "Przekazany token kontynuacji ma nieprawidłowy format."}],
    "instance": "/v2/tokens", "timestamp": "2025-07-11T12:23:56Z", "traceId": "t"}
PROBLEM_403 = {"title": "Forbidden", "status": 403, "detail": "Brak wymaganych uprawnień.",
               "reasonCode": "missing-permissions",
               "security": {"requiredAnyOfPermissions": ["CredentialsManage"], "presentPermissions": ["InvoiceRead"]},
               "timestamp": "2025-07-11T12:23:56Z"}


def test_exception_response_shape_message():
    http, _sleeps = client(Script((400, EXCEPTION_SHAPE)))
    with pytest.raises(KsefApiError) as err:
        http.request("POST", "/tokens", json={"permissions": ["CredentialsManage"], "description": "abcde"})
    e = err.value
    assert str(e).startswith("KSeF refused POST /tokens: 26001 Nie można nadać tokenowi uprawnień których nie "
                             "posiadasz. (missing: CredentialsManage)")
    assert (e.status, e.codes, e.details, e.operation) == (400, [26001], ["missing: CredentialsManage"], "POST /tokens")


def test_problem_details_shape_with_several_errors():
    codes, description, details, reason = parse_error_body(PROBLEM_400)
    assert codes == [21405, 21418]
    assert description == "Błąd walidacji danych wejściowych.; Przekazany token kontynuacji ma nieprawidłowy format."
    assert details == ["Żądanie jest nieprawidłowe.", "pageSize too large"]
    assert reason is None


def test_problem_details_403_reason_code_and_security():
    response = httpx.Response(403, json=PROBLEM_403, headers={"Content-Type": "application/problem+json"})
    err = error_from_response(response, "GET /tokens")
    assert err.reason_code == "missing-permissions" and err.status == 403 and err.codes == []
    assert "requiredAnyOfPermissions: CredentialsManage" in err.details
    assert str(err).startswith("KSeF refused GET /tokens: HTTP 403 Forbidden [missing-permissions]")


def test_401_problem_and_non_json_bodies():
    err = error_from_response(httpx.Response(401, json={"title": "Unauthorized", "status": 401,
                                                        "detail": "Wymagane jest uwierzytelnienie."}), "GET /tokens")
    assert err.status == 401 and "Wymagane jest uwierzytelnienie." in str(err)
    err = error_from_response(httpx.Response(502, content=b"<html>Bad gateway</html>"), "GET /tokens")
    assert "failed on GET /tokens: HTTP 502" in str(err) and "Bad gateway" in str(err)


def test_messages_never_contain_what_was_sent():
    secret = "20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|" + "a" * 64
    http, _sleeps = client(Script((400, EXCEPTION_SHAPE)))
    with pytest.raises(KsefApiError) as err:
        http.request("GET", "/tokens", bearer=secret, json={"x": secret})
    assert secret not in str(err.value) and "Bearer" not in str(err.value)


def test_5xx_is_retried_with_capped_full_jitter_backoff():
    script = Script((500, {}), (503, {}), (502, {}), (200, {"ok": True}))
    http, sleeps = client(script, backoff_base=0.5, backoff_cap=1.5)
    assert http.request("GET", "/tokens").json() == {"ok": True}
    assert sleeps == [0.5, 1.0, 1.5]  # rng=1.0: the upper bound of each window, capped
    assert http.calls["GET /tokens"] == 4 and http.retries == 3


def test_backoff_delay_is_uniform_below_the_cap():
    assert backoff_delay(10, 0.5, 10, rng=lambda: 1.0) == 10
    assert backoff_delay(0, 0.5, 10, rng=lambda: 0.0) == 0
    assert backoff_delay(2, 0.5, 10, rng=lambda: 0.5) == 1.0


def test_gives_up_after_max_attempts_with_the_last_error():
    script = Script((503, {"status": {"code": 503, "description": "Service Unavailable"}}))
    http, sleeps = client(script, max_attempts=3)
    with pytest.raises(KsefApiError) as err:
        http.request("GET", "/tokens")
    assert err.value.status == 503 and len(script.requests) == 3 and len(sleeps) == 2


def test_4xx_is_not_retried():
    script = Script((400, PROBLEM_400))
    http, sleeps = client(script)
    with pytest.raises(KsefApiError):
        http.request("GET", "/tokens")
    assert len(script.requests) == 1 and sleeps == []


def test_429_honours_retry_after_seconds_and_http_date():
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=20), usegmt=True)
    script = Script((429, {"status": {"code": 429, "description": "Too Many Requests", "details": []}},
                     {"Retry-After": "3"}),
                    (429, {}, {"Retry-After": later}), (200, []))
    http, sleeps = client(script)
    http.request("GET", "/security/public-key-certificates")
    assert sleeps[0] == 3.0 and 18 <= sleeps[1] <= 20


def test_429_longer_than_max_wait_fails_with_the_time_asked():
    script = Script((429, {"title": "Too Many Requests", "status": 429,
                           "detail": "Przekroczono limit 20 żądań na minutę."}, {"Retry-After": "900"}))
    http, sleeps = client(script, max_retry_after=60)
    with pytest.raises(KsefApiError) as err:
        http.request("GET", "/tokens")
    assert err.value.status == 429 and err.value.retry_after == 900
    assert "900s" in str(err.value) and sleeps == []


def test_429_on_post_tokens_is_retried_because_nothing_was_created():
    script = Script((429, {}, {"Retry-After": "1"}), (202, {"referenceNumber": "r", "token": "t"}))
    http, sleeps = client(script)
    assert http.request("POST", "/tokens", json={}).status_code == 202 and sleeps == [1.0]


def test_5xx_on_post_tokens_is_ambiguous_not_retried():
    script = Script((500, {}), (202, {}))
    http, _sleeps = client(script)
    with pytest.raises(KsefAmbiguousError, match="may have taken effect"):
        http.request("POST", "/tokens", json={})
    assert len(script.requests) == 1


def test_connect_errors_are_retried_even_for_post_tokens():
    script = Script(httpx.ConnectError("refused"), (202, {"referenceNumber": "r", "token": "t"}))
    http, sleeps = client(script)
    assert http.request("POST", "/tokens", json={}).status_code == 202 and len(sleeps) == 1


def test_read_timeout_retried_for_reads_ambiguous_for_create():
    http, _sleeps = client(Script(httpx.ReadTimeout("slow"), (200, [])))
    assert http.request("GET", "/tokens").json() == []
    http, _sleeps = client(Script(httpx.ReadTimeout("slow"), (202, {})))
    with pytest.raises(KsefAmbiguousError) as err:
        http.request("POST", "/tokens", json={})
    assert err.value.operation == "POST /tokens"


def test_unreachable_after_all_attempts():
    http, sleeps = client(Script(httpx.ConnectError("refused")), max_attempts=2)
    with pytest.raises(KsefApiError, match="Could not reach KSeF at https://ksef.example/v2 for GET /tokens after 2"):
        http.request("GET", "/tokens")


def test_limiter_and_counter_see_every_request_by_template():
    seen = []

    class Limiter:
        def acquire(self, operation, max_wait=None):
            seen.append(operation)

    http, _sleeps = client(Script((500, {}), (200, {})), limiter=Limiter())
    http.request("GET", "/tokens/{referenceNumber}", path_params={"referenceNumber": "a/b c"})
    assert seen == ["GET /tokens/{referenceNumber}"] * 2
    assert dict(http.calls) == {"GET /tokens/{referenceNumber}": 2}


def test_path_params_are_escaped_and_bearer_sent():
    script = Script((200, {}))
    http, _sleeps = client(script)
    http.request("GET", "/tokens/{referenceNumber}", path_params={"referenceNumber": "a/b"}, bearer="jwt")
    assert script.requests[0].url.raw_path == b"/v2/tokens/a%2Fb"
    assert script.requests[0].headers["Authorization"] == "Bearer jwt"


def test_parse_retry_after():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=45), usegmt=True), now=now) == 45.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=45), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None and parse_retry_after("") is None


class DroppingServer:
    """A real TCP server that reads a request and closes the connection without answering,
    `drops` times, then answers 200 with a JSON body."""

    def __init__(self, drops):
        self.drops = drops
        self.received = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _address = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.received += 1
                if self.received <= self.drops:
                    continue  # drop: close without a response
                body = json.dumps({"tokens": []}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    def close(self):
        self.sock.close()


def test_dropped_connection_on_a_real_socket():
    server = DroppingServer(drops=2)
    try:
        http = KsefHttp(f"http://127.0.0.1:{server.port}/v2", sleep=lambda s: None, timeout=5)
        assert http.request("GET", "/tokens").json() == {"tokens": []}
        assert server.received == 3 and http.calls["GET /tokens"] == 3

        http = KsefHttp(f"http://127.0.0.1:{server.port}/v2", sleep=lambda s: None, timeout=5)
        server.received, server.drops = 0, 1
        with pytest.raises(KsefAmbiguousError, match="POST /tokens"):
            http.request("POST", "/tokens", json={"permissions": ["InvoiceRead"], "description": "abcde"})
        assert server.received == 1  # never sent twice
    finally:
        server.close()
