"""The emulator refuses a non-loopback bind unless told, and then guards its control API with a token."""
from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from ksef_emulator.__main__ import parse_args
from ksef_emulator.app import build_app
from ksef_emulator.settings import Settings


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "ksef-emulator.invalid"])
def test_a_non_loopback_address_is_refused_without_allow_remote(host, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        parse_args(["--host", host, "--state-dir", str(tmp_path)])
    assert stop.value.code == 2 and "refusing to listen on " + host in capsys.readouterr().err


def test_allow_remote_needs_an_admin_token(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KSEF_EMULATOR_ADMIN_TOKEN", raising=False)
    with pytest.raises(SystemExit):
        parse_args(["--host", "0.0.0.0", "--allow-remote", "--state-dir", str(tmp_path)])
    assert "--allow-remote needs --admin-token" in capsys.readouterr().err
    args = parse_args(["--host", "0.0.0.0", "--allow-remote", "--admin-token", "s3cret", "--state-dir", str(tmp_path)])
    assert args.admin_token == "s3cret"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_needs_nothing(host, tmp_path):
    assert parse_args(["--host", host, "--state-dir", str(tmp_path)]).admin_token in (None, "")


def test_with_an_admin_token_the_control_api_answers_only_to_it(tmp_path):
    app, _state = build_app(Settings(state_dir=tmp_path, admin_token="s3cret"))
    with TestClient(app) as client:
        refused = client.post("/_emulator/tokens", json={"context": "Nip:5265877635", "permissions": ["InvoiceRead"]})
        assert refused.status_code == 401 and "token" not in refused.json()  # nothing was minted
        assert client.get("/_emulator/health").status_code == 401
        assert client.get("/_emulator/health", headers={"X-Emulator-Admin-Token": "wrong"}).status_code == 401
        ok = client.get("/_emulator/health", headers={"X-Emulator-Admin-Token": "s3cret"})
        assert ok.status_code == 200
        assert client.post("/v2/auth/challenge").status_code == 200  # the KSeF API itself is not guarded
