"""POST /auth/challenge: format, single use, 10-minute lifetime."""
from __future__ import annotations

import re
import time
from datetime import datetime

REFERENCE_RE = re.compile(r"^\d{8}-CR-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2}$")


def test_challenge_has_documented_shape(emulator):
    r = emulator.api("POST", "auth/challenge")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"challenge", "timestamp", "timestampMs", "clientIp"}
    assert REFERENCE_RE.match(body["challenge"])
    stamp = datetime.fromisoformat(body["timestamp"])
    assert stamp.utcoffset() is not None
    assert int(round(stamp.timestamp() * 1000)) == body["timestampMs"]
    assert abs(body["timestampMs"] / 1000 - time.time()) < 5
    assert body["clientIp"] == "127.0.0.1"
    assert emulator.api("POST", "auth/challenge").json()["challenge"] != body["challenge"]


def test_challenge_is_single_use(ksef, nip):
    _reference, value = ksef.seed_token(nip)
    challenge = ksef.challenge()
    cert = ksef.token_key()
    body = {"challenge": challenge["challenge"], "contextIdentifier": {"type": "Nip", "value": nip},
            "encryptedToken": ksef.encrypt(cert, f"{value}|{challenge['timestampMs']}".encode()),
            "publicKeyId": cert["publicKeyId"]}
    assert ksef.emu.api("POST", "auth/ksef-token", json=body).status_code == 202
    again = ksef.emu.api("POST", "auth/ksef-token", json=body)
    assert again.status_code == 400
    assert ksef.codes(again) == [21111]
    assert again.json()["exception"]["exceptionDetailList"][0]["exceptionDescription"] == \
        "Nieprawidłowe wyzwanie autoryzacyjne."


def test_unknown_challenge_is_21111(ksef, nip):
    cert = ksef.token_key()
    body = {"challenge": "20250514-CR-226FB7B000-3ACF9BE4C0-10", "contextIdentifier": {"type": "Nip", "value": nip},
            "encryptedToken": ksef.encrypt(cert, b"x|1")}
    r = ksef.emu.api("POST", "auth/ksef-token", json=body)
    assert r.status_code == 400 and ksef.codes(r) == [21111]


def test_challenge_expires_after_ten_minutes(emulator_factory, client_for, fresh_nip):
    emu = emulator_factory("--time-scale", "600")  # ten emulated minutes last one second
    ksef, nip = client_for(emu), fresh_nip()
    _reference, value = ksef.seed_token(nip)
    challenge = ksef.challenge()
    cert = ksef.token_key()
    time.sleep(1.3)
    body = {"challenge": challenge["challenge"], "contextIdentifier": {"type": "Nip", "value": nip},
            "encryptedToken": ksef.encrypt(cert, f"{value}|{challenge['timestampMs']}".encode())}
    r = emu.api("POST", "auth/ksef-token", json=body)
    assert r.status_code == 400 and ksef.codes(r) == [21111]
