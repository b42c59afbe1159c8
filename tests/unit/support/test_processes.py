"""A server started for a test dies with the process that started it, even one that leaves with os._exit."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.support import processes

STARTER = """
import sys, time
sys.path.insert(0, {root!r})
from tests.support import processes
child = processes.start([sys.executable, "-c", "import time; time.sleep(600)"])
print(child.pid, flush=True)
time.sleep(600)
"""


def test_the_server_goes_when_its_starter_is_killed(tmp_path):
    root = os.path.dirname(os.path.dirname(processes.__file__))
    root = os.path.dirname(root)  # the repository (tests/support/processes.py -> repo)
    starter = subprocess.Popen([sys.executable, "-c", STARTER.format(root=root)], stdout=subprocess.PIPE, text=True)
    try:
        child = int(starter.stdout.readline())
        deadline = time.monotonic() + 20
        while b"time.sleep(600)" not in open(f"/proc/{child}/cmdline", "rb").read():  # the server runs
            assert time.monotonic() < deadline
            time.sleep(0.02)
        starter.send_signal(signal.SIGKILL)  # no teardown, no atexit: like a forked test leaving with os._exit
        starter.wait(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                return
            with open(f"/proc/{child}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return  # a zombie: ended, waiting for init to reap it
            time.sleep(0.05)
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the server outlived its starter")
    finally:
        if starter.poll() is None:
            starter.kill()
