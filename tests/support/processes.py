"""Server processes started by tests die with whoever started them.

ansible-test runs unit tests in forked processes that leave with os._exit, so a fixture's teardown never
runs there; a server that outlived its test would stay behind, reparented to init. A server started here
asks the kernel first (PR_SET_PDEATHSIG, kept across exec) for SIGTERM when its parent goes, however the
parent goes; then it becomes the server (tests/support/die_with_parent.py). No preexec_fn: test processes
run threads, and a fork with threads must do nothing but exec.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_WRAPPER = Path(__file__).with_name("die_with_parent.py")


def start(command, **kwargs) -> subprocess.Popen:
    """subprocess.Popen for a test server that must not outlive the process that started it."""
    return subprocess.Popen([sys.executable, str(_WRAPPER), str(os.getpid()), *map(str, command)], **kwargs)
