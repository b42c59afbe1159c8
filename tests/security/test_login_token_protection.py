"""The token a run logged in with is never revoked by accident, and the tokens module refuses duplicate names."""
from __future__ import annotations

from pathlib import Path

import pytest
from ksef_emulator.testcerts import random_nip

pytestmark = pytest.mark.integration

TOKEN_PLAYBOOK = Path(__file__).parent / "playbooks" / "token.yml"
TOKENS_PLAYBOOK = """
- name: Declare the set of tokens of a context
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Declare the set
      ksef.credentials.tokens:
        api_url: "{{ api_url }}"
        context: {nip: "{{ nip }}"}
        auth: {ksef_token: "{{ lookup('ansible.builtin.file', manager_file) }}"}
        exclusive: "{{ exclusive }}"
        tokens: "{{ declared }}"
      register: declared_set
"""


def _seed_manager(emulator, tmp_path: Path, nip: str, description: str) -> tuple[str, Path]:
    seeded = emulator.admin("POST", "tokens", json={
        "context": f"Nip:{nip}", "description": description,
        "permissions": ["CredentialsManage", "CredentialsRead", "InvoiceRead"]})
    seeded.raise_for_status()
    manager_file = tmp_path / "manager.token"
    manager_file.write_text(seeded.json()["token"])
    manager_file.chmod(0o600)
    return seeded.json()["referenceNumber"], manager_file


def _status(emulator, nip: str, ref: str) -> str:
    listed = emulator.admin("GET", "tokens", params={"context": f"Nip:{nip}"}).json()
    listed = listed["tokens"] if isinstance(listed, dict) else listed
    return next(t["status"] for t in listed if t["referenceNumber"] == ref)


def test_state_absent_of_its_own_name_keeps_the_login_token_unless_forced(emulator, run_playbook, tmp_path):
    nip = random_nip()
    ref, manager_file = _seed_manager(emulator, tmp_path, nip, "Ansible manager [ksef.credentials:ansible-manager]")
    token = manager_file.read_text()
    common = {"api_url": emulator.api_url, "context": {"nip": nip}, "auth": {"ksef_token": token},
              "token_name": "ansible-manager", "state": "absent"}
    kept = run_playbook(TOKEN_PLAYBOOK, common, env={"KSEF_LOCK_DIR": str(tmp_path)}).task("Declare the token")
    assert kept["changed"] is False
    assert [a["action"] for a in kept["actions"]] == ["retain"] and "force" in kept["actions"][0]["reason"]
    assert _status(emulator, nip, ref) == "Active"

    forced = run_playbook(TOKEN_PLAYBOOK, dict(common, force=True), env={"KSEF_LOCK_DIR": str(tmp_path)})
    assert forced.task("Declare the token")["changed"] is True
    assert _status(emulator, nip, ref) in ("Revoking", "Revoked")


@pytest.mark.parametrize("managed", [False, True], ids=["unmanaged-login-token", "managed-undeclared-login-token"])
def test_exclusive_all_never_revokes_the_login_token(emulator, run_playbook, tmp_path, managed):
    nip = random_nip()
    description = "Ansible manager [ksef.credentials:ansible-manager]" if managed else "Manager made by hand"
    ref, manager_file = _seed_manager(emulator, tmp_path, nip, description)
    other = emulator.admin("POST", "tokens", json={"context": f"Nip:{nip}", "permissions": ["InvoiceRead"],
                                                   "description": "Old hand-made token"}).json()["referenceNumber"]
    store = tmp_path / "erp.token"
    result = run_playbook(TOKENS_PLAYBOOK, {
        "api_url": emulator.api_url, "nip": nip, "manager_file": str(manager_file), "exclusive": "all",
        "declared": [{"name": "erp", "permissions": ["InvoiceRead"], "store": [{"type": "file", "path": str(store)}]}],
    }, env={"KSEF_LOCK_DIR": str(tmp_path)})
    assert result.task("Declare the set")["changed"] is True
    assert _status(emulator, nip, ref) == "Active", "exclusive: all revoked the token the run logged in with"
    assert _status(emulator, nip, other) in ("Revoking", "Revoked"), "exclusive: all left an undeclared token"


def test_the_tokens_module_refuses_a_name_declared_twice_before_any_call(emulator, run_playbook, tmp_path):
    nip = random_nip()
    _ref, manager_file = _seed_manager(emulator, tmp_path, nip, "Manager made by hand")
    emulator.reset_stats()
    result = run_playbook(TOKENS_PLAYBOOK, {
        "api_url": emulator.api_url, "nip": nip, "manager_file": str(manager_file), "exclusive": "false",
        "declared": [{"name": "erp", "permissions": ["InvoiceRead"]}, {"name": "erp", "permissions": ["InvoiceWrite"]}],
    }, expect_rc=2, env={"KSEF_LOCK_DIR": str(tmp_path)})
    failed = result.task("Declare the set")
    assert "erp" in failed["msg"] and "tokens[1]" in (failed.get("option", "") + failed["msg"]), failed["msg"]
    assert emulator.stats()["total"] == 0, "a duplicate name must be refused before any API call"
