"""TLS: verification is on by default, ca_path trusts a private CA, plain http only to loopback or on request."""
from __future__ import annotations

from pathlib import Path

import pytest
from ksef_emulator.testcerts import random_nip

from tests.security.tls import make_ca_and_server_cert, start_https_emulator

pytestmark = pytest.mark.integration

PLAYBOOK = Path(__file__).parent / "playbooks" / "token.yml"
TASK = "Declare the token"


@pytest.fixture
def https_emulator(tmp_path):
    files = make_ca_and_server_cert(tmp_path / "tls")
    emulator = start_https_emulator(tmp_path / "https-emulator", files, "--activation-delay", "0.2")
    yield emulator
    emulator.stop()


def _seed_manager(emulator, nip: str) -> str:
    seeded = emulator.admin("POST", "tokens", json={"context": f"Nip:{nip}",
                                                    "permissions": ["CredentialsManage", "CredentialsRead"]})
    seeded.raise_for_status()
    return seeded.json()["token"]


def _vars(emulator, nip, token, **extra) -> dict:
    return {"api_url": emulator.api_url, "context": {"nip": nip}, "auth": {"ksef_token": token},
            "permissions": ["CredentialsRead"], **extra}


def test_a_self_signed_https_api_is_refused_by_default(https_emulator, run_playbook):
    nip = random_nip()
    token = _seed_manager(https_emulator, nip)
    https_emulator.reset_stats()
    result = run_playbook(PLAYBOOK, _vars(https_emulator, nip, token), expect_rc=2)
    msg = result.task(TASK)["msg"]
    assert "CERTIFICATE_VERIFY_FAILED" in msg and "ca_path" in msg, msg
    assert "attempt" not in msg, "a refused certificate is not retried"
    assert https_emulator.stats()["total"] == 0, "no request may complete over an unverified connection"
    assert token.rsplit("|", 1)[1] not in result.stdout + result.stderr


def test_ca_path_trusts_a_private_ca(https_emulator, run_playbook, tmp_path):
    nip = random_nip()
    token = _seed_manager(https_emulator, nip)
    store = tmp_path / "erp.token"
    result = run_playbook(PLAYBOOK, _vars(https_emulator, nip, token, ca_path=str(https_emulator.ca_cert),
                                          stores=[{"type": "file", "path": str(store)}]))
    declared = result.task(TASK)
    assert declared["changed"] is True and declared["status"] == "Active"
    assert https_emulator.stats()["operations"]["POST /tokens"] == 1
    assert store.read_text().startswith(declared["reference_number"] + "|")


def test_a_ca_path_that_does_not_exist_is_refused_before_any_call(https_emulator, run_playbook, tmp_path):
    https_emulator.reset_stats()
    result = run_playbook(PLAYBOOK, _vars(https_emulator, random_nip(), "x" * 20,
                                          ca_path=str(tmp_path / "missing-ca.pem")), expect_rc=2)
    assert result.task(TASK)["option"] == "ca_path"
    assert https_emulator.stats()["total"] == 0


def test_plain_http_to_a_non_loopback_host_needs_allow_insecure_http(run_playbook):
    """Refused before any connection or DNS lookup: the host is under .invalid and no request is counted."""
    api_url = "http://ksef-api.invalid:8080/v2"
    refused = run_playbook(PLAYBOOK, {"api_url": api_url, "context": {"nip": random_nip()},
                                      "auth": {"ksef_token": "x" * 40}, "permissions": ["CredentialsRead"]},
                           expect_rc=2).task(TASK)
    assert refused["option"] == "api_url"
    assert "allow_insecure_http" in refused["msg"] and "ksef-api.invalid" in refused["msg"]
    assert refused["api_calls"] == {}


def test_allow_insecure_http_lifts_the_refusal_for_a_non_loopback_host():
    """The settings a module would use, built without any network access."""
    from ansible_collections.ksef.credentials.plugins.module_utils._connection import resolve_connection
    from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError

    with pytest.raises(KsefConfigError) as refused:
        resolve_connection({"api_url": "http://ksef-api.invalid:8080/v2"})
    assert refused.value.option == "api_url"
    allowed = resolve_connection({"api_url": "http://ksef-api.invalid:8080/v2", "allow_insecure_http": True})
    assert allowed.base_url == "http://ksef-api.invalid:8080/v2"
