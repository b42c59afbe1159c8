"""scripts/leftovers.py finds what the run left behind by the run's mark, and nothing else.

The mark is KSEF_RUN_ID: inherited from the Makefile, or (under ansible-test, whose unit tests run in an
environment of their own) set by tests/support/processes.py from the run id file of the copy ansible-test runs
in. Servers somebody else started (their own emulator, OpenBao, moto; another checkout's test run) carry no
mark of this run and are never listed nor signalled, whatever they run and whenever they started.
"""
from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import processes
from tests.support.fixtures import _free_port, _moto_server_command
from tests.support.openbao import _free_port_pair, bao_binary

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "leftovers.py"
SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def _load():
    spec = importlib.util.spec_from_file_location("leftovers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fresh_run_id() -> str:
    return "unit-%d-%d" % (os.getpid(), time.monotonic_ns())


def _check(run_id: str) -> subprocess.CompletedProcess:
    """The check exactly as the Makefile runs it once a run is over."""
    return subprocess.run([sys.executable, str(SCRIPT), run_id], capture_output=True, text=True, check=False,
                          timeout=60)


def _wait_until_gone(proc: subprocess.Popen, seconds: float = 20) -> bool:
    try:
        proc.wait(seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def test_a_marked_process_is_found_and_the_check_fails_and_stops_it():
    run_id = _fresh_run_id()
    stray = subprocess.Popen(SLEEPER, env=dict(os.environ, KSEF_RUN_ID=run_id))
    try:
        assert [pid for pid, _command in _load().leftovers(run_id)] == [stray.pid]
        done = _check(run_id)
        assert done.returncode == 1 and "left behind: pid %d" % stray.pid in done.stderr
        assert _wait_until_gone(stray, 10)  # stopped by the check
    finally:
        if stray.poll() is None:
            stray.kill()


def test_nothing_marked_passes():
    done = _check("no-such-run")
    assert done.returncode == 0 and "no process left behind" in done.stdout


def test_a_run_id_is_required():
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 2 and "usage" in done.stderr


# A starter under ansible-test: an environment without KSEF_RUN_ID, tests/support from the copy of the collection
# (here: a copy of processes.py and die_with_parent.py with the run id file next to them, as ansible_test.sh
# writes it). It starts a server through processes.start, prints its pid and stays (the server dies with it).
SANITISED_STARTER = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("processes", sys.argv[1])
processes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(processes)
server = processes.start([sys.executable, "-c", "import time; time.sleep(600)"])
print(server.pid, flush=True)
time.sleep(600)
"""


def _sanitised_starter(copy_root: Path, run_id: str) -> tuple[subprocess.Popen, int]:
    support = copy_root / "tests" / "support"
    support.mkdir(parents=True)
    for name in ("processes.py", "die_with_parent.py"):
        shutil.copy(Path(processes.__file__).with_name(name), support / name)
    (copy_root / "tests" / "output").mkdir()
    (copy_root / "tests" / "output" / "ksef-run-id").write_text(run_id + "\n")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"), "LC_ALL": "C.UTF-8"}
    starter = subprocess.Popen([sys.executable, "-c", SANITISED_STARTER, str(support / "processes.py")], env=env,
                               stdout=subprocess.PIPE, text=True)
    server = int(starter.stdout.readline())
    deadline = time.monotonic() + 20
    while b"time.sleep(600)" not in Path(f"/proc/{server}/cmdline").read_bytes():  # the server runs
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    return starter, server


def _foreign(command: list[str], workdir: Path, **env: str) -> subprocess.Popen:
    """Somebody else's server: no mark of this run in its environment, a session of its own (it still goes when
    this test process goes, through die_with_parent.py, so a failed test leaves nothing behind)."""
    environment = {key: value for key, value in os.environ.items()
                   if key != processes.RUN_MARK and not key.startswith(("VAULT_", "BAO_"))}
    environment.update(env)
    log = open(workdir / "server.log", "wb")
    try:
        return subprocess.Popen([sys.executable, str(processes._WRAPPER), str(os.getpid()), *command],
                                env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=workdir)
    finally:
        log.close()


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except OSError:
        return False


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_check_stops_what_the_run_left_and_leaves_other_users_servers_alone(tmp_path):
    if _moto_server_command() is None:
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    for name in ("emulator", "openbao", "moto", "copy"):
        (tmp_path / name).mkdir()
    emulator_port, bao_port, moto_port = _free_port(), _free_port_pair(), _free_port()
    others = {
        f"http://127.0.0.1:{emulator_port}/_emulator/health": _foreign(
            [sys.executable, "-m", "ksef_emulator", "--host", "127.0.0.1", "--port", str(emulator_port),
             "--state-dir", str(tmp_path / "emulator" / "state")], tmp_path / "emulator"),
        f"http://127.0.0.1:{bao_port}/v1/sys/health": _foreign(
            [bao_binary(), "server", "-dev", f"-dev-listen-address=127.0.0.1:{bao_port}",
             f"-dev-root-token-id=root-{secrets.token_hex(8)}", "-dev-no-store-token"], tmp_path / "openbao",
            HOME=str(tmp_path / "openbao")),
        f"http://127.0.0.1:{moto_port}/moto-api/": _foreign(
            [*_moto_server_command(), "-H", "127.0.0.1", "-p", str(moto_port)], tmp_path / "moto"),
    }
    run_id = _fresh_run_id()
    starter = None
    try:
        deadline = time.monotonic() + 60
        while not all(_answers(url) for url in others):
            assert all(proc.poll() is None for proc in others.values()), "a server of the other user stopped"
            assert time.monotonic() < deadline, "the other user's servers did not start"
            time.sleep(0.1)
        starter, left_behind = _sanitised_starter(tmp_path / "copy", run_id)
        their_pids = {proc.pid for proc in others.values()}

        # The current run's own check (when pytest runs inside `make test`) would not list them either.
        current = os.environ.get(processes.RUN_MARK)
        if current:
            assert their_pids.isdisjoint(pid for pid, _command in _load().leftovers(current))

        done = _check(run_id)
        assert done.returncode == 1, done.stderr
        assert f"left behind: pid {left_behind}:" in done.stderr
        assert done.stderr.count("left behind:") == 1, done.stderr  # the server, not its unmarked starter
        assert "1 process(es) outlived the run" in done.stderr
        assert not _running(left_behind), "the left-behind server still runs"
        for url, proc in others.items():
            assert proc.poll() is None and _answers(url), f"{url} was stopped by somebody else's check"
    finally:
        if starter is not None:
            starter.kill()
            starter.wait(10)
        for proc in others.values():
            proc.terminate()
        for proc in others.values():
            if not _wait_until_gone(proc, 10):
                proc.kill()
                proc.wait(5)
