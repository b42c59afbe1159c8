"""The guard against committed KSeF credentials, run the way a user adds it to a repository (docs/security.md):
pre-commit with the hook of `.pre-commit-hooks.yaml` (`pre-commit try-repo` on this repository), and ansible-lint
with the rule in extensions/ansible_lint. Planted credentials fail both and are never echoed; vault-encrypted ones
and clean files pass. The scanner's cases are in tests/unit/extensions/test_ksef_secret_scan.py.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret

from tests.support.token_values import jwt_with, token_value

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A playbook repository: a token in group vars, an access token in an inventory, clean files beside them."""
    root = tmp_path_factory.mktemp("playbooks")
    token, access = token_value()[0], jwt_with({"token-type": "ContextToken", "context-identifier-type": "Nip"})
    vaulted = VaultLib([("default", VaultSecret(b"pw"))]).encrypt(token_value()[0]).decode()
    files = {
        "group_vars/all/ksef.yml": f"---\nksef_manager_token: \"{token}\"\n",
        "inventory/hosts.yml": f"---\nall:\n  hosts:\n    acme:\n      ksef_access_token: {access}\n",
        "group_vars/all/vault.yml": "---\nksef_vaulted_token: !vault |\n"
                                    + "".join(f"  {line}\n" for line in vaulted.splitlines()),
        "site.yml": "---\n- name: Tokens\n  hosts: all\n  gather_facts: false\n  tasks:\n"
                    "    - name: Show the context\n      ansible.builtin.debug:\n        var: ksef_nip\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root, files, (token, access)


def test_the_pre_commit_hook_refuses_planted_credentials_and_passes_vaulted_ones(planted, run_tool, tool_env,
                                                                                 tmp_path):
    root, files, values = planted
    result = run_tool([str(VENV_BIN / "pre-commit"), "try-repo", str(REPO), "ksef-committed-secret",
                       "--files", *files], cwd=root, env=tool_env(PRE_COMMIT_HOME=str(tmp_path / "cache")),
                      timeout=300, expect_rc=1)
    output = result.stdout + result.stderr
    assert "group_vars/all/ksef.yml:2: [ksef-token]" in output
    assert "inventory/hosts.yml:5: [ksef-jwt]" in output
    assert "vault.yml" not in output and "site.yml" not in output
    assert not any(value in output for value in values)
    clean = run_tool([str(VENV_BIN / "pre-commit"), "try-repo", str(REPO), "ksef-committed-secret",
                      "--files", "site.yml", "group_vars/all/vault.yml"], cwd=root,
                     env=tool_env(PRE_COMMIT_HOME=str(tmp_path / "cache")), timeout=300)
    assert "Passed" in clean.stdout


def test_the_ansible_lint_rule_reports_planted_credentials_only(planted, run_tool, tool_env):
    root, _files, values = planted
    result = run_tool([str(VENV_BIN / "ansible-lint"), "--nocolor", "--offline", "-r",
                       str(REPO / "extensions" / "ansible_lint"), "site.yml", "group_vars", "inventory"],
                      cwd=root, env=tool_env(), timeout=300, expect_rc=None)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    lines = output.splitlines()
    # Each violation is "rule-id: message" followed by "path:line".
    reported = sorted(lines[i + 1] for i, line in enumerate(lines[:-1])
                      if line.startswith("ksef-committed-secret: ") and line.endswith("in plain text"))
    assert reported == ["group_vars/all/ksef.yml:2", "inventory/hosts.yml:5"], output
    assert not any(value in output for value in values)
