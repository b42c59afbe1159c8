"""Request limits over real HTTP: 429 shapes, isolation per endpoint and context, waiting, escalation, `off`.

Emulators run with `--rate-limits prd` and a time scale (`--time-scale 60`: a minute lasts 1 s, an
hour 60 s; a second stays a second). GET /tokens allows 10/s, 30/min, 120/h in production.
"""
from __future__ import annotations

import base64
import re
import time

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from ksef_emulator.conformance import ContractChecker

pytestmark = pytest.mark.timeout(60)

NIP_A = "5265877635"
NIP_B = "7010002139"
DETAIL = re.compile(r"^Przekroczono limit (\d+) żąda\w* na (sekundę|minutę|godzinę)\. "
                    r"Spróbuj ponownie po (\d+) sekund\w*\.$")
PROBLEM = {"x-error-format": "problem-details"}


def login(emu, nip: str) -> str:
    """A fresh access token for `nip`: seeded KSeF token, challenge, RSA-OAEP, status, redeem."""
    seeded = emu.admin("POST", "tokens", json={
        "context": f"Nip:{nip}", "permissions": ["CredentialsManage", "CredentialsRead"],
        "description": "rate limit tests", "author": f"Nip:{nip}", "status": "Active"})
    assert seeded.status_code in (200, 201), seeded.text
    challenge = emu.api("POST", "auth/challenge").json()
    certificates = emu.api("GET", "security/public-key-certificates").json()
    der = next(c["certificate"] for c in certificates if "KsefTokenEncryption" in c["usage"])
    public_key = x509.load_der_x509_certificate(base64.b64decode(der)).public_key()
    plain = f"{seeded.json()['token']}|{challenge['timestampMs']}".encode()
    encrypted = public_key.encrypt(plain, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    started = emu.api("POST", "auth/ksef-token", json={
        "challenge": challenge["challenge"], "contextIdentifier": {"type": "Nip", "value": nip},
        "encryptedToken": base64.b64encode(encrypted).decode()})
    assert started.status_code == 202, started.text
    operation = {"Authorization": f"Bearer {started.json()['authenticationToken']['token']}"}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = emu.api("GET", f"auth/{started.json()['referenceNumber']}", headers=operation).json()["status"]
        if status["code"] != 100:
            break
        time.sleep(0.05)
    assert status["code"] == 200, status
    redeemed = emu.api("POST", "auth/token/redeem", headers=operation)
    assert redeemed.status_code == 200, redeemed.text
    return redeemed.json()["accessToken"]["token"]


def bearer(token: str, **extra) -> dict:
    return {"Authorization": f"Bearer {token}", **extra}


def burst_until_429(client: httpx.Client, path: str, headers: dict, limit: int = 200) -> tuple[int, httpx.Response]:
    """Requests as fast as one client sends them; (how many passed, the first 429)."""
    for passed in range(limit):
        response = client.get(path, headers=headers)
        if response.status_code == 429:
            return passed, response
        assert response.status_code == 200, response.text
    pytest.fail(f"no 429 after {limit} requests to {path}")


def assert_json_429(response: httpx.Response) -> int:
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("application/json")
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    body = response.json()
    assert set(body) == {"status"}
    assert body["status"]["code"] == 429 and body["status"]["description"] == "Too Many Requests"
    [detail] = body["status"]["details"]
    match = DETAIL.match(detail)
    assert match, detail
    assert int(match.group(3)) == retry_after
    return retry_after


def assert_problem_429(response: httpx.Response, path: str) -> int:
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("application/problem+json")
    retry_after = int(response.headers["retry-after"])
    body = response.json()
    assert set(body) >= {"title", "status", "instance", "detail", "timestamp", "traceId"}
    assert body["status"] == 429 and body["title"] == "Too Many Requests"
    assert body["instance"] == path
    assert DETAIL.match(body["detail"]), body["detail"]
    return retry_after


@pytest.fixture
def prd(emulator_factory):
    emu = emulator_factory("--rate-limits", "prd", "--time-scale", "60", "--activation-delay", "0")
    return emu


def test_burst_over_the_per_second_limit_gets_the_documented_429_in_both_formats(prd):
    token = login(prd, NIP_A)
    with httpx.Client(base_url=prd.api_url, timeout=10) as client:
        passed, refused = burst_until_429(client, "/tokens", bearer(token))
        assert passed == 10
        assert_json_429(refused)
        assert DETAIL.match(refused.json()["status"]["details"][0]).group(1, 2) == ("10", "sekundę")
        again = client.get("/tokens", headers=bearer(token, **PROBLEM))
        assert_problem_429(again, "/v2/tokens")
        assert "10 żądań na sekundę" in again.json()["detail"]


def test_burst_over_the_per_minute_limit_at_a_slower_pace(emulator_factory):
    # A minute lasts 30 s; 8 requests a second never reach 10/s but reach 30/min in about 4 s, with 26 s to spare
    # for a slow machine (the window is measured, not assumed: see the check after the loop).
    emu = emulator_factory("--rate-limits", "prd", "--time-scale", "2", "--activation-delay", "0")
    token = login(emu, NIP_A)
    with httpx.Client(base_url=emu.api_url, timeout=10) as client:
        first = time.monotonic()
        for n in range(30):
            started = time.monotonic()
            response = client.get("/tokens", headers=bearer(token, **PROBLEM))
            assert response.status_code == 200, (n, response.text)
            time.sleep(max(0.0, 0.125 - (time.monotonic() - started)))
        took = time.monotonic() - first
        assert took < 30, "the 30 requests took longer than the emulated minute; the burst proves nothing"
        refused = client.get("/tokens", headers=bearer(token, **PROBLEM))
        retry_after = assert_problem_429(refused, "/v2/tokens")
        assert "30 żądań na minutę" in refused.json()["detail"]
        # The first of the 30 leaves the 30 s window when the minute since it has passed.
        assert 1 <= retry_after <= 30 - int(took) + 1
        assert_json_429(client.get("/tokens", headers=bearer(token)))


def test_other_endpoints_and_other_contexts_are_unaffected(prd):
    token_a, token_b = login(prd, NIP_A), login(prd, NIP_B)
    with httpx.Client(base_url=prd.api_url, timeout=10) as client:
        burst_until_429(client, "/tokens", bearer(token_a))
        assert client.get("/tokens", headers=bearer(token_a)).status_code == 429
        assert client.get("/auth/sessions", headers=bearer(token_a)).status_code == 200
        assert client.get("/tokens", headers=bearer(token_b)).status_code == 200
        assert client.post("/auth/challenge").status_code == 200
        assert client.get("/tokens", headers=bearer(token_a)).status_code == 429


def test_waiting_retry_after_lets_requests_through_and_repeated_breaches_lengthen_the_block(prd):
    token = login(prd, NIP_A)
    blocks = []
    with httpx.Client(base_url=prd.api_url, timeout=10) as client:
        for _attempt in range(3):
            _passed, refused = burst_until_429(client, "/tokens", bearer(token))
            retry_after = assert_json_429(refused)
            blocks.append(retry_after)
            # Refused requests do not extend the block.
            time.sleep(retry_after / 2)
            still = client.get("/tokens", headers=bearer(token))
            assert still.status_code == 429
            assert int(still.headers["retry-after"]) <= retry_after
            time.sleep(retry_after / 2 + 0.05)
            assert client.get("/tokens", headers=bearer(token)).status_code == 200
    # Each block doubles the time the window alone needs (about 1 s after a fast burst): 1, 2, 4.
    # Rounding to whole seconds can flatten a step when a slow machine stretches the burst.
    assert blocks == sorted(blocks) and blocks[0] < blocks[2], blocks


def test_off_never_limits(emulator_factory):
    emu = emulator_factory("--rate-limits", "off", "--activation-delay", "0")
    token = login(emu, NIP_A)
    with httpx.Client(base_url=emu.api_url, timeout=10) as client:
        # More than even the TEST profile allows in a second (100/s on GET /tokens).
        statuses = {client.get("/tokens", headers=bearer(token)).status_code for _attempt in range(150)}
        statuses |= {client.post("/auth/challenge").status_code for _attempt in range(100)}
    assert statuses == {200}


def test_switching_to_off_at_runtime_lifts_limits_and_blocks(prd):
    token = login(prd, NIP_A)
    with httpx.Client(base_url=prd.api_url, timeout=10) as client:
        burst_until_429(client, "/tokens", bearer(token))
        assert prd.admin("PUT", "config", json={"rate_limits": "off"}).json()["rate_limits"] == "off"
        statuses = {client.get("/tokens", headers=bearer(token)).status_code for _attempt in range(60)}
    assert statuses == {200}


def test_a_limit_of_zero_refuses_its_group_and_a_negative_one_is_a_validation_error(emulator, fresh_nip):
    """A context's limit of 0 once crashed the limiter, and every later request on every route got 500."""
    contract = ContractChecker.from_file().contract
    groups = contract["components"]["schemas"]["ApiRateLimitsOverride"]["required"]
    generous = {group: {"perSecond": 100, "perMinute": 1000, "perHour": 10000} for group in groups}
    token, bystander = login(emulator, fresh_nip()), login(emulator, fresh_nip())
    with httpx.Client(base_url=emulator.api_url, timeout=10) as client:
        for extra in ({}, PROBLEM):
            negative = {**generous, "other": {"perSecond": 100, "perMinute": -1, "perHour": 10000}}
            refused = client.post("/testdata/rate-limits", headers=bearer(token, **extra),
                                  json={"rateLimits": negative})
            assert refused.status_code == 400, refused.text
            errors = (refused.json()["errors"] if extra else
                      refused.json()["exception"]["exceptionDetailList"])
            assert [e.get("code", e.get("exceptionCode")) for e in errors] == [21405]
            assert "perMinute" in refused.text

        zero = {**generous, "other": {"perSecond": 100, "perMinute": 0, "perHour": 10000}}
        assert client.post("/testdata/rate-limits", headers=bearer(token), json={"rateLimits": zero}).status_code == 200
        for _attempt in range(3):
            assert assert_json_429(client.get("/tokens", headers=bearer(token))) == 60
            assert assert_problem_429(client.get("/tokens", headers=bearer(token, **PROBLEM)), "/v2/tokens") == 60
        # The rest of the emulator is unharmed: another context, the public routes.
        assert client.get("/tokens", headers=bearer(bystander)).status_code == 200
        assert client.post("/auth/challenge").status_code == 200
        # /testdata/rate-limits is in group `other` too, so the context cannot lift its own 0; the control API can.
        assert client.delete("/testdata/rate-limits", headers=bearer(token)).status_code == 429
        assert emulator.admin("POST", "rate-limits/reset").status_code == 200
        assert client.get("/tokens", headers=bearer(token)).status_code == 200
