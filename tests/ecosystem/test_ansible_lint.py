"""ansible-lint (production profile, .ansible-lint) on the collection's roles and example playbooks."""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# roles/ holds no role yet and git does not keep empty folders: lint what a fresh clone has.
LINTED = [path for path in ("roles", "docs/examples") if (REPO / path).is_dir()]


def lint(run_tool, tool_env, paths: list[str], cwd: Path, expect_rc: int | None = 0):
    # The collection resolves from the working tree through ansible.cfg's .collections link.
    env = tool_env(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"))
    return run_tool([str(VENV_BIN / "ansible-lint"), "--nocolor", "--offline", "-c", str(REPO / ".ansible-lint"),
                     *paths], cwd=cwd, env=env, timeout=300, expect_rc=expect_rc)


def test_roles_and_examples_pass_the_production_profile(run_tool, tool_env):
    result = lint(run_tool, tool_env, LINTED, REPO)
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr


PLAY = ("---\n- name: Probe\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Call {module}\n      {module}:\n        name: probe\n")


def test_lint_resolves_ksef_modules_from_the_working_tree(run_tool, tool_env, tmp_path):
    # Guards against a vacuous pass: a known module passes ansible-lint's syntax check, an unknown one fails it.
    (tmp_path / "known.yml").write_text(PLAY.format(module="ksef.credentials.token"))
    (tmp_path / "unknown.yml").write_text(PLAY.format(module="ksef.credentials.no_such_module"))
    lint(run_tool, tool_env, ["known.yml"], tmp_path)
    result = lint(run_tool, tool_env, ["unknown.yml"], tmp_path, expect_rc=None)
    assert result.returncode != 0
    assert "syntax-check" in result.stdout + result.stderr
    assert "no_such_module" in result.stdout + result.stderr
