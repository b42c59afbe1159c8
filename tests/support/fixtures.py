"""Pytest fixtures for the secret stores: a HashiCorp Vault KV v2 test server and a moto_server for AWS.

Use as a plugin: `pytest_plugins = ["tests.support.fixtures"]`, or import the fixtures into a test module.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import processes
from tests.support.vault_kv2_server import VaultKV2TestServer

AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "eu-central-1",
    "AWS_DEFAULT_REGION": "eu-central-1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def vault_server():
    """A fresh Vault KV v2 test server (mounts `secret` and `kv`, namespace `team-a`) on a loopback port."""
    server = VaultKV2TestServer().start()
    yield server
    server.stop()


def _moto_server_command() -> list[str] | None:
    # moto's server, started through tests/support/moto_server.py: moto with AWS's AWSCURRENT semantics fixed.
    try:
        import moto.server  # noqa: F401  pylint: disable=unused-import
    except ImportError:
        return None
    return [sys.executable, str(Path(__file__).with_name("moto_server.py"))]


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """`moto_server` (from moto[server]) as a subprocess on a free loopback port; yields its endpoint_url."""
    command = _moto_server_command()
    if command is None:
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    env = {**os.environ, **AWS_TEST_ENV}
    with open(log_path, "wb") as log:
        proc = processes.start([*command, "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                               stderr=subprocess.STDOUT, env=env)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto_server exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{endpoint}/moto-api/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def aws_endpoint(moto_server, monkeypatch):
    """The moto_server endpoint with its state reset and fake credentials in the environment."""
    httpx.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server
