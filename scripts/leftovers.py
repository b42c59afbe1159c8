"""Fail when a run left a process behind: `make test`, `make demo` and `make bench` end with it.

A run marks itself with KSEF_RUN_ID in the environment (the Makefile sets it); every process it starts
inherits the mark. Servers started under ansible-test, whose unit tests run in an environment of its own,
are marked by tests/support/processes.py from the run id scripts/ansible_test.sh writes into its copy of the
collection. Any process still carrying the mark once the run is over was left behind: it is listed,
terminated, and the check fails.

Only the mark counts: never a command name or a start time, so a server somebody else started (their own
emulator, another checkout's test run) is never touched, whatever it runs and whenever it started.

Usage: python scripts/leftovers.py RUN_ID
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path


def leftovers(run_id: str) -> list[tuple[int, str]]:
    """(pid, command line) of every process but this one and its parent that carries the run's mark."""
    mine = {os.getpid(), os.getppid()}
    mark = f"KSEF_RUN_ID={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if mark in environ and "leftovers.py" not in command:
            found.append((int(entry.name), command))
    return found


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except OSError:
        pass  # gone already


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0]:
        print("usage: python scripts/leftovers.py RUN_ID", file=sys.stderr)
        return 2
    run_id = argv[0]
    found = leftovers(run_id)
    for pid, command in found:
        print(f"left behind: pid {pid}: {command[:200]}", file=sys.stderr)
        _signal(pid, signal.SIGTERM)
    if found:
        # Only what still carries the mark gets SIGKILL: a pid that ended meanwhile may be somebody else's now.
        deadline = time.monotonic() + 5
        while (remaining := leftovers(run_id)) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid, _command in remaining:
            _signal(pid, signal.SIGKILL)
        print(f"{len(found)} process(es) outlived the run (now stopped)", file=sys.stderr)
        return 1
    print("no process left behind")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
