"""GET /security/public-key-certificates and key rotation (bezpieczenstwo/klucze-publiczne-do-szyfrowania.md)."""
from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives import serialization

KEY_21470 = "Przesłany identyfikator klucza jest nieznany lub wskazuje na wycofany klucz."


def b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_certificates_carry_documented_identifiers(emulator):
    r = emulator.api("GET", "security/public-key-certificates")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    certs = r.json()
    assert {u for c in certs for u in c["usage"]} == {"KsefTokenEncryption", "SymmetricKeyEncryption"}
    now = datetime.now(timezone.utc)
    for c in certs:
        der = base64.b64decode(c["certificate"])
        cert = x509.load_der_x509_certificate(der)
        spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        assert c["certificateId"] == b64sha(der)
        assert c["publicKeyId"] == b64sha(spki)
        assert len(c["publicKeyId"]) == 44
        assert cert.public_key().key_size == 2048
        valid_from, valid_to = datetime.fromisoformat(c["validFrom"]), datetime.fromisoformat(c["validTo"])
        assert valid_from.utcoffset() is not None
        assert valid_from <= now <= valid_to
        assert cert.not_valid_before_utc == valid_from


def test_planned_rotation_publishes_newer_key_and_keeps_old_accepted(emulator_factory, client_for, fresh_nip):
    emu = emulator_factory("--activation-delay", "0")
    ksef, nip = client_for(emu), fresh_nip()
    old = ksef.token_key()
    r = emu.admin("POST", "keys/rotate", json={"mode": "planned"})
    assert r.status_code == 200, r.text
    token_keys = [c for c in emu.api("GET", "security/public-key-certificates").json()
                  if "KsefTokenEncryption" in c["usage"]]
    assert len(token_keys) == 2
    new = ksef.token_key()
    assert new["publicKeyId"] != old["publicKeyId"]
    assert new["validFrom"] > old["validFrom"]
    _reference, value = ksef.seed_token(nip)
    # both the old and the new key still authenticate
    assert ksef.token_auth_status(value, nip, cert=old)["status"]["code"] == 200
    assert ksef.token_auth_status(value, nip, cert=new)["status"]["code"] == 200


def test_emergency_rotation_retires_old_key_with_21470(emulator_factory, client_for, fresh_nip):
    emu = emulator_factory()
    ksef, nip = client_for(emu), fresh_nip()
    old = ksef.token_key()
    emu.admin("POST", "keys/rotate", json={"mode": "emergency"}).raise_for_status()
    published = [c["publicKeyId"] for c in emu.api("GET", "security/public-key-certificates").json()]
    assert old["publicKeyId"] not in published
    _reference, value = ksef.seed_token(nip)
    r = ksef.start_token_auth(value, nip, cert=old)
    assert r.status_code == 400
    detail = r.json()["exception"]["exceptionDetailList"][0]
    assert detail["exceptionCode"] == 21470
    assert detail["exceptionDescription"] == KEY_21470
    assert detail["details"] == [f"Klucz o identyfikatorze {old['publicKeyId']} nie jest wspierany."]
    # problem-details flavour of the same error
    r = ksef.start_token_auth(value, nip, cert=old, headers={"X-Error-Format": "problem-details"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["code"] == 21470
    # the client's documented recovery: fetch the keys again and retry with the current one
    assert ksef.token_auth_status(value, nip)["status"]["code"] == 200


def test_encryption_with_old_key_but_no_key_id_fails_as_bad_token(emulator_factory, client_for, fresh_nip):
    emu = emulator_factory()
    ksef, nip = client_for(emu), fresh_nip()
    old = ksef.token_key()
    emu.admin("POST", "keys/rotate", json={"mode": "emergency"}).raise_for_status()
    _reference, value = ksef.seed_token(nip)
    status = ksef.token_auth_status(value, nip, cert=old, public_key_id=None)
    assert status["status"]["code"] == 450
    assert status["status"]["details"] == ["Nieprawidłowy token"]


def test_rotate_keys_option_retires_keys_published_before_restart(emulator_factory, client_for):
    emu = emulator_factory()
    before = {c["publicKeyId"] for c in emu.api("GET", "security/public-key-certificates").json()}
    emu.restart()
    assert {c["publicKeyId"] for c in emu.api("GET", "security/public-key-certificates").json()} == before
    emu.args.append("--rotate-keys")
    emu.restart()
    after = {c["publicKeyId"] for c in emu.api("GET", "security/public-key-certificates").json()}
    assert len(after) == 2 and not (after & before)
