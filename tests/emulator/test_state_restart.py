"""State in SQLite under --state-dir survives a restart; secrets are never stored in clear."""
from __future__ import annotations

import sqlite3


def test_tokens_keys_sessions_and_jwts_survive_restart(emulator_factory, client_for, fresh_nip):
    emu = emulator_factory("--activation-delay", "0")
    ksef, nip = client_for(emu), fresh_nip()
    login = ksef.owner_login(nip)
    created = emu.api("POST", "tokens", headers=login.headers,
                      json={"permissions": ["InvoiceRead"], "description": "Przetrwa restart"}).json()
    keys_before = emu.api("GET", "security/public-key-certificates").json()
    emu.restart()
    assert emu.api("GET", "security/public-key-certificates").json() == keys_before
    # the access token signed before the restart is still valid, the token list is intact
    r = emu.api("GET", f"tokens/{created['referenceNumber']}", headers=login.headers)
    assert r.status_code == 200 and r.json()["description"] == "Przetrwa restart"
    # refresh token and session too
    assert emu.api("POST", "auth/token/refresh",
                   headers={"Authorization": f"Bearer {login.refresh_token}"}).status_code == 200
    # the created token still authenticates after the restart
    assert ksef.token_auth_status(created["token"], nip)["status"]["code"] == 200


def test_state_file_holds_no_token_value(emulator_factory, client_for, fresh_nip):
    emu = emulator_factory()
    ksef, nip = client_for(emu), fresh_nip()
    _reference, value = ksef.seed_token(nip)
    login = ksef.login(value, nip)
    emu.stop()
    secret_part = value.rsplit("|", 1)[1]
    raw = b"".join(p.read_bytes() for p in emu.state_dir.iterdir() if p.is_file())
    assert secret_part.encode() not in raw
    assert login.access_token.encode() not in raw and login.refresh_token.encode() not in raw
    with sqlite3.connect(emu.state_dir / "emulator.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM ksef_tokens").fetchone()[0] == 1
