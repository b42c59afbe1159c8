"""ksef.credentials.token delivering one token into every store type, through real playbooks.

The emulator, a real OpenBao server and moto_server are real processes over HTTP; the file is a real
ansible-vault encrypted file read back with the real `ansible-vault` command.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import boto3
import httpx
import pytest
import yaml

from ksef_emulator.testcerts import random_nip


pytestmark = pytest.mark.integration

PLAYBOOK = Path(__file__).parent / "playbooks" / "stores" / "declare.yml"
REGION = "eu-central-1"


@pytest.fixture
def context(emulator):
    nip = random_nip()
    seeded = emulator.admin("POST", "tokens", json={
        "context": f"Nip:{nip}", "author": f"Nip:{nip}", "status": "Active", "description": "bootstrap",
        "permissions": ["CredentialsManage", "CredentialsRead", "InvoiceRead", "InvoiceWrite"]})
    seeded.raise_for_status()
    return nip, seeded.json()["token"]


def test_one_token_in_every_store_type_and_rotated_in_all(emulator, context, run_playbook, tmp_path,
                                                          vault_server, aws_endpoint):
    nip, manager_token = context
    password_file = tmp_path / "vault.pass"
    password_file.write_text("integration vault password\n")
    secrets_file = tmp_path / "erp-secrets.yml"
    stores = [
        {"type": "file", "path": str(secrets_file), "format": "yaml", "key": "ksef_token",
         "vault_password_file": str(password_file)},
        {"type": "hashicorp_vault", "url": vault_server.url, "token": vault_server.root_token, "path": "ksef/erp"},
        {"type": "aws_secretsmanager", "name": "ksef/erp", "region": REGION, "endpoint_url": aws_endpoint},
        {"type": "aws_ssm", "name": "/ksef/erp/token", "region": REGION, "endpoint_url": aws_endpoint},
    ]
    extra = {"api_url": emulator.api_url, "nip": nip, "manager_token": manager_token, "token_name": "erp-sender",
             "stores": stores}
    env = {"KSEF_LOCK_DIR": str(tmp_path / "locks")}
    secretsmanager = boto3.client("secretsmanager", endpoint_url=aws_endpoint, region_name=REGION)
    ssm = boto3.client("ssm", endpoint_url=aws_endpoint, region_name=REGION)

    def held() -> dict:
        view = subprocess.run([str(Path(sys.executable).parent / "ansible-vault"), "view", "--vault-password-file",
                               str(password_file), str(secrets_file)], capture_output=True, text=True, check=True)
        kv = httpx.get(f"{vault_server.url}/v1/secret/data/ksef/erp",
                       headers={"X-Vault-Token": vault_server.root_token}).json()["data"]
        return {
            "file": yaml.safe_load(view.stdout)["ksef_token"],
            "vault": kv["data"]["token"],
            "secretsmanager": secretsmanager.get_secret_value(SecretId="ksef/erp")["SecretString"],
            "ssm": ssm.get_parameter(Name="/ksef/erp/token", WithDecryption=True)["Parameter"]["Value"],
        }

    def assert_no_secret(result, *values):
        text = result.stdout + result.stderr + repr(result.results)
        for value in values:
            assert value.split("|")[-1] not in text

    first = run_playbook(PLAYBOOK, extra, env=env)
    values = held()
    value = values["file"]
    assert set(values.values()) == {value}, "every store holds the same token"
    reference = value.split("|")[0]
    assert first.task("Declare the token")["changed"]
    assert_no_secret(first, value, manager_token)
    custom = httpx.get(f"{vault_server.url}/v1/secret/metadata/ksef/erp",
                       headers={"X-Vault-Token": vault_server.root_token}).json()["data"]["custom_metadata"]
    assert custom["token_reference_number"] == reference and value not in custom.values()

    again = run_playbook(PLAYBOOK, extra, env=env)
    assert not again.task("Declare the token")["changed"]
    assert held() == values

    rotated = run_playbook(PLAYBOOK, {**extra, "rotate": True}, env=env)
    new_values = held()
    new_value = new_values["file"]
    assert set(new_values.values()) == {new_value} and new_value != value
    assert_no_secret(rotated, value, new_value, manager_token)
    # The old token was revoked at once (no grace period), so no store's history keeps it: Vault's version 1 is
    # destroyed, and Secrets Manager's AWSPREVIOUS label is off the old version.
    revoke = next(a for a in rotated.task("Declare the token")["actions"] if a["action"] == "revoke")
    assert revoke["reference_number"] == reference and len(revoke["cleaned"]) == 2, revoke
    assert vault_server.server.metadata("ksef/erp")["versions"]["1"]["destroyed"] is True
    versions = secretsmanager.list_secret_version_ids(SecretId="ksef/erp")["Versions"]
    assert not [v for v in versions if "AWSPREVIOUS" in v.get("VersionStages", [])]

    gone = run_playbook(PLAYBOOK, {**extra, "state": "absent"}, env=env)
    assert gone.task("Declare the token")["changed"]
    assert [a["action"] for a in gone.task("Declare the token")["actions"]] == ["revoke", "purge"]
    view = subprocess.run([str(Path(sys.executable).parent / "ansible-vault"), "view", "--vault-password-file",
                           str(password_file), str(secrets_file)], capture_output=True, text=True, check=False)
    assert view.returncode != 0 or "ksef_token" not in (yaml.safe_load(view.stdout) or {})
    assert vault_server.data("ksef/erp") is None
    assert all(v["destroyed"] for v in vault_server.server.metadata("ksef/erp")["versions"].values())
    with pytest.raises(secretsmanager.exceptions.ClientError):
        secretsmanager.get_secret_value(SecretId="ksef/erp")
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name="/ksef/erp/token", WithDecryption=True)


def test_after_the_grace_period_the_revoked_value_leaves_vault_and_secrets_manager_history(
        emulator, context, run_playbook, tmp_path, vault_server, aws_endpoint):
    nip, manager_token = context
    stores = [
        {"type": "hashicorp_vault", "url": vault_server.url, "token": vault_server.root_token, "path": "ksef/erp"},
        {"type": "aws_secretsmanager", "name": "ksef/erp", "region": REGION, "endpoint_url": aws_endpoint},
    ]
    extra = {"api_url": emulator.api_url, "nip": nip, "manager_token": manager_token, "token_name": "erp-sender",
             "stores": stores}
    env = {"KSEF_LOCK_DIR": str(tmp_path / "locks")}
    secretsmanager = boto3.client("secretsmanager", endpoint_url=aws_endpoint, region_name=REGION)
    run_playbook(PLAYBOOK, extra, env=env)
    old = vault_server.data("ksef/erp")["token"]
    rotated = run_playbook(PLAYBOOK, {**extra, "rotate": True, "revoke_previous_after": "1s"}, env=env, diff=True)
    actions = [a["action"] for a in rotated.task("Declare the token")["actions"]]
    assert actions == ["rotate", "retain"], actions
    # The printed plan (no -v) says until when the old token stays valid.
    printed = " ".join(rotated.stdout.split())
    assert f"; the old one, {old.split('|')[0]}, stays valid until " in printed, rotated.stdout[-3000:]
    assert "Plan: 1 to rotate. Old ones: 1 kept until " in printed
    # during the grace period the previous value is still reachable where its users look for it
    assert secretsmanager.get_secret_value(SecretId="ksef/erp", VersionStage="AWSPREVIOUS")["SecretString"] == old
    assert vault_server.server.version_data("ksef/erp", 1) == {"token": old}
    time.sleep(2)  # past the grace period: the next run's decision no longer depends on timing
    later = run_playbook(PLAYBOOK, extra, env=env).task("Declare the token")
    revoke = next(a for a in later["actions"] if a["action"] == "revoke")
    assert revoke["reference_number"] == old.split("|")[0] and len(revoke["cleaned"]) == 2, revoke
    assert vault_server.server.version_data("ksef/erp", 1) is None
    versions = secretsmanager.list_secret_version_ids(SecretId="ksef/erp")["Versions"]
    assert not [v for v in versions if "AWSPREVIOUS" in v.get("VersionStages", [])]
    assert old.split("|")[-1] not in repr(later)


def test_aws_credentials_as_options_and_the_documented_iam_policy_through_a_playbook(
        emulator, context, run_playbook, tmp_path, aws_iam, monkeypatch):
    nip, manager_token = context
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    store = {"type": "aws_ssm", "name": "/ksef/playbook/token", "region": REGION, "endpoint_url": aws_iam["endpoint"]}
    extra = {"api_url": emulator.api_url, "nip": nip, "manager_token": manager_token, "token_name": "erp-sender"}
    env = {"KSEF_LOCK_DIR": str(tmp_path / "locks")}

    def created() -> list:
        listed = emulator.admin("GET", "tokens", params={"context": f"Nip:{nip}"}).json()["tokens"]
        return [t for t in listed if "erp-sender" in (t["description"] or "")]

    denied = run_playbook(PLAYBOOK, {**extra, "stores": [{**store, **aws_iam["nobody"]}]}, env=env, expect_rc=2,
                          verbosity=3)
    message = denied.task("Declare the token")["msg"]
    assert "local problem (permissions)" in message and "docs/stores.md#the-aws-iam-policy" in message, message
    assert created() == [], "the store refused before any token was created"
    assert aws_iam["nobody"]["secret_key"] not in denied.stdout + denied.stderr
    allowed = run_playbook(PLAYBOOK, {**extra, "stores": [{**store, **aws_iam["allowed"]}]}, env=env, verbosity=3)
    assert allowed.task("Declare the token")["changed"] and len(created()) == 1
    assert aws_iam["allowed"]["secret_key"] not in allowed.stdout + allowed.stderr


SHARED_FILES = Path(__file__).parent / "playbooks" / "stores" / "shared_files.yml"
PARALLEL_HOSTS = 10


def test_parallel_hosts_writing_keys_of_one_shared_file_lose_none(emulator, context, run_playbook, tmp_path):
    """Ten forks write their own key of the same yaml, env and ansible-vault file at once: every write holds the
    file's lock across its read-modify-write, so every key ends up holding its host's live token."""
    nip, manager_token = context
    password_file = tmp_path / "vault.pass"
    password_file.write_text("shared file vault password\n")
    hosts = [f"writer_{n}" for n in range(PARALLEL_HOSTS)]
    inventory = tmp_path / "writers.ini"
    inventory.write_text("\n".join(f"{host} ansible_connection=local" for host in hosts) + "\n")
    extra = {"api_url": emulator.api_url, "nip": nip, "manager_token": manager_token, "shared_dir": str(tmp_path),
             "vault_password_file": str(password_file)}
    result = run_playbook(SHARED_FILES, extra, inventory=inventory, extra_args=["-f", str(PARALLEL_HOSTS)],
                          env={"KSEF_LOCK_DIR": str(tmp_path / "locks")})
    assert sum(1 for r in result.results if r["result"].get("changed")) == PARALLEL_HOSTS, result.stdout[-3000:]

    listed = emulator.admin("GET", "tokens", params={"context": f"Nip:{nip}"}).json()["tokens"]
    live = {t["referenceNumber"]: t["description"] for t in listed if t["status"] == "Active"}
    view = subprocess.run([str(Path(sys.executable).parent / "ansible-vault"), "view", "--vault-password-file",
                           str(password_file), str(tmp_path / "shared-vault.yml")], capture_output=True, text=True,
                          check=True)
    held = {
        "yaml": yaml.safe_load((tmp_path / "shared.yml").read_text()),
        "env": dict(line.split("=", 1) for line in (tmp_path / "shared.env").read_text().splitlines()),
        "ansible-vault": yaml.safe_load(view.stdout),
    }
    for form, keys in held.items():
        assert len(keys) == PARALLEL_HOSTS, f"{form}: {sorted(keys)}"
    for host in hosts:
        values = {held["yaml"][host], held["env"][f"KSEF_{host.upper()}"], held["ansible-vault"][host]}
        assert len(values) == 1, f"{host}: the three files hold different tokens"
        reference = values.pop().split("|")[0]
        assert reference in live and host in live[reference], f"{host}: the stored token is not its live token"
