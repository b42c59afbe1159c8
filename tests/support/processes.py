"""Server processes started by tests die with whoever started them, and carry the run's mark.

ansible-test runs unit tests in forked processes that leave with os._exit, so a fixture's teardown never
runs there; a server that outlived its test would stay behind, reparented to init. A server started here
asks the kernel first (PR_SET_PDEATHSIG, kept across exec) for SIGTERM when its parent goes, however the
parent goes; then it becomes the server (tests/support/die_with_parent.py). No preexec_fn: test processes
run threads, and a fork with threads must do nothing but exec.

The mark is KSEF_RUN_ID, which `make test` exports and scripts/leftovers.py looks for once the run is over.
ansible-test passes unit tests an environment of its own without it, so scripts/ansible_test.sh writes the
run's id into its copy of the collection (RUN_ID_FILE) and a server started there is marked from that file:
every server a run starts carries the run's mark, whatever environment its starter had.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_WRAPPER = Path(__file__).with_name("die_with_parent.py")
RUN_MARK = "KSEF_RUN_ID"
# Written by scripts/ansible_test.sh into the copy ansible-test runs in (tests/output/ of that copy).
RUN_ID_FILE = Path(__file__).resolve().parents[1] / "output" / "ksef-run-id"


def run_id() -> str:
    """The mark of the run this process belongs to, or "" outside a marked run."""
    if os.environ.get(RUN_MARK):
        return os.environ[RUN_MARK]
    try:
        return RUN_ID_FILE.read_text().strip()
    except OSError:
        return ""


def start(command, *, env=None, **kwargs) -> subprocess.Popen:
    """subprocess.Popen for a test server that must not outlive the process that started it."""
    env = dict(os.environ if env is None else env)
    mark = run_id()
    if mark:
        env[RUN_MARK] = mark
    return subprocess.Popen([sys.executable, str(_WRAPPER), str(os.getpid()), *map(str, command)], env=env,
                            **kwargs)
