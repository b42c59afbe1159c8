"""The hashicorp_vault store as its users configure it, through ansible-playbook, against a real OpenBao server:
auth methods and their mount points, the usual environment variables, TLS, the documented policy, KV version 1,
and the login tokens the store creates (revoked when the task ends).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from ksef_emulator.testcerts import random_nip

pytestmark = pytest.mark.integration

PLAYBOOK = Path(__file__).parent / "playbooks" / "stores" / "declare.yml"
TASK = "Declare the token"


@pytest.fixture
def world(emulator, run_playbook, vault_server, openbao, tmp_path):
    nip = random_nip()
    seeded = emulator.admin("POST", "tokens", json={
        "context": f"Nip:{nip}", "author": f"Nip:{nip}", "status": "Active", "description": "bootstrap",
        "permissions": ["CredentialsManage", "CredentialsRead", "InvoiceRead", "InvoiceWrite"]})
    seeded.raise_for_status()

    class World:
        manager_token = seeded.json()["token"]

        @staticmethod
        def extra(*stores, **more) -> dict:
            return {"api_url": emulator.api_url, "nip": nip, "manager_token": World.manager_token,
                    "token_name": "erp-sender", "stores": list(stores), **more}

        @staticmethod
        def env(**more) -> dict:
            return {"KSEF_LOCK_DIR": str(tmp_path / "locks"), **more}

        @staticmethod
        def created() -> list:
            listed = emulator.admin("GET", "tokens", params={"context": f"Nip:{nip}"}).json()["tokens"]
            return [t["referenceNumber"] for t in listed if "erp-sender" in (t["description"] or "")]

        @staticmethod
        def run(*stores, expect_rc=0, env=None, verbosity=0, **more):
            result = run_playbook(PLAYBOOK, World.extra(*stores, **more), env=World.env(**(env or {})),
                                  expect_rc=expect_rc, verbosity=verbosity)
            assert World.manager_token.split("|")[-1] not in result.stdout + result.stderr
            return result

    return World


def test_approle_at_its_mount_point_from_the_environment_and_no_login_token_left(world, vault_server, openbao):
    role_id, secret_id = openbao.approle("ksef-approle")
    store = {"type": "hashicorp_vault", "path": "ksef/erp", "auth_method": "approle", "mount_point": "ksef-approle"}
    env = {"VAULT_ADDR": vault_server.url, "ANSIBLE_HASHI_VAULT_ROLE_ID": role_id,
           "ANSIBLE_HASHI_VAULT_SECRET_ID": secret_id}
    before = openbao.live_tokens()
    first = world.run(store, env=env, verbosity=4)
    assert first.task(TASK)["changed"] and vault_server.data("ksef/erp")["token"].startswith(world.created()[0])
    assert secret_id not in first.stdout + first.stderr, "the AppRole secret id leaked at -vvvv"
    again = world.run(store, env=env)
    assert not again.task(TASK)["changed"]
    assert openbao.live_tokens() == before, "each run revoked the login token it created"
    assert [r.path for r in vault_server.requests].count("/v1/auth/token/revoke-self") == 2


def test_jwt_login_and_the_bao_variables(world, vault_server, openbao):
    store = {"type": "hashicorp_vault", "path": "ksef/erp", "auth_method": "jwt", "role_id": "ksef",
             "jwt": openbao.jwt()}
    result = world.run(store, env={"BAO_ADDR": vault_server.url})
    assert result.task(TASK)["changed"] and vault_server.data("ksef/erp")


def test_a_kv_version_1_mount_fails_before_any_ksef_call(world, vault_server, emulator):
    store = {"type": "hashicorp_vault", "url": vault_server.url, "token": vault_server.root_token,
             "mount": "kv1", "path": "ksef/erp"}
    failed = world.run(store, expect_rc=2).task(TASK)
    assert "store[0].mount" in failed["msg"] and "KV version 1" in failed["msg"]
    assert world.created() == [], "no token was created"


def test_a_policy_that_cannot_write_fails_before_the_token_is_created(world, vault_server, openbao):
    openbao.ok("POST", "sys/policies/acl/ksef-read-only", {"policy": (
        'path "secret/data/ksef/*" { capabilities = ["read"] }\n'
        'path "secret/metadata/ksef/*" { capabilities = ["read"] }\n'
        'path "sys/capabilities-self" { capabilities = ["update"] }\n')})
    store = {"type": "hashicorp_vault", "url": vault_server.url, "token": openbao.token(["ksef-read-only"]),
             "path": "ksef/erp"}
    failed = world.run(store, expect_rc=2).task(TASK)
    assert "local problem (permissions): the token lacks create on secret/data/ksef/erp" in failed["msg"]
    assert "nothing was changed" in failed["msg"] and "docs/stores.md#the-vault-policy" in failed["msg"]
    assert world.created() == [], "no token was created, so none had to be revoked"
    elsewhere = dict(store, token=openbao.token(["ksef-store"]), path="other-team/erp")
    failed = world.run(elsewhere, expect_rc=2).task(TASK)
    assert "local problem (permissions): Vault refused reading the secret" in failed["msg"]
    assert world.created() == []
    allowed = dict(elsewhere, path="ksef/erp")
    assert world.run(allowed).task(TASK)["changed"], "the documented policy is enough for a create"
    # ... and for every later operation: test_hashicorp_vault_store.py::test_the_documented_policy_is_enough_...


def test_tls_with_a_ca_from_the_environment_and_a_client_certificate_login(
        world, openbao_tls, no_vault_environment):
    openbao_tls.reset()
    store = {"type": "hashicorp_vault", "url": openbao_tls.url, "path": "ksef/erp", "auth_method": "cert",
             "client_cert": str(openbao_tls.client_cert), "client_key": str(openbao_tls.client_key)}
    failed = world.run(store, expect_rc=2).task(TASK)
    assert "local problem (TLS)" in failed["msg"] and "certificate verification failed" in failed["msg"]
    assert world.created() == [], "the TLS failure came before any KSeF change"
    before = openbao_tls.live_tokens()
    done = world.run(store, env={"VAULT_CACERT": str(openbao_tls.ca_path)})
    assert done.task(TASK)["changed"] and openbao_tls.data("ksef/erp")
    assert openbao_tls.live_tokens() == before
