"""Shared fixtures: a real emulator process over HTTP, and a real ansible-playbook runner.

Every suite (emulator, integration, unit) uses these; nothing here mocks the API.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
COLLECTIONS = REPO / ".collections"
OUTPUT = REPO / "tests" / "output"
RATELIMIT_DIR = OUTPUT / "ratelimit"

# Unit tests import the collection as ansible_collections.ksef.credentials.* from the working tree,
# and shared test servers (Vault KV v2, moto) as tests.support.*.
for _path in (COLLECTIONS, REPO):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

pytest_plugins = ["tests.support.fixtures", "tests.support.rotation_world"]

from tests.support import processes  # noqa: E402 - needs the sys.path entries above


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Emulator:
    """A running `python -m ksef_emulator` process and small helpers to talk to it."""

    port: int
    state_dir: Path
    log_path: Path
    args: list[str]
    proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/v2"

    def start(self, timeout: float = 20.0) -> "Emulator":
        # Every exchange is captured for the OpenAPI conformance check (tests/emulator/test_zz_conformance.py),
        # unless the test captures to a file of its own.
        capture = [] if "--capture" in self.args else [
            "--capture", str(self.log_path.with_name(f"capture-{self.log_path.stem}.jsonl"))]
        cmd = [sys.executable, "-m", "ksef_emulator", "--host", "127.0.0.1", "--port", str(self.port),
               "--state-dir", str(self.state_dir), *capture, *self.args]
        self._log = open(self.log_path, "ab")
        self.proc = processes.start(cmd, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.proc.returncode}: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/_emulator/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"emulator did not become healthy: {self.log_path.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()

    def restart(self) -> "Emulator":
        self.stop()
        return self.start()

    def admin(self, method: str, path: str, **kwargs) -> httpx.Response:
        """Call the test-only control API under /_emulator/."""
        return httpx.request(method, f"{self.base_url}/_emulator/{path.lstrip('/')}", timeout=30, **kwargs)

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        """Call the KSeF API itself (path relative to /v2)."""
        return httpx.request(method, f"{self.api_url}/{path.lstrip('/')}", timeout=30, **kwargs)

    def stats(self) -> dict:
        return self.admin("GET", "stats").json()

    def reset_stats(self) -> None:
        self.admin("POST", "stats/reset").raise_for_status()


# Under pytest-xdist every worker starts its own emulators: their logs and captures carry the worker's name.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    # Captures are checked against the contract at the end of the run, and logs are read by tests:
    # start from none left by an earlier run. Only the run's controller cleans (not an xdist worker), and
    # not when a second step of the same run checks what the first wrote (KSEF_KEEP_OUTPUT=1).
    if hasattr(session.config, "workerinput") or os.environ.get("KSEF_KEEP_OUTPUT") == "1":
        return
    for pattern in ("capture-*.jsonl", "emulator-*.log", "ratelimit/*"):
        for stale in OUTPUT.glob(pattern):
            stale.unlink()


def pytest_collection_modifyitems(session, config, items):
    # Opt-in tests, so that `make test` stays within its time budget: `soak` (long loops, further cases of a kind
    # make test already covers) runs in `make test-soak` (KSEF_SOAK=1); `ee` (jobs in the execution environment
    # image, which `make ee` builds) in `make ee-test` (KSEF_EE=1).
    for marker, variable in (("soak", "KSEF_SOAK"), ("ee", "KSEF_EE")):
        if os.environ.get(variable) != "1":
            opted_out = [i for i in items if i.get_closest_marker(marker)]
            if opted_out:
                config.hook.pytest_deselected(items=opted_out)
                items[:] = [i for i in items if not i.get_closest_marker(marker)]
    # The check of every capture the suite wrote must run after every other test.
    last = [i for i in items if i.name.startswith("test_every_capture_written_by_the_suite")]
    items[:] = [i for i in items if i not in last] + last


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


@pytest.fixture
def emulator_factory(tmp_path_factory, output_dir):
    """Start emulators with custom options: `emulator_factory("--rate-limits", "prd")`."""
    started: list[Emulator] = []

    def make(*args: str) -> Emulator:
        state = tmp_path_factory.mktemp("emulator-state")
        log = output_dir / f"emulator-{WORKER}-{state.name}.log"
        emu = Emulator(port=free_port(), state_dir=state, log_path=log, args=list(args))
        started.append(emu.start())
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory, output_dir):
    """One shared emulator for the whole session (TEST-like limits, fast activation, logins that end at once).

    A login's status is 200 at the first look, so the ~500 logins of a run wait for no poll; the modules' waiting
    on status 100 is proven against emulators with the default delay (emulator_factory) and in the unit tests, and
    the emulator tests that must see status 100 set an hour-long delay (tests/emulator/conftest.py).
    """
    state = tmp_path_factory.mktemp("emulator-shared")
    emu = Emulator(port=free_port(), state_dir=state, log_path=output_dir / f"emulator-{WORKER}-shared.log",
                   args=["--rate-limits", "te", "--activation-delay", "0.3", "--auth-delay", "0"])
    emu.start()
    yield emu
    emu.stop()


@dataclass
class PlaybookResult:
    rc: int
    stdout: str
    stderr: str
    results: list[dict] = field(default_factory=list)

    def task(self, name: str) -> dict:
        """The last result of the task with this name (raises if it never ran)."""
        found = [r for r in self.results if r["task"] == name]
        if not found:
            raise AssertionError(f"task {name!r} has no result; tasks seen: {[r['task'] for r in self.results]}")
        return found[-1]["result"]

    @property
    def recap_changed(self) -> int:
        return sum(1 for r in self.results if r["result"].get("changed"))


@pytest.fixture
def run_playbook(tmp_path, output_dir):
    """Run a playbook (a path or YAML text) with the working-tree collection; returns PlaybookResult.

    Fails the test when rc differs from `expect_rc` (default 0), printing the output.
    """
    counter = {"n": 0}

    def run(playbook, extra_vars: dict | None = None, *, check: bool = False, diff: bool = False,
            verbosity: int = 0, env: dict | None = None, expect_rc: int | None = 0,
            inventory: str | Path | None = None, extra_args: list[str] | None = None,
            timeout: float = 300) -> PlaybookResult:
        counter["n"] += 1
        n = counter["n"]
        if isinstance(playbook, str) and "\n" in playbook:
            path = tmp_path / f"playbook-{n}.yml"
            path.write_text(playbook)
        else:
            path = Path(playbook)
        results_file = tmp_path / f"results-{n}.jsonl"
        cmd = [str(VENV_BIN / "ansible-playbook"), str(path)]
        if inventory is not None:
            cmd += ["-i", str(inventory)]
        else:
            cmd += ["-i", "localhost,", "-c", "local"]
        if extra_vars:
            vars_file = tmp_path / f"vars-{n}.json"
            vars_file.write_text(json.dumps(extra_vars))
            cmd += ["-e", f"@{vars_file}"]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        if verbosity:
            cmd.append("-" + "v" * verbosity)
        cmd += extra_args or []
        full_env = dict(os.environ)
        full_env.update({
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_CALLBACK_PLUGINS": str(REPO / "tests" / "integration" / "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "result_dump",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_NOCOLOR": "1",
            "KSEF_TEST_RESULTS_FILE": str(results_file),
            # ansible-core 2.21 returns a module's `invocation` (its arguments, secrets masked) only when asked; the
            # tests read it to see what a role passed to its module. Earlier versions always return it.
            "ANSIBLE_INJECT_INVOCATION": "True",
            # The modules pace their calls to KSeF's limits; the shared emulator runs the TEST profile, and the
            # pacing state of a test run stays in the run's own folder (tests may override both through env=).
            "KSEF_RATE_LIMITS": "te",
            "KSEF_RATELIMIT_DIR": str(RATELIMIT_DIR),
            # A fixed end of token authentication, so that no test depends on today's date; the tests of that
            # date (test_token_info.py) and the secrets canary set their own.
            "KSEF_TOKEN_AUTH_END": "2099-12-31",
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        })
        full_env.update(env or {})
        proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, cwd=tmp_path, timeout=timeout,
                              check=False)
        results = []
        if results_file.exists():
            results = [json.loads(line) for line in results_file.read_text().splitlines() if line.strip()]
        res = PlaybookResult(proc.returncode, proc.stdout, proc.stderr, results)
        if expect_rc is not None and proc.returncode != expect_rc:
            pytest.fail(f"ansible-playbook rc={proc.returncode} (expected {expect_rc})\n"
                        f"--- stdout ---\n{proc.stdout[-8000:]}\n--- stderr ---\n{proc.stderr[-4000:]}")
        return res

    return run
