"""scripts/leftovers.py finds a process the run left behind, by the run's mark or by what it runs."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "leftovers.py"


def _load():
    spec = importlib.util.spec_from_file_location("leftovers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_marked_process_is_found_and_the_check_fails_and_stops_it():
    run_id = "unit-%d-%d" % (os.getpid(), time.monotonic_ns())
    since = time.time()
    env = dict(os.environ, KSEF_RUN_ID=run_id)
    stray = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], env=env)
    try:
        found = _load().leftovers(run_id, since)
        assert [pid for pid, _command in found] == [stray.pid]
        done = subprocess.run([sys.executable, str(SCRIPT), run_id, str(since)], capture_output=True, text=True,
                              check=False, timeout=60)
        assert done.returncode == 1 and "left behind: pid %d" % stray.pid in done.stderr
        assert stray.wait(10) is not None  # stopped by the check
    finally:
        if stray.poll() is None:
            stray.kill()


def test_nothing_marked_passes():
    done = subprocess.run([sys.executable, str(SCRIPT), "no-such-run", str(time.time())], capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0 and "no process left behind" in done.stdout
