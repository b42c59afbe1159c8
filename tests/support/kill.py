"""Run `ansible-playbook` in the background and SIGKILL every process of that run, as a crash would.

Killing the playbook's process group is not enough: ansible-core's worker processes call setsid(), so a
worker and the module it runs live in sessions of their own and carry on (the module would finish or
roll back the rotation after the controller died). `kill()` therefore stops the whole process tree
(the controller and every descendant, found through /proc), then SIGKILLs each of them.

The environment is the one the `run_playbook` fixture (tests/conftest.py) gives a playbook, so a killed run
and the rerun that follows use the same collection, interpreter and configuration.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
VENV_BIN = Path(sys.executable).parent


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy (returned); AssertionError naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class BackgroundPlaybook:
    """`ansible-playbook PLAYBOOK -e @vars` started with start_new_session, so its pid is the group id."""

    def __init__(self, playbook: Path, extra_vars: dict, workdir: Path, env: dict | None = None):
        workdir.mkdir(parents=True, exist_ok=True)
        vars_file = workdir / "background-vars.json"
        vars_file.write_text(json.dumps(extra_vars))
        self.log_path = workdir / "background-playbook.log"
        self.results_path = workdir / "background-results.jsonl"
        full_env = dict(os.environ)
        full_env.update({
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".collections"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_CALLBACK_PLUGINS": str(REPO / "tests" / "integration" / "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "result_dump",
            "KSEF_TEST_RESULTS_FILE": str(self.results_path),
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        })
        full_env.update(env or {})
        command = [str(VENV_BIN / "ansible-playbook"), str(playbook), "-i", "localhost,", "-c", "local",
                   "-e", f"@{vars_file}"]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=full_env, cwd=workdir,
                                         start_new_session=True)

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def tree(self) -> set[int]:
        """Pids of the controller and every live descendant (workers, modules, their ansible-vault children)."""
        parents = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":  # fields after the name: state, ppid, pgrp, ...
                parents[int(entry.name)] = int(fields[1])
        tree = {self.proc.pid} if self.proc.pid in parents else set()
        grew = True
        while grew:
            children = {pid for pid, ppid in parents.items() if ppid in tree} - tree
            tree |= children
            grew = bool(children)
        return tree

    def kill(self) -> set[int]:
        """Freeze the whole tree (so nothing forks meanwhile), then SIGKILL each process; only pids we started."""
        assert self.running, f"the playbook ended before the kill point:\n{self.output()[-3000:]}"
        frozen: set[int] = set()
        while True:
            fresh = self.tree() - frozen
            if not fresh:
                break
            for pid in fresh:
                _signal(pid, signal.SIGSTOP)
            frozen |= fresh
        for pid in frozen:
            _signal(pid, signal.SIGKILL)
        self.proc.wait(10)
        wait_until(lambda: not any(_alive(pid) for pid in frozen), 10, "every process of the killed run to end")
        return frozen

    def wait(self, timeout: float = 120) -> int:
        return self.proc.wait(timeout)

    def task(self, name: str) -> dict:
        """The last result of a task (the run must have ended), as the run_playbook fixture gives it."""
        lines = self.results_path.read_text().splitlines() if self.results_path.exists() else []
        found = [json.loads(line)["result"] for line in lines if line.strip() and json.loads(line)["task"] == name]
        assert found, f"task {name!r} has no result:\n{self.output()[-3000:]}"
        return found[-1]

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
