"""ksef.credentials.token through real playbooks against the emulator over HTTP, with real files."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ksef_emulator.testcerts import random_nip

pytestmark = pytest.mark.integration

PLAYBOOKS = Path(__file__).parent / "playbooks" / "token"
DECLARE = PLAYBOOKS / "declare.yml"
TASK = "Declare the token"
MUTATIONS = ("POST /tokens", "DELETE /tokens/")


class Scenario:
    """A fresh context (random NIP) with a seeded manager token, and helpers to run and inspect it."""

    def __init__(self, emulator, run_playbook, tmp_path):
        self.emulator = emulator
        self.run_playbook = run_playbook
        self.tmp_path = tmp_path
        self.nip = random_nip()
        seeded = emulator.admin("POST", "tokens", json={
            "context": f"Nip:{self.nip}", "author": f"Nip:{self.nip}", "status": "Active", "description": "bootstrap",
            "permissions": ["CredentialsManage", "CredentialsRead", "InvoiceRead", "InvoiceWrite"]})
        seeded.raise_for_status()
        self.manager = seeded.json()
        self.store_path = tmp_path / "erp.token"
        self.env = {"KSEF_LOCK_DIR": str(tmp_path / "locks")}

    def vars(self, **overrides) -> dict:
        base = {"api_url": self.emulator.api_url, "nip": self.nip, "manager_token": self.manager["token"],
                "token_name": "erp-sender", "stores": [{"type": "file", "path": str(self.store_path)}]}
        base.update(overrides)
        return base

    def declare(self, check=False, diff=False, expect_rc=0, **overrides):
        result = self.run_playbook(DECLARE, self.vars(**overrides), check=check, diff=diff, env=self.env,
                                   expect_rc=expect_rc)
        self.assert_no_secret_in(result)
        return result

    def tokens(self) -> dict:
        """Every token of the context by reference number, as KSeF lists it (bootstrap token excluded)."""
        listed = self.emulator.api("GET", "tokens", params={"pageSize": 100},
                                   headers={"Authorization": f"Bearer {self.bearer()}"})
        listed.raise_for_status()
        return {t["referenceNumber"]: t for t in listed.json()["tokens"]
                if t["referenceNumber"] != self.manager["referenceNumber"]}

    def bearer(self) -> str:
        if not hasattr(self, "_bearer"):
            from ansible_collections.ksef.credentials.plugins.module_utils._auth import Authenticator
            from ansible_collections.ksef.credentials.plugins.module_utils._connection import KsefContext
            from ansible_collections.ksef.credentials.plugins.module_utils._http import KsefHttp
            http = KsefHttp(self.emulator.api_url)
            session = Authenticator(http).login_with_ksef_token(KsefContext("Nip", self.nip), self.manager["token"])
            self._bearer = session.bearer()
        return self._bearer

    def mutations(self) -> int:
        ops = self.emulator.stats()["by_context"].get(f"Nip:{self.nip}", {})
        return sum(count for op, count in ops.items() if op.startswith(MUTATIONS))

    def stored(self) -> str:
        return self.store_path.read_text().strip()

    def assert_no_secret_in(self, result):
        secrets = [self.manager["token"]]
        if self.store_path.exists():
            secrets.append(self.stored())
        text = result.stdout + result.stderr + repr(result.results)
        for secret in secrets:
            assert secret.split("|")[-1] not in text


@pytest.fixture
def scenario(emulator, run_playbook, tmp_path):
    return Scenario(emulator, run_playbook, tmp_path)


def test_create_stores_the_value_0600_and_a_second_run_changes_nothing(scenario):
    first = scenario.declare().task(TASK)
    assert first["changed"] is True
    ref = first["reference_number"]
    assert [a["action"] for a in first["actions"]] == ["create"]
    assert first["status"] == "Active" and first["permissions"] == ["InvoiceRead", "InvoiceWrite"]
    assert first["description"] == "ERP invoice sender" and first["name"] == "erp-sender"
    assert first["stores"] == [{"label": f"file:{scenario.store_path}", "reference_number": ref}]
    assert first["api_calls"]["POST /tokens"] == 1
    assert scenario.stored().startswith(ref + "|")
    assert stat.S_IMODE(os.stat(scenario.store_path).st_mode) == 0o600
    listed = scenario.tokens()[ref]
    assert listed["status"] == "Active"
    assert listed["description"] == "ERP invoice sender [ksef.credentials:erp-sender]"

    value = scenario.stored()
    before = scenario.mutations()
    second = scenario.declare().task(TASK)
    assert second["changed"] is False
    assert [a["action"] for a in second["actions"]] == ["keep"]
    assert second["reference_number"] == ref
    assert scenario.mutations() == before, "an idempotent run must not POST or DELETE"
    assert "POST /tokens" not in second["api_calls"]
    assert scenario.stored() == value


def test_created_token_authenticates_and_is_never_revoked_by_itself(scenario):
    ref = scenario.declare().task(TASK)["reference_number"]
    used = scenario.run_playbook(PLAYBOOKS / "use_stored_token.yml",
                                 {**scenario.vars(), "store_path": str(scenario.store_path)}, env=scenario.env)
    assert used.task("Close that session")["changed"] is True
    protected = used.task("The login token may read its own metadata")
    assert protected["changed"] is False
    assert protected["actions"] == [{"action": "retain", "reference_number": ref,
                                     "reason": "this run authenticated with this token; set force: true to revoke it"}]
    assert scenario.tokens()[ref]["status"] == "Active"


def test_check_mode_reports_the_create_and_mutates_nothing(scenario):
    before = scenario.mutations()
    result = scenario.declare(check=True, diff=True).task(TASK)
    assert result["changed"] is True
    assert result["actions"][0]["action"] == "create" and result["reference_number"] is None
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["permissions"] == ["InvoiceRead", "InvoiceWrite"]
    assert scenario.mutations() == before
    assert scenario.tokens() == {}
    assert not scenario.store_path.exists()


def test_permission_change_replaces_the_token_and_revokes_the_old(scenario):
    old = scenario.declare().task(TASK)["reference_number"]
    preview = scenario.declare(check=True, diff=True, permissions=["invoice_read"]).task(TASK)
    assert [a["action"] for a in preview["actions"]] == ["replace", "revoke"]
    assert preview["diff"]["before"]["permissions"] == ["InvoiceRead", "InvoiceWrite"]
    assert preview["diff"]["after"]["permissions"] == ["InvoiceRead"]
    assert scenario.tokens()[old]["status"] == "Active"

    result = scenario.declare(permissions=["invoice_read"]).task(TASK)
    new = result["reference_number"]
    assert result["changed"] is True and new != old
    assert [(a["action"], a["reference_number"]) for a in result["actions"]] == [("replace", new), ("revoke", old)]
    tokens = scenario.tokens()
    assert tokens[new]["status"] == "Active" and tokens[new]["requestedPermissions"] == ["InvoiceRead"]
    assert tokens[old]["status"] in ("Revoking", "Revoked")
    assert scenario.stored().startswith(new + "|")


def test_rotate_true_issues_a_new_token_and_revokes_the_previous(scenario):
    old = scenario.declare().task(TASK)["reference_number"]
    result = scenario.declare(rotate=True).task(TASK)
    new = result["reference_number"]
    assert new != old
    assert result["actions"][0] == {"action": "rotate", "reason": "rotation requested (rotate: true)",
                                    "reference_number": new, "replaces": old}
    tokens = scenario.tokens()
    assert tokens[new]["status"] == "Active" and tokens[old]["status"] in ("Revoking", "Revoked")
    assert scenario.stored().startswith(new + "|")


def test_rotation_by_age_and_grace_period_for_the_previous_token(scenario):
    old = scenario.declare(rotate_after="90d").task(TASK)["reference_number"]
    assert scenario.declare(rotate_after="90d").task(TASK)["changed"] is False
    scenario.emulator.admin("POST", f"tokens/{old}/backdate", json={"seconds": 91 * 86400}).raise_for_status()

    rotated = scenario.declare(rotate_after="90d", revoke_previous_after="1h").task(TASK)
    new = rotated["reference_number"]
    assert [a["action"] for a in rotated["actions"]] == ["rotate", "retain"]
    assert rotated["actions"][0]["reason"].startswith("age 91d")
    assert scenario.tokens()[old]["status"] == "Active", "the previous token lives through its grace period"
    assert scenario.stored().startswith(new + "|")

    within = scenario.declare(rotate_after="90d", revoke_previous_after="1h").task(TASK)
    assert within["changed"] is False and [a["action"] for a in within["actions"]] == ["keep", "retain"]

    scenario.emulator.admin("POST", f"tokens/{new}/backdate", json={"seconds": 2 * 3600}).raise_for_status()
    after = scenario.declare(rotate_after="90d", revoke_previous_after="1h").task(TASK)
    assert [(a["action"], a["reference_number"]) for a in after["actions"]] == [("keep", new), ("revoke", old)]
    assert scenario.tokens()[old]["status"] in ("Revoking", "Revoked")


def test_activation_failure_leaves_no_token_and_no_store(scenario):
    scenario.emulator.admin("PUT", "activation", json={"fail_next": 1}).raise_for_status()
    failed = scenario.declare(expect_rc=2)
    result = failed.task(TASK)
    assert [r["status"] for r in failed.results if r["task"] == TASK] == ["failed"]
    assert result["api_calls"]["POST /tokens"] == 1 and result["api_calls"]["DELETE /tokens/{referenceNumber}"] == 1
    assert "failed to activate" in result["msg"] and "revoked the new token" in result["msg"]
    assert result["msg"].startswith(result["name"] + ": "), "the failure names the token"
    assert all(t["status"] in ("Failed", "Revoking", "Revoked") for t in scenario.tokens().values())
    assert not scenario.store_path.exists()
    # The next run starts clean.
    assert scenario.declare().task(TASK)["changed"] is True


def test_lost_store_value_is_replaced_by_a_new_token(scenario):
    old = scenario.declare().task(TASK)["reference_number"]
    scenario.store_path.unlink()
    result = scenario.declare().task(TASK)
    new = result["reference_number"]
    assert new != old and scenario.stored().startswith(new + "|")
    assert result["actions"][0]["action"] == "rotate" and "store drift" in result["actions"][0]["reason"]
    # The new token supersedes the lost one in this run, young as it is (no grace declared), as the plan says.
    assert result["actions"][1] == {"action": "revoke", "reference_number": old,
                                    "reason": "no store holds its value; superseded by the new token"}
    assert scenario.tokens()[old]["status"] in ("Revoking", "Revoked")
    after = scenario.declare().task(TASK)
    assert after["changed"] is False
    assert [(a["action"], a["reference_number"]) for a in after["actions"]] == [("keep", new)]


def test_second_store_is_filled_by_copy_without_a_new_token(scenario):
    ref = scenario.declare().task(TASK)["reference_number"]
    env_file = scenario.tmp_path / "erp.env"
    stores = [{"type": "file", "path": str(scenario.store_path)},
              {"type": "file", "path": str(env_file), "format": "env"}]
    before = scenario.mutations()
    result = scenario.declare(stores=stores).task(TASK)
    assert result["changed"] is True and [a["action"] for a in result["actions"]] == ["copy", "keep"]
    assert scenario.mutations() == before
    assert env_file.read_text() == f"KSEF_TOKEN={scenario.stored()}\n"
    assert [s["reference_number"] for s in result["stores"]] == [ref, ref]


def test_absent_revokes_every_token_with_the_name_and_purges(scenario):
    ref = scenario.declare().task(TASK)["reference_number"]
    check = scenario.declare(check=True, state="absent").task(TASK)
    assert check["changed"] is True and scenario.tokens()[ref]["status"] == "Active"

    result = scenario.declare(state="absent", purge=True).task(TASK)
    assert result["changed"] is True and result["status"] == "absent"
    assert [(a["action"], a["reference_number"]) for a in result["actions"]] == [("revoke", ref), ("purge", None)]
    assert scenario.tokens()[ref]["status"] in ("Revoking", "Revoked")
    assert not scenario.store_path.exists()
    again = scenario.declare(state="absent").task(TASK)
    assert again["changed"] is False and again["actions"] == []


# make test: the same refusals are cases of tests/security/test_bad_input.py (durations: the property test).
@pytest.mark.soak
def test_invalid_options_fail_before_any_call(scenario):
    too_long = scenario.declare(expect_rc=2, token_description="x" * 250).task(TASK)
    assert too_long["option"] == "description" and "256" in too_long["msg"]
    assert too_long["api_calls"] == {}
    bad = scenario.declare(expect_rc=2, permissions=["invoices_read"]).task(TASK)
    assert bad["option"] == "permissions" and bad["api_calls"] == {}
    name = scenario.declare(expect_rc=2, token_name="ERP Sender").task(TASK)
    assert name["option"] == "name"
    age = scenario.declare(expect_rc=2, rotate_after="3 months").task(TASK)
    assert age["option"] == "rotate_after"


def test_two_simultaneous_runs_create_exactly_one_token(scenario):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(scenario.declare) for _attempt in range(2)]
        results = [r.result().task(TASK) for r in runs]
    assert sorted(r["changed"] for r in results) == [False, True], "the second run waits, then finds the token"
    live = [t for t in scenario.tokens().values() if t["status"] == "Active"]
    assert len(live) == 1 and results[0]["reference_number"] == results[1]["reference_number"] == \
        live[0]["referenceNumber"]
    assert scenario.stored().startswith(live[0]["referenceNumber"] + "|")
