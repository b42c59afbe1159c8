"""Authentication and the HTTP layer against the emulator over real HTTP: XAdES and KSeF-token login,
the 21470 key-rotation retry, failure details, session closing, retries on dropped connections."""
import json
import random
from pathlib import Path

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._api import KsefApi
from ansible_collections.ksef.credentials.plugins.module_utils._auth import Authenticator, verify_ksef_token
from ansible_collections.ksef.credentials.plugins.module_utils._connection import KsefContext
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefAmbiguousError, KsefAuthError
from ansible_collections.ksef.credentials.plugins.module_utils._http import KsefHttp

pytestmark = pytest.mark.integration

PLAYBOOKS = Path(__file__).parent / "playbooks" / "auth"


def random_nip():
    from ksef_emulator.testcerts import random_nip as draw
    return draw()


def seed_token(emulator, nip, permissions=("CredentialsRead", "CredentialsManage"), status="Active"):
    response = emulator.admin("POST", "tokens", json={
        "context": f"Nip:{nip}", "permissions": list(permissions), "description": "ansible admin token",
        "author": f"Nip:{nip}", "status": status})
    response.raise_for_status()
    return response.json()


def open_with_playbook(run_playbook, emulator, tmp_path, nip, auth):
    tokens_file = tmp_path / "tokens.json"
    run_playbook(PLAYBOOKS / "session_open.yml", {"api_url": emulator.api_url, "context": {"nip": nip},
                                                  "auth": auth, "tokens_file": str(tokens_file)})
    return json.loads(tokens_file.read_text())


@pytest.mark.parametrize("bundle", ["pem", "pkcs12"])
def test_xades_login_with_a_self_signed_certificate(emulator, run_playbook, tmp_path, bundle):
    from ksef_emulator.testcerts import generate_certificate

    nip = random_nip()
    files = generate_certificate(tmp_path, nip=nip, kind="person", passphrase="correct horse battery")
    if bundle == "pem":
        auth = {"certificate": str(files.cert_path), "private_key": str(files.key_path),
                "private_key_passphrase": "correct horse battery"}
    else:
        auth = {"pkcs12": str(files.pkcs12_path), "pkcs12_passphrase": "correct horse battery"}
    emulator.reset_stats()
    got = open_with_playbook(run_playbook, emulator, tmp_path, nip, auth)
    assert got["access_token"] and got["api_calls"]["POST /auth/xades-signature"] == 1
    assert "POST /auth/ksef-token" not in got["api_calls"]
    # the session really works for this context
    listed = emulator.api("GET", "tokens", headers={"Authorization": f"Bearer {got['access_token']}"})
    assert listed.status_code == 200


def test_xades_wrong_passphrase_names_the_option(emulator, run_playbook, tmp_path):
    from ksef_emulator.testcerts import generate_certificate

    nip = random_nip()
    files = generate_certificate(tmp_path, nip=nip, kind="person", passphrase="correct horse battery")
    emulator.reset_stats()
    result = run_playbook(PLAYBOOKS / "session_login_only.yml", {
        "api_url": emulator.api_url, "context": {"nip": nip},
        "auth": {"certificate": str(files.cert_path), "private_key": str(files.key_path),
                 "private_key_passphrase": "wrong passphrase here"}}, expect_rc=2)
    failed = result.task("Log in")
    assert failed["option"].startswith("auth.private_key"), failed
    assert emulator.stats()["total"] == 0


def test_a_certificate_of_another_nip_is_refused_before_any_request_unless_it_acts_on_behalf(
        emulator, run_playbook, tmp_path):
    from ksef_emulator.testcerts import generate_certificate

    office, client = random_nip(), random_nip()
    seal = generate_certificate(tmp_path, nip=office, kind="seal")
    auth = {"certificate": str(seal.cert_path), "private_key": str(seal.key_path)}
    login = {"api_url": emulator.api_url, "context": {"nip": client}, "auth": auth}
    emulator.reset_stats()
    refused = run_playbook(PLAYBOOKS / "session_login_only.yml", login, expect_rc=2).task("Log in")
    assert refused["option"] == "auth.certificate" and emulator.stats()["total"] == 0
    assert f"the certificate is NIP {office}'s (seal), but the context is Nip:{client}" in refused["msg"]
    assert "set context.nip to the certificate's NIP" in refused["msg"] and "auth.on_behalf: true" in refused["msg"]

    # An accounting office acting for a client says so; until the client grants it a permission, KSeF's 415
    # (in Polish) comes with what to do.
    on_behalf = dict(login, auth=dict(auth, on_behalf=True))
    denied = run_playbook(PLAYBOOKS / "session_login_only.yml", on_behalf, expect_rc=2).task("Log in")
    assert denied["status"] == 415 and "Brak przypisanych uprawnień" in denied["msg"]
    assert "holds no permission in this context" in denied["msg"] and "grant it a permission" in denied["msg"]
    grant = {"contextIdentifier": {"type": "Nip", "value": client},
             "authorizedIdentifier": {"type": "Nip", "value": office},
             "permissions": [{"permissionType": "CredentialsRead", "description": "Biuro rachunkowe"}]}
    emulator.api("POST", "testdata/permissions", json=grant).raise_for_status()
    run_playbook(PLAYBOOKS / "session_login_only.yml", on_behalf)


def test_wrong_token_fails_with_the_450_details(emulator, run_playbook):
    nip = random_nip()
    seeded = seed_token(emulator, nip)
    wrong = seeded["token"][:-8] + "00000000"
    result = run_playbook(PLAYBOOKS / "session_login_only.yml", {
        "api_url": emulator.api_url, "context": {"nip": nip}, "auth": {"ksef_token": wrong}}, expect_rc=2)
    failed = result.task("Log in")
    assert failed["status"] == 450 and failed["details"], failed
    assert "failed: 450" in failed["msg"] and failed["details"][0] in failed["msg"]
    assert wrong not in result.stdout and seeded["token"] not in result.stdout


def test_revoked_token_fails_with_its_reason(emulator, run_playbook):
    nip = random_nip()
    seeded = seed_token(emulator, nip, status="Revoked")
    result = run_playbook(PLAYBOOKS / "session_login_only.yml", {
        "api_url": emulator.api_url, "context": {"nip": nip}, "auth": {"ksef_token": seeded["token"]}}, expect_rc=2)
    failed = result.task("Log in")
    assert failed["status"] == 450 and failed["details"]


def test_emergency_key_rotation_is_retried_once_with_fresh_keys(emulator):
    nip = random_nip()
    seeded = seed_token(emulator, nip)
    context = KsefContext("Nip", nip)
    with KsefHttp(emulator.api_url) as http:
        auth = Authenticator(http)
        auth.login_with_ksef_token(context, seeded["token"]).close()  # caches the current keys
        rotated = emulator.admin("POST", "keys/rotate", json={"mode": "emergency"})
        assert rotated.status_code == 200
        emulator.reset_stats()
        session = auth.login_with_ksef_token(context, seeded["token"])  # the cached key is gone now
        session.close()
    ops = emulator.stats()["operations"]
    assert ops["POST /auth/ksef-token"] == 2 and ops["GET /security/public-key-certificates"] == 1
    assert emulator.stats()["by_status"].get("400") == 1


def test_verify_ksef_token_closes_its_session(emulator):
    nip = random_nip()
    admin = seed_token(emulator, nip)
    checked = seed_token(emulator, nip, permissions=("InvoiceRead",))
    context = KsefContext("Nip", nip)
    with KsefHttp(emulator.api_url) as http:
        watcher = Authenticator(http).login_with_ksef_token(context, admin["token"])
        api = KsefApi(http, watcher)
        before = {s["referenceNumber"] for s in api.list_sessions()}
        verify_ksef_token(http, context, checked["token"])
        after = {s["referenceNumber"] for s in api.list_sessions()}
        assert after == before  # the verification session was opened and closed again
        with pytest.raises(KsefAuthError):
            verify_ksef_token(http, context, checked["token"][:-4] + "0000")
        watcher.close()


def test_token_module_closes_the_session_it_opened(emulator, run_playbook):
    nip = random_nip()
    admin = seed_token(emulator, nip)
    emulator.reset_stats()
    run_playbook(f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Read state in check mode
      ksef.credentials.token:
        api_url: {emulator.api_url}
        context: {{nip: "{nip}"}}
        auth: {{ksef_token: "{admin['token']}"}}
        name: session-close-check
        permissions: [InvoiceRead]
      check_mode: true
""")
    ops = emulator.stats()["operations"]
    assert ops["POST /auth/token/redeem"] == 1 and ops["DELETE /auth/sessions/current"] == 1
    with KsefHttp(emulator.api_url) as http:
        watcher = Authenticator(http).login_with_ksef_token(KsefContext("Nip", nip), admin["token"])
        sessions = KsefApi(http, watcher).list_sessions()
        watcher.close()
    assert [s["referenceNumber"] for s in sessions] == [watcher.reference_number]


def _seed_with_drops(first_drops, rate=0.5):
    """A fault seed whose first `first_drops` rolls drop and the next does not."""
    for seed in range(10000):
        rng = random.Random(seed)
        rolls = [rng.random() for _attempt in range(first_drops + 1)]
        if all(r < rate for r in rolls[:-1]) and rolls[-1] >= rate:
            return seed
    raise AssertionError("no seed found")


def test_dropped_connections_are_retried_for_reads_and_never_for_create(emulator):
    nip = random_nip()
    admin = seed_token(emulator, nip)
    with KsefHttp(emulator.api_url, backoff_base=0.05) as http:
        session = Authenticator(http).login_with_ksef_token(KsefContext("Nip", nip), admin["token"])
        api = KsefApi(http, session)
        emulator.admin("PUT", "faults", json={"drop_rate": 0.5, "operations": ["GET /tokens"],
                                              "seed": _seed_with_drops(2)}).raise_for_status()
        try:
            emulator.reset_stats()
            assert admin["referenceNumber"] in [t["referenceNumber"] for t in api.list_tokens()]
            assert http.calls["GET /tokens"] == 3
            emulator.admin("PUT", "faults", json={"drop_rate": 1.0, "operations": ["POST /tokens"]}).raise_for_status()
            with pytest.raises(KsefAmbiguousError):
                api.create_token(["InvoiceRead"], "never twice please")
            assert http.calls["POST /tokens"] == 1
        finally:
            emulator.admin("DELETE", "faults")
        # Reconcile by reading: the dropped create left nothing behind.
        assert not [t for t in api.list_tokens() if t["description"] == "never twice please"]
        session.close()
