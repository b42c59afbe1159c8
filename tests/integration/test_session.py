"""ksef.credentials.session through real playbooks against the emulator over HTTP."""
import json
import time
from pathlib import Path

import jwt
import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._api import KsefApi
from ansible_collections.ksef.credentials.plugins.module_utils._auth import KsefSession
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


def read_tokens(path):
    return json.loads(Path(path).read_text())


def test_session_round_trip_returns_tokens_hidden_and_closes(emulator, run_playbook, tmp_path):
    nip = random_nip()
    seeded = seed_token(emulator, nip)
    tokens_file = tmp_path / "tokens.json"
    emulator.reset_stats()
    result = run_playbook(PLAYBOOKS / "session_roundtrip.yml", {
        "api_url": emulator.api_url, "nip": nip, "auth": {"ksef_token": seeded["token"]},
        "tokens_file": str(tokens_file)}, verbosity=2)

    got = read_tokens(tokens_file)
    assert got["changed"] is True and got["reference_number"]
    assert got["access_token"] and got["refresh_token"] and got["access_token_valid_until"].endswith("Z")
    assert got["api_calls"]["POST /auth/token/redeem"] == 1
    facts = result.task("Session facts without secrets")["msg"]
    assert facts["has_access"] and facts["has_refresh"] and facts["reference_number"] == got["reference_number"]
    closed = result.task("Close the session")
    assert closed["changed"] is True and closed["api_calls"] == {"DELETE /auth/sessions/current": 1}
    # Nothing secret reaches the output, even at -vv.
    for secret in (seeded["token"], got["access_token"], got["refresh_token"]):
        assert secret not in result.stdout and secret not in result.stderr
    # The refresh token of a closed session no longer works.
    refused = emulator.api("POST", "auth/token/refresh", headers={"Authorization": f"Bearer {got['refresh_token']}"})
    assert refused.status_code in (400, 401)
    stats = emulator.stats()["operations"]
    assert stats["POST /auth/challenge"] == 1 and stats["DELETE /auth/sessions/current"] == 1


def test_access_token_reuse_makes_no_new_login(emulator, run_playbook, tmp_path):
    nip = random_nip()
    seeded = seed_token(emulator, nip)
    tokens_file = tmp_path / "tokens.json"
    run_playbook(PLAYBOOKS / "session_open.yml", {"api_url": emulator.api_url, "context": {"nip": nip},
                                                  "auth": {"ksef_token": seeded["token"]},
                                                  "tokens_file": str(tokens_file)})
    got = read_tokens(tokens_file)
    emulator.reset_stats()
    with KsefHttp(emulator.api_url) as http:
        api = KsefApi(http, KsefSession(http, access_token=got["access_token"], refresh_token=got["refresh_token"]))
        tokens = api.list_tokens()
        sessions = api.list_sessions()
    assert seeded["referenceNumber"] in [t["referenceNumber"] for t in tokens]
    assert got["reference_number"] in [s["referenceNumber"] for s in sessions]
    assert set(emulator.stats()["operations"]) == {"GET /tokens", "GET /auth/sessions"}

    # state: absent with only the refresh token closes it too.
    result = run_playbook(f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Close by refresh token
      ksef.credentials.session:
        api_url: {emulator.api_url}
        context: {{nip: "{nip}"}}
        auth: {{refresh_token: "{got['refresh_token']}"}}
        state: absent
""")
    assert result.task("Close by refresh token")["changed"] is True
    assert got["refresh_token"] not in result.stdout


def test_refresh_after_expiry(emulator_factory, run_playbook, tmp_path):
    emu = emulator_factory("--access-token-ttl", "2", "--activation-delay", "0")
    nip = random_nip()
    seeded = seed_token(emu, nip)
    tokens_file = tmp_path / "tokens.json"
    run_playbook(PLAYBOOKS / "session_open.yml", {"api_url": emu.api_url, "context": {"nip": nip},
                                                  "auth": {"ksef_token": seeded["token"]},
                                                  "tokens_file": str(tokens_file)})
    got = read_tokens(tokens_file)
    expires = jwt.decode(got["access_token"], options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires - time.time()) + 1.0)  # past the expiry the token states, however slow the run
    # Tokens refreshed from now on live long: each check below needs exactly one refresh, not a race with expiry.
    emu.admin("PUT", "config", json={"access_token_ttl": 3600}).raise_for_status()
    emu.reset_stats()
    with KsefHttp(emu.api_url) as http:
        # Expiry read from the JWT/validUntil: refreshed before the call.
        session = KsefSession(http, access_token=got["access_token"], refresh_token=got["refresh_token"])
        KsefApi(http, session).list_tokens()
        assert session.refreshed == 1
        # Expiry unknown to the client (it is told the expired token lives on): the 401 triggers one refresh and
        # a retry.
        blind = KsefSession(http, access_token=got["access_token"], refresh_token=got["refresh_token"],
                            access_expires=time.time() + 3600)
        KsefApi(http, blind).list_tokens()
        assert blind.refreshed == 1
    ops = emu.stats()["operations"]
    assert ops["POST /auth/token/refresh"] == 2 and ops["GET /tokens"] == 3  # one refused with 401

    # Without a refresh token an expired access token is a clear failure before any call.
    result = run_playbook(f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Close with an expired access token only
      ksef.credentials.session:
        api_url: {emu.api_url}
        context: {{nip: "{nip}"}}
        auth: {{access_token: "{got['access_token']}"}}
        state: absent
""")
    closing = result.task("Close with an expired access token only")
    assert got["access_token"] not in result.stdout
    # KSeF refuses the expired access token with 401: nothing left to close, reported as unchanged.
    assert result.rc == 0 and closing["changed"] is False and "already closed or its tokens expired" in closing["msg"]


def test_nip_checksum_failure_makes_no_api_call(emulator, run_playbook):
    emulator.reset_stats()
    result = run_playbook(PLAYBOOKS / "session_login_only.yml", {
        "api_url": emulator.api_url, "context": {"nip": "5265877636"}, "auth": {"ksef_token": "whatever-token"}},
        expect_rc=2)
    failed = result.task("Log in")
    assert failed["option"] == "context.nip" and "check digit" in failed["msg"]
    assert failed["api_calls"] == {}
    assert emulator.stats()["total"] == 0


def test_conflicting_auth_options_fail_before_any_call(emulator, run_playbook):
    emulator.reset_stats()
    result = run_playbook(PLAYBOOKS / "session_login_only.yml", {
        "api_url": emulator.api_url, "context": {"nip": "5265877635"},
        "auth": {"ksef_token": "not-a-real-ksef-token", "access_token": "not-a-real-access-token"}}, expect_rc=2)
    assert "auth.ksef_token, auth.access_token" in result.task("Log in")["msg"]
    assert emulator.stats()["total"] == 0


def test_plain_http_to_a_remote_host_is_refused(run_playbook):
    result = run_playbook(PLAYBOOKS / "session_login_only.yml", {
        "api_url": "http://ksef.example.invalid/v2", "context": {"nip": "5265877635"},
        "auth": {"ksef_token": "not-a-real-ksef-token"}}, expect_rc=2)
    failed = result.task("Log in")
    assert failed["option"] == "api_url" and "allow_insecure_http" in failed["msg"]


def test_a_close_pacing_would_hold_past_max_retry_wait_is_left_to_expire_and_a_paced_read_fails_at_once(
        emulator_factory, run_playbook, tmp_path):
    """The shared pacing state of two contexts as many runs leave it: in one, the production hour of session closes
    (120) is used up; in the other, the hour of GET /tokens. Nothing waits for the hour: the closes are left to
    expire with a warning, the read fails at once naming what decides, and the sessions left open do expire."""
    from ansible_collections.ksef.credentials.plugins.module_utils._auth import Authenticator
    from ansible_collections.ksef.credentials.plugins.module_utils._connection import KsefContext
    from ansible_collections.ksef.credentials.plugins.module_utils._ratelimit import state_path
    from ansible_collections.ksef.credentials.plugins.module_utils._timestamps import parse_or_none

    emu = emulator_factory("--refresh-token-ttl", "5", "--activation-delay", "0", "--auth-delay", "0")
    busy, listed = random_nip(), random_nip()
    tokens = {nip: seed_token(emu, nip)["token"] for nip in (busy, listed)}
    ratelimit_dir = tmp_path / "ratelimit"
    ratelimit_dir.mkdir()
    now = time.time()
    used_up = {busy: "DELETE /auth/sessions/current", listed: "GET /tokens"}
    for nip, operation in used_up.items():  # 120 requests in the last minute: the next free slot is ~an hour away
        Path(state_path(emu.api_url, f"Nip:{nip}", str(ratelimit_dir))).write_text(
            json.dumps({operation: {"sent": [now - 60 + index * 0.5 for index in range(120)]}}))
    emu.reset_stats()
    # Without the cap the first task would sleep for the rest of the hour: the timeout fails the test instead.
    result = run_playbook(f"""
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/ksef.credentials.ksef:
      api_url: {emu.api_url}
  tasks:
    - name: Scan a context whose closes are used up
      ksef.credentials.token_info:
        context: {{nip: "{busy}"}}
        auth: {{ksef_token: "{tokens[busy]}"}}

    - name: Open a session there
      ksef.credentials.session:
        context: {{nip: "{busy}"}}
        auth: {{ksef_token: "{tokens[busy]}"}}
      register: handed

    - name: Close it while closes are used up
      ksef.credentials.session:
        context: {{nip: "{busy}"}}
        auth:
          access_token: "{{{{ handed.access_token }}}}"
          refresh_token: "{{{{ handed.refresh_token }}}}"
        state: absent

    - name: Scan a context whose listing of tokens is used up
      ksef.credentials.token_info:
        context: {{nip: "{listed}"}}
        auth: {{ksef_token: "{tokens[listed]}"}}
      ignore_errors: true
""", env={"KSEF_RATE_LIMITS": "prd", "KSEF_RATELIMIT_DIR": str(ratelimit_dir)}, timeout=240)

    scan = result.task("Scan a context whose closes are used up")
    assert scan.get("failed") is not True and "DELETE /auth/sessions/current" not in scan["api_calls"]
    (warning,) = [w for w in scan["warnings"] if "left open to expire by itself" in w]
    assert "DELETE /auth/sessions/current would wait" in warning
    assert "120 per hour; rate_limits: prd), more than max_retry_wait (60s); not sent" in warning
    left_open = warning.split("The KSeF session ", 1)[1].split(" ", 1)[0]
    closing = result.task("Close it while closes are used up")
    assert closing.get("failed") is not True and closing["changed"] is False and closing["api_calls"] == {}
    assert any("left open to expire by itself" in w for w in closing["warnings"])

    refused = result.task("Scan a context whose listing of tokens is used up")
    (status,) = [r["status"] for r in result.results if r["task"] == "Scan a context whose listing of tokens is used up"]
    assert status == "failed" and refused["operation"] == "GET /tokens"
    assert refused["msg"].startswith("GET /tokens would wait ")
    assert "more than max_retry_wait (60s); not sent. Run it again once the window has room, or raise " \
           "max_retry_wait (up to 3600) to wait for it" in refused["msg"]
    assert refused["api_calls"].get("GET /tokens") is None
    assert refused["api_calls"]["DELETE /auth/sessions/current"] == 1  # its own session closed as usual

    by_context = emu.stats()["by_context"]
    assert "DELETE /auth/sessions/current" not in by_context.get(f"Nip:{busy}", {})
    assert "GET /tokens" not in by_context.get(f"Nip:{listed}", {})
    for nip, operation in used_up.items():  # nothing was reserved for a request that was not sent
        state = json.loads(Path(state_path(emu.api_url, f"Nip:{nip}", str(ratelimit_dir))).read_text())
        assert len(state[operation]["sent"]) == 120
    for secret in (*tokens.values(),):
        assert secret.split("|")[-1] not in result.stdout + result.stderr

    # The sessions left open expire by themselves (here after the emulator's 5 s refresh token lifetime).
    with KsefHttp(emu.api_url) as http:
        looking = Authenticator(http).login_with_ksef_token(KsefContext("Nip", busy), tokens[busy])
        api = KsefApi(http, looking)
        deadline, first_look, first_look_at = time.monotonic() + 60, None, 0.0
        while True:
            others = [s for s in api.list_sessions() if not s.get("isCurrent")]
            if first_look is None:
                first_look, first_look_at = others, time.time()
            if not others or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert [s["referenceNumber"] for s in others] == [], "a session left open did not expire"
        looking.close()
    # What was still open at the first look (unless a slow run outlived it) ended when its refresh token did.
    for session in first_look:
        until = parse_or_none(session["refreshTokenValidUntil"]).timestamp()
        assert until <= first_look_at + 5 + 1, session
