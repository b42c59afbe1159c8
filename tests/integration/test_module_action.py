"""The modules' action plugin (plugin_utils/_module_action.py): in Ansible's worker when the module would run on the
controller in the controller's Python, as a module process otherwise; the same arguments, environment and result.
With an ansible-core the worker way is not used with (IN_PROCESS_SUPPORTED false), both runs are module processes."""
import datetime
import sys
import json
from pathlib import Path

import pytest

from ansible_collections.ksef.credentials.plugins.plugin_utils._module_action import IN_PROCESS_SUPPORTED
from ksef_emulator.testcerts import random_nip

pytestmark = pytest.mark.integration

SCAN = """
- name: Scan the tokens of one context
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Scan, twice, with the task's own environment
      ksef.credentials.token_info:
        api_url: "{{ api_url }}"
        context: {nip: "{{ nip }}"}
        auth: {ksef_token: "{{ token }}"}
      environment:
        KSEF_TOKEN_AUTH_END: "{{ auth_end }}"
      loop: [1, 2]
      register: scans

    - name: Create a token, in check mode
      ksef.credentials.token:
        api_url: "{{ api_url }}"
        context: {nip: "{{ nip }}"}
        auth: {ksef_token: "{{ token }}"}
        name: planned-only
        permissions: [InvoiceRead]
      check_mode: true
      register: planned

    - name: Keep the results
      ansible.builtin.copy:
        content: "{{ {'scans': scans.results, 'planned': planned} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def seeded_context(emulator):
    nip = random_nip()
    response = emulator.admin("POST", "tokens", json={
        "context": f"Nip:{nip}", "permissions": ["CredentialsManage", "CredentialsRead"], "author": f"Nip:{nip}"})
    response.raise_for_status()
    return nip, response.json()["token"]


def test_a_module_runs_in_the_worker_as_it_runs_in_a_module_process(emulator, run_playbook, tmp_path):
    nip, token = seeded_context(emulator)
    # Ten days before the end of token authentication, so that every login warns: the task's environment says so,
    # against the far end the tests' own environment sets.
    auth_end = (datetime.date.today() + datetime.timedelta(days=10)).isoformat()
    outcomes = {}
    for switch in ("1", "0"):
        remote = tmp_path / f"remote-{switch}"
        out = tmp_path / f"out-{switch}.json"
        emulator.reset_stats()
        run_playbook(SCAN, {"api_url": emulator.api_url, "nip": nip, "token": token, "auth_end": auth_end,
                            "out": str(out)},
                     env={"KSEF_IN_PROCESS": switch, "ANSIBLE_KEEP_REMOTE_FILES": "1",
                          "ANSIBLE_REMOTE_TMP": str(remote)})
        outcomes[switch] = json.loads(out.read_text())
        # Kept on purpose by ANSIBLE_KEEP_REMOTE_FILES: a module process leaves its AnsiballZ file, the worker none.
        kept = sorted(path.name for path in Path(remote).rglob("AnsiballZ_token*.py"))
        if switch == "1" and IN_PROCESS_SUPPORTED:
            assert kept == [], kept
        else:
            assert "AnsiballZ_token_info.py" in kept and "AnsiballZ_token.py" in kept, kept
        assert "POST /tokens" not in emulator.stats()["operations"]  # check mode reached the module

    for switch, outcome in outcomes.items():
        for scan in outcome["scans"]:
            # The task's environment reached the module (the tests' own says 2099), once per item.
            ends = [f for f in scan["findings"] if f["kind"] == "token_auth_end"]
            assert len(ends) == 1 and ends[0]["message"].startswith("10 days left"), (switch, scan["findings"])
            assert scan["summary"]["tokens"] == 1 and scan["api_calls"]["GET /tokens"] == 1
        planned = outcome["planned"]
        assert planned["changed"] is True and not planned.get("reference_number") and planned["actions"], planned
    # The same results either way (the login's own reference numbers aside).
    inside, process = outcomes["1"], outcomes["0"]
    assert [s["summary"] for s in inside["scans"]] == [s["summary"] for s in process["scans"]]
    assert [s["findings"] for s in inside["scans"]] == [s["findings"] for s in process["scans"]]
    assert inside["planned"]["actions"] == process["planned"]["actions"]
    for scan in inside["scans"] + process["scans"]:
        assert token not in json.dumps(scan)


def test_a_bad_option_fails_the_same_in_the_worker(emulator, run_playbook, tmp_path):
    nip, token = seeded_context(emulator)
    playbook = """
- name: A misspelt option
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Scan
      ksef.credentials.token_info:
        api_url: "{{ api_url }}"
        context: {nip: "{{ nip }}"}
        auth: {ksef_token: "{{ token }}"}
        status: [Bogus]
"""
    messages = []
    for switch in ("1", "false"):  # the switch takes 0, false, no and off
        remote = tmp_path / f"remote-{switch}"
        result = run_playbook(playbook, {"api_url": emulator.api_url, "nip": nip, "token": token}, expect_rc=2,
                              env={"KSEF_IN_PROCESS": switch, "ANSIBLE_KEEP_REMOTE_FILES": "1",
                                   "ANSIBLE_REMOTE_TMP": str(remote)})
        kept = list(Path(remote).rglob("AnsiballZ_token_info.py"))
        assert len(kept) == (0 if switch == "1" and IN_PROCESS_SUPPORTED else 1), kept
        failed = result.task("Scan")
        messages.append(failed["msg"])
        assert token not in result.stdout and token not in result.stderr
    assert messages[0] == messages[1] and "value of status must be one or more of" in messages[0], messages


def test_a_task_timeout_or_another_python_runs_a_module_process(emulator, run_playbook, tmp_path):
    """A task timeout would interrupt the worker between creating a credential and storing it: such a task runs a
    module process, which finishes its work. An interpreter that is another path than the Python running Ansible
    (here a link to it outside its virtualenv, so without its packages) is another Python, even if it links there."""
    nip, token = seeded_context(emulator)
    other_python = tmp_path / "python"
    other_python.symlink_to(sys.executable)
    remote = tmp_path / "remote"
    playbook = """
- name: Where each scan runs
  hosts: localhost
  gather_facts: false
  tasks:
    - name: In the worker
      ksef.credentials.token_info: &scan
        api_url: "{{ api_url }}"
        context: {nip: "{{ nip }}"}
        auth: {ksef_token: "{{ token }}"}

    - name: With a timeout
      ksef.credentials.token_info: *scan
      timeout: 300

    - name: With another Python
      ksef.credentials.token_info: *scan
      vars:
        ansible_python_interpreter: "{{ other_python }}"
      register: other
      ignore_errors: true

    - name: Keep what the other Python said
      ansible.builtin.copy:
        content: "{{ other.msg }}"
        dest: "{{ out }}"
        mode: "0600"
"""
    out = tmp_path / "other.txt"
    run_playbook(playbook, {"api_url": emulator.api_url, "nip": nip, "token": token, "other_python": str(other_python),
                            "out": str(out)},
                 env={"KSEF_IN_PROCESS": "1", "ANSIBLE_KEEP_REMOTE_FILES": "1", "ANSIBLE_REMOTE_TMP": str(remote)})
    kept = sorted(path.name for path in Path(remote).rglob("AnsiballZ_token*.py"))
    if IN_PROCESS_SUPPORTED:
        assert kept == ["AnsiballZ_token_info.py"] * 2, kept  # the timeout's and the other Python's, not the first
    else:
        assert kept == ["AnsiballZ_token_info.py"] * 3, kept
    # The other Python ran the module, without the packages of the one running Ansible.
    assert "Failed to import the required Python library (httpx)" in out.read_text(), out.read_text()
