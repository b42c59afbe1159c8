"""`ansible-test sanity` and `ansible-test units` (Python 3.11, --venv, no docker) through scripts/ansible_test.sh.

On failure the message lists the findings grouped by file, then the tail of ansible-test's output.
"""
from __future__ import annotations

import os
import re
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SCRIPT = REPO / "scripts" / "ansible_test.sh"
# ansible-test's finding lines: "ERROR: path:line:column: message".
FINDING = re.compile(r"^ERROR: (?P<path>[^\s:]+):(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$")


def findings_by_file(output: str) -> str:
    grouped: dict[str, list[str]] = defaultdict(list)
    for line in output.splitlines():
        match = FINDING.match(line)
        if match:
            grouped[match["path"]].append(f"  {match['line']}:{match['column']}: {match['message']}")
    return "\n".join(f"{path}\n" + "\n".join(lines) for path, lines in sorted(grouped.items()))


def failed_sanity_tests(output: str) -> list[str]:
    match = re.search(r"FATAL: The \d+ sanity test\(s\) listed below .*?\n((?:[^\n]+\n)+?)FATAL:", output)
    return match.group(1).split("\n")[:-1] if match else []


def ansible_test(run_tool, tool_env, *args: str):
    return run_tool(["bash", str(SCRIPT), *args, "--color", "no"], cwd=REPO,
                    env=tool_env(VENV_BIN=str(VENV_BIN)), timeout=900, expect_rc=None)


# Every sanity test runs on the whole collection, except pylint, which in `make test` lints plugins/ (the code Ansible
# runs), 33 s of its 76 s. The rest (tests, the emulator, scripts) gets pep8 here, and the emulator ruff and mypy
# in `make lint-python`; `KSEF_SOAK=1 make test-ecosystem` runs pylint on everything.
def sanity_runs() -> list[tuple[str, ...]]:
    if os.environ.get("KSEF_SOAK"):
        return [()]
    return [("--skip-test", "pylint"), ("--test", "pylint", "plugins/")]


def test_sanity(run_tool, tool_env):
    for extra in sanity_runs():
        result = ansible_test(run_tool, tool_env, "sanity", *extra)
        output = result.stdout + result.stderr
        assert "Running sanity test" in output, output[-5000:]
        assert result.returncode == 0, (
            f"ansible-test sanity {' '.join(extra)} failed: {', '.join(failed_sanity_tests(output)) or 'see output'}\n"
            f"{findings_by_file(output)}\n--- last lines ---\n{output[-3000:]}")


# `make test` runs every unit test once, in the project's own pytest run. Under ansible-test it runs the tests that
# prove the harness itself - the module base class with ansible-test's own ansible-core (patch_module_args), the
# engine, the planners, the store registry and schema - and not the rest again: the file store's ansible-vault
# subprocesses, the stores against real servers (OpenBao, moto) and the emulator's unit tests would cost two more
# minutes to prove the same. `KSEF_SOAK=1 make test-ecosystem` runs every unit test under ansible-test.
UNDER_ANSIBLE_TEST = (
    "tests/unit/plugins/module_utils/test_module.py",
    "tests/unit/plugins/module_utils/test_engine.py",
    "tests/unit/plugins/module_utils/test_executor.py",
    "tests/unit/plugins/module_utils/test_journal.py",
    "tests/unit/plugins/module_utils/test_plan_render.py",
    "tests/unit/plugins/module_utils/test_certificate_bundle.py",
    "tests/unit/plugins/module_utils/kinds/",
    "tests/unit/plugins/module_utils/stores/test_registry.py",
    "tests/unit/plugins/module_utils/stores/test_doc_fragment.py",
)


def unit_targets() -> list[str]:
    if os.environ.get("KSEF_SOAK"):
        return []
    every = sorted(path.relative_to(REPO).as_posix() for path in (REPO / "tests" / "unit").rglob("test_*.py"))
    chosen = [target for target in every if target.startswith(UNDER_ANSIBLE_TEST)]
    assert len(chosen) >= 8, f"the targets under ansible-test moved: {chosen}"
    return chosen


def test_units(run_tool, tool_env):
    result = ansible_test(run_tool, tool_env, "units", *unit_targets())
    output = result.stdout + result.stderr
    assert re.search(r"Unit test \w+ with Python 3\.11", output), output[-5000:]
    failed = [line for line in output.splitlines() if line.startswith(("FAILED ", "ERROR tests/"))]
    assert result.returncode == 0, (
        "ansible-test units failed:\n" + "\n".join(failed) + f"\n--- last lines ---\n{output[-3000:]}")
