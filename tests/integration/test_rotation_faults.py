"""A rotation that fails anywhere leaves the previous token working in every store, and a rerun converges.

Real playbooks rotate `erp-sender`, kept in an ansible-vault file, HashiCorp Vault KV v2 (test server) and
AWS Secrets Manager (moto behind a fault proxy), while one thing fails: a store refusing the write, a store
losing a compare-and-set, a store whose read-back returns another writer's value or fails, the token never
becoming Active, or the login with the new token failing. After each:
- the task fails and its message names the step, the store and the cause, and what was undone;
- the old token is Active and every store still holds its value;
- every token the run created is revoked (or Failed);
- once the fault is gone, the same rotation converges: one Active token, in every store, no orphan.
"""
from __future__ import annotations

import os
import stat
import subprocess

import pytest

from tests.support.kill import BackgroundPlaybook, wait_until
from tests.support.rotation_world import PLAYBOOK, SECRET, TASK

pytestmark = pytest.mark.integration


@pytest.fixture
def encrypted(world):
    """Ask for it before `rotation`: the file store is then an ansible-vault encrypted file."""
    world.encrypted = True
    return world


@pytest.fixture
def rotation(world, run_playbook):
    """The world with its token created (every store holds it) and helpers to fail and rerun a rotation."""

    class Rotation:
        def __init__(self):
            self.old, self.old_value = world.seed_current()
            assert world.assert_converged() == self.old

        def fail(self, **overrides) -> dict:
            result = run_playbook(PLAYBOOK, world.vars(rotate=True, **overrides), env=world.env, expect_rc=2)
            world.assert_no_secret(result.stdout + result.stderr + repr(result.results), self.old_value)
            return result.task(TASK)

        def new_refs(self) -> list[str]:
            return [ref for ref in world.tokens() if ref != self.old]

        def assert_rolled_back(self, failed: dict, where: str, cause: str) -> None:
            message = failed["msg"]
            assert where in message and cause in message, message
            new = self.new_refs()
            assert len(new) == 1, "the failed run created exactly one token"
            assert f"revoked the new token {new[0]}" in message and f"token {self.old} is unchanged" in message
            world.assert_unchanged(self.old, self.old_value, new)

        def rerun_converges(self, **overrides) -> str:
            result = run_playbook(PLAYBOOK, world.vars(rotate=True, **overrides), env=world.env)
            world.assert_no_secret(result.stdout + result.stderr, self.old_value, world.file_value())
            ref = world.assert_converged()
            assert ref != self.old and world.status(self.old) in ("Revoking", "Revoked")
            return ref

    return Rotation()


# -- a store refuses the write ----------------------------------------------------------------------------

def test_file_store_in_a_read_only_directory_is_refused_before_any_change(world, rotation):
    # root ignores directory modes, so the directory is made immutable (chattr +i) instead
    subprocess.run(["chattr", "+i", str(world.secrets_dir)], check=True)
    try:
        failed = rotation.fail()
    finally:
        subprocess.run(["chattr", "-i", str(world.secrets_dir)], check=True)
    message = failed["msg"]
    assert f"{world.labels[0]}: local problem (permissions): the directory" in message, message
    assert "nothing was changed" in message and not rotation.new_refs(), "no token was created"
    world.assert_unchanged(rotation.old, rotation.old_value, [])
    assert sorted(os.listdir(world.secrets_dir)) == ["erp.yml"], "no temp file is left behind"
    rotation.rerun_converges()


def test_vault_refuses_the_write(world, rotation, vault_server):
    vault_server.faults.refuse = (403, "permission denied")
    failed = rotation.fail()
    vault_server.faults.clear()
    rotation.assert_rolled_back(failed, f"rotate failed while writing store {world.labels[1]}",
                                "local problem (permissions): Vault refused writing the secret (403 permission denied)")
    assert f"restored {world.labels[0]}" in failed["msg"]
    rotation.rerun_converges()


@pytest.mark.soak  # another writer between write and read-back: make test covers the refused writes
def test_vault_compare_and_set_lost_to_another_writer(world, rotation, vault_server):
    # Another application updates its own key of the same secret between our read and our write.
    vault_server.faults.write_first = {"token": rotation.old_value, "db_password": "other app"}
    failed = rotation.fail()
    rotation.assert_rolled_back(failed, f"rotate failed while writing store {world.labels[1]}",
                                "check-and-set lost")
    assert vault_server.data("ksef/erp")["db_password"] == "other app", "the other writer's change is kept"
    rotation.rerun_converges()
    assert vault_server.data("ksef/erp")["db_password"] == "other app", "the rerun keeps the other key"


@pytest.mark.soak  # a refused write: make test covers it with Vault
def test_secrets_manager_refuses_the_write(world, rotation, aws_proxy):
    aws_proxy.refuse["secretsmanager.PutSecretValue"] = (400, "AccessDeniedException",
                                                         "not authorized to perform: secretsmanager:PutSecretValue")
    failed = rotation.fail()
    aws_proxy.clear()
    rotation.assert_rolled_back(failed, f"rotate failed while writing store {world.labels[2]}",
                                "AccessDeniedException")
    assert f"restored {world.labels[1]}, restored {world.labels[0]}" in failed["msg"], "newest first"
    rotation.rerun_converges()


# -- a store reads back something else, or fails to read back ---------------------------------------------


@pytest.mark.soak  # another writer between write and read-back: make test covers the refused writes
def test_secrets_manager_read_back_returns_another_writers_value(world, rotation, aws_proxy):
    # A stale writer puts the old value back right after our write, before the read-back.
    aws_proxy.write_after[SECRET] = rotation.old_value
    failed = rotation.fail()
    rotation.assert_rolled_back(failed, f"rotate failed while writing store {world.labels[2]}",
                                "reading the value back after writing returned a different value")
    assert world.aws_value("AWSCURRENT") == rotation.old_value
    rotation.rerun_converges()


@pytest.mark.soak  # make test: a refused write rolls back the same way, and test_executor.py's read-back test
def test_file_read_back_fails_when_the_vault_password_provider_fails_once(encrypted, world, rotation):
    # The ansible-vault password comes from a script (a password manager client) that fails exactly once:
    # on the fourth call of the next run, which is the decryption of the read-back.
    calls, fail_at = world.tmp_path / "calls", world.tmp_path / "fail_at"
    script = world.tmp_path / "vault-pass-client.sh"
    script.write_text(f"""#!/bin/sh
n=$(( $(cat {calls} 2>/dev/null || echo 0) + 1 )); echo $n > {calls}
if [ "$n" = "$(cat {fail_at} 2>/dev/null)" ]; then echo "password manager unreachable" >&2; exit 1; fi
echo '{world.password.decode()}'
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    stores = world.stores(vault_password_file=str(script))
    fail_at.write_text("4\n")  # 1: snapshot read, 2: read before the write, 3: encrypt, 4: read-back
    failed = rotation.fail(stores=stores)
    rotation.assert_rolled_back(failed, f"rotate failed while writing store {world.labels[0]}",
                                "cannot decrypt the file with ansible-vault")
    fail_at.write_text("0\n")
    rotation.rerun_converges(stores=stores)


@pytest.mark.soak  # another writer between write and read-back: make test covers the refused writes
def test_vault_read_back_returns_another_writers_value(world, rotation, vault_server):
    # Another writer puts a value of its own right after our write, before the read-back.
    foreign = f"{rotation.old}|nip-0000000000|{'0' * 64}"
    vault_server.faults.write_after = {"token": foreign}
    failed = rotation.fail()
    rotation.assert_rolled_back(failed, f"rotate failed while writing store {world.labels[1]}",
                                "reading the value back after writing returned a different value")
    rotation.rerun_converges()


# -- KSeF fails between creation and the stores -----------------------------------------------------------

@pytest.mark.soak  # make test: a failed activation in test_token.py, a rotation rolled back in the tests here
def test_token_that_never_becomes_active(world, rotation):
    world.emulator.admin("PUT", "activation", json={"fail_next": 1}).raise_for_status()
    failed = rotation.fail()
    rotation.assert_rolled_back(failed, "rotate failed while waiting for activation", "failed to activate")
    rotation.rerun_converges()


def test_login_with_the_new_token_fails(world, rotation, tmp_path):
    # The run's own login is done before POST /tokens; once the new token exists, KSeF starts answering 500
    # to every POST /auth/ksef-token, so only the verification login of the new token fails.
    world.emulator.admin("PUT", "config", json={"activation_delay": 1.5}).raise_for_status()
    run = BackgroundPlaybook(PLAYBOOK, world.vars(rotate=True), tmp_path / "verify", env=world.env)
    wait_until(lambda: [ref for ref in world.tokens() if ref != rotation.old], 60, "the new token")
    world.emulator.admin("PUT", "faults", json={"error_rate": 1, "operations": ["POST /auth/ksef-token"]}) \
        .raise_for_status()
    assert run.wait(120) == 2, run.output()[-3000:]
    world.emulator.admin("DELETE", "faults").raise_for_status()
    world.emulator.admin("PUT", "config", json={"activation_delay": 0.3}).raise_for_status()
    failed = run.task(TASK)
    rotation.assert_rolled_back(failed, "rotate failed while logging in with the new token", "500")
    rotation.rerun_converges()
