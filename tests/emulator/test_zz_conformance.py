"""Every response the emulator sends matches the official OpenAPI contract.

(a) An emulator started with `--capture` is driven through a realistic sequence (login with a KSeF
token, token management, authentication sessions, errors in both formats, a 429) and the capture is
checked. (b) Every other `tests/output/capture-*.jsonl` written earlier in the run is checked too;
the file name makes this module run after the other emulator and integration tests.
"""
from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from ksef_emulator.conformance import ContractChecker, check_capture

pytestmark = pytest.mark.timeout(120)

NIP = "5265877635"
CONTEXT = {"type": "Nip", "value": NIP}
PROBLEM = {"X-Error-Format": "problem-details"}
OWN_CAPTURE = "capture-conformance-drive.jsonl"
UNKNOWN_REF = "20250101-EC-0000000000-0000000000-00"


def seed(emu, permissions: list[str], description: str) -> str:
    response = emu.admin("POST", "tokens", json={
        "context": f"Nip:{NIP}", "permissions": permissions, "description": description,
        "author": f"Nip:{NIP}", "status": "Active"})
    assert response.status_code in (200, 201), response.text
    return response.json()["token"]


def encrypt(client: httpx.Client, ksef_token: str, timestamp_ms: int) -> str:
    certificates = client.get("/security/public-key-certificates")
    assert certificates.status_code == 200, certificates.text
    der = next(c["certificate"] for c in certificates.json() if "KsefTokenEncryption" in c["usage"])
    public_key = x509.load_der_x509_certificate(base64.b64decode(der)).public_key()
    cipher = public_key.encrypt(f"{ksef_token}|{timestamp_ms}".encode(),
                                padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    return base64.b64encode(cipher).decode()


def login(client: httpx.Client, ksef_token: str) -> dict:
    """KSeF-token login through every step; returns the redeemed tokens and the operation reference."""
    challenge = client.post("/auth/challenge").json()
    started = client.post("/auth/ksef-token", json={
        "challenge": challenge["challenge"], "contextIdentifier": CONTEXT,
        "encryptedToken": encrypt(client, ksef_token, challenge["timestampMs"])})
    assert started.status_code == 202, started.text
    reference = started.json()["referenceNumber"]
    operation = bearer(started.json()["authenticationToken"]["token"])
    deadline = time.monotonic() + 10
    while True:
        status = client.get(f"/auth/{reference}", headers=operation)
        assert status.status_code == 200, status.text
        if status.json()["status"]["code"] != 100 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status.json()["status"]["code"] == 200, status.text
    redeemed = client.post("/auth/token/redeem", headers=operation)
    assert redeemed.status_code == 200, redeemed.text
    return {"reference": reference, "operation": operation, **redeemed.json()}


def bearer(token: str, extra: dict | None = None) -> dict:
    return {"Authorization": f"Bearer {token}", **(extra or {})}


def drive(emu) -> list[str]:
    """A day in the life of a client, good paths and bad, both error formats; returns the secrets seen."""
    manager = seed(emu, ["CredentialsManage", "CredentialsRead", "InvoiceRead", "InvoiceWrite"],
                   "conformance manager")
    reader = seed(emu, ["CredentialsRead"], "conformance reader")
    with httpx.Client(base_url=emu.api_url, timeout=15) as client:
        session = login(client, manager)
        access = bearer(session["accessToken"]["token"])

        refreshed = client.post("/auth/token/refresh", headers=bearer(session["refreshToken"]["token"]))
        assert refreshed.status_code == 200, refreshed.text
        access_token = refreshed.json()["accessToken"]["token"]
        access = bearer(access_token)

        created = client.post("/tokens", headers=access, json={
            "permissions": ["InvoiceRead", "InvoiceWrite"], "description": "conformance: erp integration"})
        assert created.status_code == 202, created.text
        reference = created.json()["referenceNumber"]
        assert client.get("/tokens", headers=access).status_code == 200
        assert client.get("/tokens", headers=access,
                          params={"status": ["Active", "Pending"], "pageSize": 10}).status_code == 200
        assert client.get(f"/tokens/{reference}", headers=access).status_code == 200

        listed = client.get("/auth/sessions", headers=access)
        assert listed.status_code == 200, listed.text

        # A second session, closed by reference from the first one.
        other = login(client, manager)
        assert client.delete(f"/auth/sessions/{other['reference']}", headers=access).status_code == 204

        # Errors: 400 in both formats, 401, 403.
        for extra in ({}, PROBLEM):
            short = client.post("/tokens", headers=bearer(access_token, extra),
                                json={"permissions": ["InvoiceRead"], "description": "x"})
            assert short.status_code == 400, short.text
            bad_challenge = client.post("/auth/ksef-token", headers=extra, json={
                "challenge": "20250101-CR-0000000000-0000000000-00", "contextIdentifier": CONTEXT,
                "encryptedToken": base64.b64encode(b"not a ciphertext").decode()})
            assert bad_challenge.status_code == 400, bad_challenge.text
            unknown = client.get(f"/tokens/{UNKNOWN_REF}", headers=bearer(access_token, extra))
            assert unknown.status_code in (400, 404), unknown.text
            assert client.get("/tokens", headers=extra).status_code == 401
            assert client.get("/tokens", headers={"Authorization": "Bearer not-a-jwt", **extra}).status_code == 401

        limited = login(client, reader)
        # CredentialsRead may look at the manager's token but not revoke it.
        forbidden = client.delete(f"/tokens/{reference}", headers=bearer(limited["accessToken"]["token"]))
        assert forbidden.status_code == 403, forbidden.text

        assert client.delete(f"/tokens/{reference}", headers=access).status_code == 204

        # 429 in both formats: a burst on GET /tokens (10/s in production), then honour Retry-After.
        for extra in ({}, PROBLEM):
            for _attempt in range(200):
                response = client.get("/tokens", headers=bearer(access_token, extra))
                if response.status_code == 429:
                    break
            assert response.status_code == 429, response.text
            time.sleep(int(response.headers["retry-after"]) + 0.05)

        # The session ends the way a well-behaved client ends it.
        assert client.delete("/auth/sessions/current", headers=access).status_code == 204

    secrets = [manager, reader, created.json()["token"], access_token]
    for done in (session, other, limited):
        secrets += [done["accessToken"]["token"], done["refreshToken"]["token"], done["operation"]["Authorization"][7:]]
    return secrets


def exchanges(capture: Path) -> list[dict]:
    return [json.loads(line) for line in capture.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_emulator_keeps_the_contract_on_a_realistic_sequence(emulator_factory, output_dir):
    capture = output_dir / OWN_CAPTURE
    capture.unlink(missing_ok=True)
    emu = emulator_factory("--capture", str(capture), "--rate-limits", "prd", "--time-scale", "60",
                           "--activation-delay", "0.2")
    secrets = drive(emu)
    emu.stop()

    assert capture.exists(), "the emulator wrote no capture: is --capture wired to CaptureMiddleware?"
    checker = ContractChecker.from_file()
    seen = set()
    for record in exchanges(capture):
        path = record["path"][len("/v2"):]
        template, _params = checker.match(record["method"], path)
        media = record["response_headers"].get("content-type", "").split(";")[0]
        seen.add((record["method"], template, record["status"], media))
    expected = {
        ("POST", "/auth/challenge", 200, "application/json"),
        ("GET", "/security/public-key-certificates", 200, "application/json"),
        ("POST", "/auth/ksef-token", 202, "application/json"),
        ("GET", "/auth/{referenceNumber}", 200, "application/json"),
        ("POST", "/auth/token/redeem", 200, "application/json"),
        ("POST", "/auth/token/refresh", 200, "application/json"),
        ("POST", "/tokens", 202, "application/json"),
        ("GET", "/tokens", 200, "application/json"),
        ("GET", "/tokens/{referenceNumber}", 200, "application/json"),
        ("DELETE", "/tokens/{referenceNumber}", 204, ""),
        ("GET", "/auth/sessions", 200, "application/json"),
        ("DELETE", "/auth/sessions/{referenceNumber}", 204, ""),
        ("DELETE", "/auth/sessions/current", 204, ""),
        ("POST", "/tokens", 400, "application/json"),
        ("POST", "/tokens", 400, "application/problem+json"),
        ("POST", "/auth/ksef-token", 400, "application/json"),
        ("POST", "/auth/ksef-token", 400, "application/problem+json"),
        ("GET", "/tokens", 401, "application/problem+json"),
        ("DELETE", "/tokens/{referenceNumber}", 403, "application/problem+json"),
        ("GET", "/tokens", 429, "application/json"),
        ("GET", "/tokens", 429, "application/problem+json"),
    }
    assert expected <= seen, f"not exercised: {sorted(expected - seen)}"

    text = capture.read_text(encoding="utf-8")
    leaked = [s[:12] + "..." for s in secrets if s.rsplit("|", 1)[-1] in text]
    assert leaked == [], f"secrets written to the capture: {leaked}"

    problems = check_capture(capture)
    assert problems == [], "\n".join(problems[:50])


def test_the_check_fails_on_a_corrupted_copy_of_a_real_capture(tmp_path, output_dir):
    """The same real exchanges, each broken once: every break is reported."""
    capture = output_dir / OWN_CAPTURE
    if not capture.exists():
        pytest.skip("needs the capture of the realistic sequence")
    records = exchanges(capture)
    created = next(r for r in records if r["method"] == "POST" and r["status"] == 202 and r["path"] == "/v2/tokens")
    limited = next(r for r in records if r["status"] == 429)
    listed = next(r for r in records if r["method"] == "GET" and r["path"] == "/v2/tokens" and r["status"] == 200)
    del created["body"]["token"]
    del limited["response_headers"]["retry-after"]
    listed["status"] = 201
    broken = tmp_path / "capture-broken.jsonl"
    broken.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    problems = check_capture(broken)
    assert len(problems) == 3, problems
    assert any("'token' is a required property" in p for p in problems)
    assert any("Retry-After is missing" in p for p in problems)
    assert any("status 201 is not documented" in p for p in problems)


def test_every_capture_written_by_the_suite_keeps_the_contract(output_dir):
    captures = sorted(p for p in output_dir.glob("capture-*.jsonl") if p.name != OWN_CAPTURE)
    if not captures:
        # make test asks for the captures of its own run: none there means the check would prove nothing.
        assert os.environ.get("KSEF_REQUIRE_CAPTURES") != "1", "no capture of the run in tests/output to check"
        pytest.skip("no other capture in tests/output (run with the rest of the suite)")
    checker = ContractChecker.from_file()
    problems, count = [], 0
    for capture in captures:
        count += len(exchanges(capture))
        problems += checker.check_file(capture)
    assert problems == [], f"{len(problems)} problems in {count} exchanges:\n" + "\n".join(problems[:50])
