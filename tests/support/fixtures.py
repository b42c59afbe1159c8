"""Pytest fixtures for the secret stores: a real OpenBao server (Vault's API) and a moto_server for AWS.

Use as a plugin: `pytest_plugins = ["tests.support.fixtures"]`, or import the fixtures into a test module.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import processes
from tests.support.openbao import OpenBao, VaultFaultProxy

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


@pytest.fixture(scope="session")
def openbao(tmp_path_factory):
    """One real OpenBao dev server (plain HTTP on loopback) per test process, configured for the tests."""
    server = OpenBao(tmp_path_factory.mktemp("openbao")).start()
    try:
        yield server.configure()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def openbao_tls(tmp_path_factory):
    """One real OpenBao dev server with TLS (its own CA, in `ca_path`) and TLS certificate auth."""
    server = OpenBao(tmp_path_factory.mktemp("openbao-tls"), tls=True).start()
    try:
        yield server.configure()
    finally:
        server.stop()


@pytest.fixture
def no_vault_environment(monkeypatch):
    """No VAULT_*/BAO_* variable of the caller leaks into a test."""
    for name in list(os.environ):
        if name.startswith(("VAULT_", "BAO_")):
            monkeypatch.delenv(name)


@pytest.fixture
def vault_server(openbao, no_vault_environment):
    """The OpenBao server with empty KV mounts, behind a fault proxy (`url`, `root_token`, `faults`,
    `requests`, `data()`, `server`)."""
    openbao.reset()
    proxy = VaultFaultProxy(openbao).start()
    yield proxy
    proxy.stop()


def _moto_server_command() -> list[str] | None:
    # moto's server, started through tests/support/moto_server.py: moto with AWS's AWSCURRENT semantics fixed.
    try:
        import moto.server  # noqa: F401  pylint: disable=unused-import
    except ImportError:
        return None
    return [sys.executable, str(Path(__file__).with_name("moto_server.py"))]


def _start_moto(log_path: Path, extra_env: dict | None = None):
    """moto_server on a free loopback port: (process, endpoint_url)."""
    command = _moto_server_command()
    if command is None:
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = _free_port()
    env = {**os.environ, **AWS_TEST_ENV, **(extra_env or {})}
    with open(log_path, "wb") as log:
        proc = processes.start([*command, "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                               stderr=subprocess.STDOUT, env=env)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{endpoint}/moto-api/", timeout=1).status_code == 200:
                return proc, endpoint
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            _stop(proc)
            raise RuntimeError(f"moto_server did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.1)


def _stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """`moto_server` (from moto[server]) as a subprocess on a free loopback port; yields its endpoint_url."""
    proc, endpoint = _start_moto(tmp_path_factory.mktemp("moto") / "moto_server.log")
    try:
        yield endpoint
    finally:
        _stop(proc)


IAM_POLICY_FILE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "aws" / "ksef-store-iam.json"
# Requests moto answers before it starts to check signatures and IAM policies: the setup below, exactly.
_IAM_SETUP_CALLS = 5


@pytest.fixture(scope="session")
def aws_iam(tmp_path_factory):
    """A moto_server that enforces IAM: `endpoint`, and the keys of the users `allowed` (the documented policy,
    docs/examples/aws/ksef-store-iam.json) and `nobody` (no policy at all).

    moto judges every Secrets Manager and SSM action against the resource `*` (it has no resource ARNs for
    them), so the documented policy's actions are loaded as they are and its resources as `*`: this proves the
    list of actions, not the ARN patterns."""
    proc, endpoint = _start_moto(tmp_path_factory.mktemp("moto-iam") / "moto_server.log",
                                 {"INITIAL_NO_AUTH_ACTION_COUNT": str(_IAM_SETUP_CALLS)})
    try:
        import boto3

        iam = boto3.client("iam", endpoint_url=endpoint, region_name=AWS_TEST_ENV["AWS_REGION"],
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        keys = {}
        iam.create_user(UserName="allowed")
        policy = json.loads(IAM_POLICY_FILE.read_text())
        for statement in policy["Statement"]:
            statement["Resource"] = "*"
        iam.put_user_policy(UserName="allowed", PolicyName="ksef-store", PolicyDocument=json.dumps(policy))
        keys["allowed"] = iam.create_access_key(UserName="allowed")["AccessKey"]
        iam.create_user(UserName="nobody")
        keys["nobody"] = iam.create_access_key(UserName="nobody")["AccessKey"]
        yield {"endpoint": endpoint, **{user: {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}
                                        for user, key in keys.items()}}
    finally:
        _stop(proc)


@pytest.fixture
def aws_endpoint(moto_server, monkeypatch):
    """The moto_server endpoint with its state reset and fake credentials in the environment."""
    httpx.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server
