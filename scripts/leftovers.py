"""Fail when a test run left a server behind: `make test`, `make demo` and `make bench` end with it.

A run marks itself with KSEF_RUN_ID in the environment (the Makefile sets it); every process a test starts
inherits it, ansible-test's children included. Any process still carrying the mark once the run is over was
left behind: it is listed, terminated, and the check fails. Servers started under ansible-test's sanitised
environment are found by what they run (our servers' command lines) and by having started during the run.

Usage: python scripts/leftovers.py RUN_ID STARTED_EPOCH [--by-command]
(--by-command also takes our servers started since STARTED_EPOCH: only for a check after the whole run)
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

# What our tests and scripts start: the emulator, moto, proxies, OpenBao.
SERVER_MARKERS = ("ksef_emulator", "moto_server.py", "_fault_proxy", "bao server")


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


def _started(pid: str, boot: float, ticks: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return boot + int(fields[19]) / ticks  # field 22 of stat: start time in clock ticks since boot


def leftovers(run_id: str, since: float, by_command: bool = False) -> list[tuple[int, str]]:
    mine = {os.getpid(), os.getppid()}
    boot, ticks = _boot_time(), os.sysconf("SC_CLK_TCK")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            started = _started(entry.name, boot, ticks)
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or not ours to read
        marked = f"KSEF_RUN_ID={run_id}".encode() in environ
        server = by_command and any(marker in command for marker in SERVER_MARKERS) and started >= since - 1
        if (marked or server) and "leftovers.py" not in command:
            found.append((int(entry.name), command))
    return found


def main() -> int:
    run_id, since = sys.argv[1], float(sys.argv[2])
    found = leftovers(run_id, since, by_command="--by-command" in sys.argv[3:])
    for pid, command in found:
        print(f"left behind: pid {pid}: {command[:200]}", file=sys.stderr)
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    if found:
        time.sleep(2)
        for pid, _command in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        print(f"{len(found)} process(es) outlived the run (now stopped)", file=sys.stderr)
        return 1
    print("no process left behind")
    return 0


if __name__ == "__main__":
    sys.exit(main())
