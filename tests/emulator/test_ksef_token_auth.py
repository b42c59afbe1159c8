"""KSeF-token authentication: POST /auth/ksef-token, GET /auth/{ref}, redeem, refresh, JWT rules."""
from __future__ import annotations

import base64
import os
import re
import time

import jwt
import pytest

BAD_TOKEN = "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu"


def test_authentication_in_progress_answers_100_and_its_tokens_cannot_be_redeemed_yet(ksef, nip):
    _ref, value = ksef.seed_token(nip)
    with ksef.settings(auth_delay=3600):
        r = ksef.start_token_auth(value, nip)
    assert r.status_code == 202
    reference, auth_token = r.json()["referenceNumber"], r.json()["authenticationToken"]["token"]
    bearer = {"Authorization": f"Bearer {auth_token}"}
    status = ksef.emu.api("GET", f"auth/{reference}", headers=bearer)
    assert status.status_code == 200
    assert status.json()["status"] == {"code": 100, "description": "Uwierzytelnianie w toku"}
    redeem = ksef.emu.api("POST", "auth/token/redeem", headers=bearer)
    assert redeem.status_code == 400 and ksef.codes(redeem) == [21301]


def test_happy_path_succeeds_and_issues_tokens(ksef, nip):
    ref, value = ksef.seed_token(nip)
    r = ksef.start_token_auth(value, nip)
    assert r.status_code == 202
    body = r.json()
    assert re.match(r"^\d{8}-AU-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2}$", body["referenceNumber"])
    auth_token = body["authenticationToken"]["token"]
    claims = jwt.decode(auth_token, options={"verify_signature": False})
    assert claims["token-type"] == "OperationToken"
    assert claims["operation-reference-number"] == body["referenceNumber"]

    final = ksef.wait_status(body["referenceNumber"], auth_token)
    assert final["status"] == {"code": 200, "description": "Uwierzytelnianie zakończone sukcesem"}
    assert final["authenticationMethod"] == "Token"
    assert final["authenticationMethodInfo"]["category"] == "Token"

    r = ksef.emu.api("POST", "auth/token/redeem", headers={"Authorization": f"Bearer {auth_token}"})
    assert r.status_code == 200
    access = jwt.decode(r.json()["accessToken"]["token"], options={"verify_signature": False})
    refresh = jwt.decode(r.json()["refreshToken"]["token"], options={"verify_signature": False})
    assert access["token-type"] == "ContextToken" and refresh["token-type"] == "RefreshToken"
    assert access["context-identifier-type"] == "Nip" and access["context-identifier-value"] == nip
    assert access["authentication-method"] == "Token"
    assert access["exp"] - access["iat"] == pytest.approx(900, abs=2)
    # the token's lastUseDate records the authentication
    token = ksef.emu.api("GET", f"tokens/{ref}", headers={"Authorization": f"Bearer {r.json()['accessToken']['token']}"})
    assert token.status_code == 200 and token.json()["lastUseDate"] is not None


@pytest.mark.parametrize("case, detail", [
    ("wrong_timestamp", "Nieprawidłowy czas tokena"),
    ("ksef1_token", "Nieprawidłowy token"),
    ("garbage_plaintext", "Nieprawidłowy token"),
    ("bad_encryption", "Nieprawidłowy token"),
    ("unknown_secret", "Nieprawidłowy token"),
    ("other_context", "Nieprawidłowy token"),
    ("revoked_token", "Token unieważniony"),
    ("pending_token", "Token nieaktywny"),
    ("failed_token", "Token nieaktywny"),
])
def test_bad_token_is_accepted_then_ends_450(ksef, nip, fresh_nip, case, detail):
    _reference, value = ksef.seed_token(nip)
    kwargs = {}
    token_value = value
    if case == "wrong_timestamp":
        kwargs["timestamp_ms"] = int(time.time() * 1000) - 60_000
    elif case == "ksef1_token":
        token_value = os.urandom(32).hex().upper()
    elif case == "garbage_plaintext":
        kwargs["plaintext"] = os.urandom(64)
    elif case == "bad_encryption":
        kwargs["encrypted"] = base64.b64encode(os.urandom(256)).decode()
    elif case == "unknown_secret":
        token_value = value[:-64] + "0" * 64
    elif case == "other_context":
        other = fresh_nip()
        _reference, token_value = ksef.seed_token(other)
    elif case == "revoked_token":
        _reference, token_value = ksef.seed_token(nip, status="Revoked")
    elif case == "pending_token":
        with ksef.settings(activation_delay=3600):
            _reference, token_value = ksef.seed_token(nip, status="Pending")
    elif case == "failed_token":
        _reference, token_value = ksef.seed_token(nip, status="Failed")
    status = ksef.token_auth_status(token_value, nip, **kwargs)
    assert status["status"] == {"code": 450, "description": BAD_TOKEN, "details": [detail]}


def test_request_validation_is_21405(ksef, nip):
    challenge = ksef.challenge()
    body = {"challenge": challenge["challenge"], "contextIdentifier": {"type": "Nip", "value": nip}}
    r = ksef.emu.api("POST", "auth/ksef-token", json=body)
    assert r.status_code == 400 and ksef.codes(r) == [21405]
    body["encryptedToken"] = "not base64!"
    r = ksef.emu.api("POST", "auth/ksef-token", json=body)
    assert r.status_code == 400 and ksef.codes(r) == [21405]
    body["encryptedToken"] = "QUJD"
    body["contextIdentifier"] = {"type": "Regon", "value": nip}
    r = ksef.emu.api("POST", "auth/ksef-token", json=body)
    assert r.status_code == 400 and ksef.codes(r) == [21405]


def test_status_errors(ksef, nip):
    _reference, value = ksef.seed_token(nip)
    start = ksef.start_token_auth(value, nip).json()
    auth = {"Authorization": f"Bearer {start['authenticationToken']['token']}"}
    unknown = "20250514-AU-2DFC46C000-3AC6D5877F-D4"
    r = ksef.emu.api("GET", f"auth/{unknown}", headers=auth)
    assert r.status_code == 400 and ksef.codes(r) == [21304]
    assert ksef.details(r) == [f"Operacja uwierzytelniania o numerze referencyjnym {unknown} nie została znaleziona."]
    r = ksef.emu.api("GET", f"auth/{start['referenceNumber']}")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "Unauthorized" and r.json()["status"] == 401
    r = ksef.emu.api("GET", f"auth/{start['referenceNumber']}", headers={"Authorization": "Bearer abc.def.ghi"})
    assert r.status_code == 401


def test_redeem_only_once(ksef, nip):
    _reference, value = ksef.seed_token(nip)
    start = ksef.start_token_auth(value, nip).json()
    auth = {"Authorization": f"Bearer {start['authenticationToken']['token']}"}
    ksef.wait_status(start["referenceNumber"], start["authenticationToken"]["token"])
    assert ksef.emu.api("POST", "auth/token/redeem", headers=auth).status_code == 200
    again = ksef.emu.api("POST", "auth/token/redeem", headers=auth)
    assert again.status_code == 400 and ksef.codes(again) == [21301]
    assert ksef.details(again) == [f"Tokeny dla operacji uwierzytelniania {start['referenceNumber']} zostały już pobrane."]


def test_redeem_before_the_end_and_after_failure_is_refused(emulator_factory, client_for, fresh_nip):
    emu = emulator_factory("--auth-delay", "30")
    ksef, nip = client_for(emu), fresh_nip()
    _reference, value = ksef.seed_token(nip)
    start = ksef.start_token_auth(value, nip).json()
    r = emu.api("POST", "auth/token/redeem", headers={"Authorization": f"Bearer {start['authenticationToken']['token']}"})
    assert r.status_code == 400 and ksef.codes(r) == [21301]
    assert ksef.details(r) == ["Status uwierzytelniania (100) nie pozwala na pobranie tokenów."]


def test_redeem_after_450_is_refused(ksef, nip):
    _reference, value = ksef.seed_token(nip, status="Revoked")
    start = ksef.start_token_auth(value, nip).json()
    ksef.wait_status(start["referenceNumber"], start["authenticationToken"]["token"])
    r = ksef.emu.api("POST", "auth/token/redeem",
                     headers={"Authorization": f"Bearer {start['authenticationToken']['token']}"})
    assert r.status_code == 400 and ksef.details(r) == ["Status uwierzytelniania (450) nie pozwala na pobranie tokenów."]


def test_refresh_issues_new_access_token_and_token_kinds_do_not_mix(ksef, nip):
    login = ksef.owner_login(nip)
    r = ksef.emu.api("POST", "auth/token/refresh", headers={"Authorization": f"Bearer {login.refresh_token}"})
    assert r.status_code == 200
    new_access = r.json()["accessToken"]["token"]
    assert new_access != login.access_token
    assert ksef.emu.api("GET", "tokens", headers={"Authorization": f"Bearer {new_access}"}).status_code == 200
    # refresh token as access token, access token as refresh token, operation token as either
    assert ksef.emu.api("GET", "tokens", headers={"Authorization": f"Bearer {login.refresh_token}"}).status_code == 401
    r = ksef.emu.api("POST", "auth/token/refresh", headers={"Authorization": f"Bearer {login.access_token}"})
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")


def test_refresh_after_ksef_token_revoked_is_21301(ksef, nip):
    ref, value = ksef.seed_token(nip)
    login = ksef.login(value, nip)
    assert ksef.emu.api("DELETE", f"tokens/{ref}", headers=login.headers).status_code == 204
    r = ksef.emu.api("POST", "auth/token/refresh", headers={"Authorization": f"Bearer {login.refresh_token}"})
    assert r.status_code == 400 and ksef.codes(r) == [21301]
    assert ksef.details(r) == ["Token KSeF został unieważniony."]


def test_expired_access_token_is_401(emulator_factory, client_for, fresh_nip):
    emu = emulator_factory("--access-token-ttl", "1")
    ksef, nip = client_for(emu), fresh_nip()
    login = ksef.owner_login(nip)
    claims = jwt.decode(login.access_token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] < 2
    # Past the expiry the token itself states, however long the login took on a busy machine.
    time.sleep(max(0.0, claims["exp"] - time.time()) + 1.0)
    r = emu.api("GET", "tokens", headers=login.headers)
    assert r.status_code == 401
    body = r.json()
    assert {"title", "status", "detail", "timestamp"} <= set(body)
    # the refresh token still works and gives a fresh access token (long-lived now, so the next call is in time)
    emu.admin("PUT", "config", json={"access_token_ttl": 3600}).raise_for_status()
    r = emu.api("POST", "auth/token/refresh", headers={"Authorization": f"Bearer {login.refresh_token}"})
    assert r.status_code == 200
    assert emu.api("GET", "tokens", headers={"Authorization": f"Bearer {r.json()['accessToken']['token']}"}).status_code == 200


def test_forged_token_is_401(ksef, nip):
    login = ksef.owner_login(nip)
    claims = jwt.decode(login.access_token, options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-emulator-secret-" * 2, algorithm="HS256")
    assert ksef.emu.api("GET", "tokens", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_ip_policy_is_enforced_on_access_token(ksef, nip):
    _reference, value = ksef.seed_token(nip)
    login = ksef.login(value, nip, policy={"allowedIps": {"ip4Addresses": ["10.1.2.3"]}})
    r = ksef.emu.api("GET", "tokens", headers=login.headers)
    assert r.status_code == 403
    assert r.json()["reasonCode"] == "ip-not-allowed" and r.json()["security"] == {"clientIp": "127.0.0.1"}
    allowed = ksef.login(value, nip, policy={"allowedIps": {"ip4Masks": ["127.0.0.0/8"]}})
    assert ksef.emu.api("GET", "tokens", headers=allowed.headers).status_code == 200
