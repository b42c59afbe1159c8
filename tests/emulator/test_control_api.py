"""The test-only control API under /_emulator/ and the request log."""
from __future__ import annotations

import concurrent.futures
import time

import httpx
import pytest


def test_health_and_stats(emulator_factory, client_for, fresh_nip):
    emu = emulator_factory()
    ksef, nip = client_for(emu), fresh_nip()
    assert emu.admin("GET", "health").json() == {"status": "ok"}
    login = ksef.owner_login(nip)
    emu.reset_stats()
    emu.api("GET", "tokens", headers=login.headers)
    emu.api("GET", "tokens", headers=login.headers)
    emu.api("POST", "tokens", headers=login.headers, json={"permissions": [], "description": "Zła lista"})
    emu.api("POST", "auth/challenge")
    stats = emu.stats()
    assert stats["total"] == 4
    assert stats["operations"] == {"GET /tokens": 2, "POST /tokens": 1, "POST /auth/challenge": 1}
    assert stats["by_context"] == {f"Nip:{nip}": {"GET /tokens": 2, "POST /tokens": 1}}
    assert stats["by_status"] == {"200": 3, "400": 1}
    assert stats["in_flight"] == {}
    emu.reset_stats()
    assert emu.stats()["total"] == 0
    status_ref = "20250514-EC-2DFC46C000-3AC6D5877F-D4"
    emu.api("GET", f"tokens/{status_ref}", headers=login.headers)
    assert emu.stats()["operations"] == {"GET /tokens/{referenceNumber}": 1}


def test_a_request_under_way_is_counted_in_flight_until_answered(emulator_factory):
    emu = emulator_factory()
    emu.admin("PUT", "faults", json={"slow_rate": 1, "slow_seconds": 3, "operations": ["POST /auth/challenge"]})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(emu.api, "POST", "auth/challenge")
        deadline = time.monotonic() + 20
        while emu.stats()["in_flight"] != {"POST /auth/challenge": 1}:
            assert time.monotonic() < deadline, emu.stats()
            time.sleep(0.05)
        assert emu.stats()["total"] == 0 and not pending.done()  # received, not answered
        emu.admin("DELETE", "faults").raise_for_status()  # later requests are fast again; this one still sleeps
        assert pending.result(60).status_code == 200
    assert emu.stats()["in_flight"] == {} and emu.stats()["total"] == 1


def test_faults_errors_drops_and_slow_answers(emulator_factory):
    emu = emulator_factory()
    r = emu.admin("PUT", "faults", json={"error_rate": 1, "operations": ["POST /auth/challenge"], "seed": 1})
    assert r.status_code == 200 and r.json()["error_rate"] == 1
    failed = emu.api("POST", "auth/challenge")
    assert failed.status_code == 500 and "exception" in failed.json()
    problem = emu.api("POST", "auth/challenge", headers={"X-Error-Format": "problem-details"})
    assert problem.status_code == 500 and problem.headers["content-type"].startswith("application/problem+json")
    assert emu.api("GET", "security/public-key-certificates").status_code == 200  # not in the filter
    emu.admin("PUT", "faults", json={"drop_rate": 1, "seed": 2}).raise_for_status()
    with pytest.raises(httpx.RemoteProtocolError):
        emu.api("POST", "auth/challenge")
    emu.admin("PUT", "faults", json={"slow_rate": 1, "slow_seconds": 0.5}).raise_for_status()
    r = emu.api("POST", "auth/challenge")
    assert r.status_code == 200 and r.elapsed.total_seconds() >= 0.5
    assert emu.admin("DELETE", "faults").json()["slow_rate"] == 0
    assert emu.admin("GET", "faults").json()["drop_rate"] == 0
    assert emu.admin("PUT", "faults", json={"error_rate": 2}).status_code == 400
    assert emu.stats()["by_status"].get("dropped") == 1


def test_error_rate_is_reproducible_with_seed(emulator_factory):
    emu = emulator_factory("--rate-limits", "off")

    def run():
        emu.admin("PUT", "faults", json={"error_rate": 0.5, "seed": 42}).raise_for_status()
        return [emu.api("POST", "auth/challenge").status_code for _attempt in range(20)]

    first = run()
    assert first == run() and 500 in first and 200 in first


def test_config_changes_at_runtime(emulator_factory, client_for, fresh_nip):
    emu = emulator_factory("--rate-limits", "off")
    r = emu.admin("PUT", "config", json={"rate_limits": "prd", "activation_delay": 0, "access_token_ttl": 60})
    assert r.status_code == 200
    assert r.json()["rate_limits"] == "prd" and r.json()["access_token_ttl"] == 60
    statuses = [emu.api("GET", "auth/sessions").status_code for _attempt in range(35)]
    assert statuses[0] == 401 and 429 in statuses  # 30 per minute in production, counted before authentication
    emu.admin("PUT", "config", json={"rate_limits": "off"}).raise_for_status()
    emu.admin("POST", "rate-limits/reset").raise_for_status()
    assert emu.api("GET", "auth/sessions").status_code == 401
    assert emu.admin("PUT", "config", json={"bogus": 1}).status_code == 400


def test_control_token_listing_and_seed_validation(emulator_factory, client_for, fresh_nip):
    emu = emulator_factory()
    ksef, nip = client_for(emu), fresh_nip()
    ref, value = ksef.seed_token(nip, ["InvoiceRead"], author="Pesel:80010112345", status="Pending")
    listed = emu.admin("GET", "tokens", params={"context": f"Nip:{nip}"}).json()["tokens"]
    assert [t["referenceNumber"] for t in listed] == [ref]
    assert listed[0]["authorIdentifier"] == {"type": "Pesel", "value": "80010112345"}
    assert value not in emu.admin("GET", "tokens").text
    assert emu.admin("POST", "tokens", json={"context": f"Nip:{nip}", "permissions": ["Nope"]}).status_code == 400
    assert emu.admin("POST", "tokens", json={"context": "Regon:1", "permissions": ["InvoiceRead"]}).status_code == 400


def test_secrets_endpoint_needs_the_option(emulator_factory, client_for, fresh_nip):
    plain = emulator_factory()
    assert plain.admin("GET", "secrets").status_code == 404
    emu = emulator_factory("--expose-secrets")
    ksef, nip = client_for(emu), fresh_nip()
    _reference, value = ksef.seed_token(nip)
    login = ksef.login(value, nip)
    secrets = emu.admin("GET", "secrets").json()
    assert value in secrets["ksef_tokens"]
    assert login.access_token in secrets["access_tokens"] and login.refresh_token in secrets["refresh_tokens"]
    assert len(secrets["authentication_tokens"]) == 1


def test_log_has_one_line_per_request_and_no_secret(emulator_factory, client_for, fresh_nip, tmp_path):
    log_file = tmp_path / "requests.log"
    emu = emulator_factory("--expose-secrets", "--log-file", str(log_file))
    ksef, nip = client_for(emu), fresh_nip()
    login = ksef.owner_login(nip)
    emu.api("POST", "tokens", headers=login.headers, json={"permissions": ["InvoiceRead"], "description": "Do logu"})
    emu.api("GET", "tokens", headers=login.headers)
    secrets = emu.admin("GET", "secrets").json()
    emu.stop()
    lines = log_file.read_text().splitlines()
    api_lines = [line for line in lines if " /v2/" in line]
    assert any(f"GET /v2/tokens 200 Nip:{nip} " in line for line in api_lines)
    assert any("POST /v2/tokens 202" in line for line in api_lines)
    assert len(lines) == emu_requests(lines)
    text = log_file.read_text()
    for values in secrets.values():
        for secret in values:
            assert secret not in text
            assert secret.rsplit("|", 1)[-1] not in text


def emu_requests(lines: list[str]) -> int:
    """Every line is a request line: method, path, status, context, duration."""
    return sum(1 for line in lines if line.split()[2] in {"GET", "POST", "PUT", "DELETE"} and line.endswith("ms"))
