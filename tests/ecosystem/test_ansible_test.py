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


def test_sanity(run_tool, tool_env):
    result = ansible_test(run_tool, tool_env, "sanity")
    output = result.stdout + result.stderr
    assert "Running sanity test" in output, output[-5000:]
    assert result.returncode == 0, (
        f"ansible-test sanity failed: {', '.join(failed_sanity_tests(output)) or 'see output'}\n"
        f"{findings_by_file(output)}\n--- last lines ---\n{output[-3000:]}")


# Store tests against real servers (OpenBao, moto) and the emulator's own unit tests run in the project's own
# pytest run; under ansible-test they would prove the same again at two minutes of `make test`.
# `KSEF_SOAK=1 make test-ecosystem` runs every unit test here too.
RUN_ELSEWHERE = ("tests/unit/plugins/module_utils/stores/test_hashicorp_vault_store.py",
                 "tests/unit/plugins/module_utils/stores/test_aws_stores.py",
                 "tests/unit/emulator/")


def unit_targets() -> list[str]:
    if os.environ.get("KSEF_SOAK"):
        return []
    every = sorted(path.relative_to(REPO).as_posix() for path in (REPO / "tests" / "unit").rglob("test_*.py"))
    return [target for target in every if not target.startswith(RUN_ELSEWHERE)]


def test_units(run_tool, tool_env):
    result = ansible_test(run_tool, tool_env, "units", *unit_targets())
    output = result.stdout + result.stderr
    assert re.search(r"Unit test \w+ with Python 3\.11", output), output[-5000:]
    failed = [line for line in output.splitlines() if line.startswith(("FAILED ", "ERROR tests/"))]
    assert result.returncode == 0, (
        "ansible-test units failed:\n" + "\n".join(failed) + f"\n--- last lines ---\n{output[-3000:]}")
