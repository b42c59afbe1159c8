"""Zero-downtime rotation: a client that logs in with whatever the stores hold never fails.

The token lives in an ansible-vault encrypted file and in AWS Secrets Manager (moto). A background thread
plays the software that depends on it: in a loop it reads the current value from each store (the file
decrypted with ansible-core's VaultLib, AWSCURRENT from Secrets Manager) and logs in with it to the
emulator (challenge -> RSA-OAEP encrypted token -> status -> redeem -> close). A real playbook rotates the
token with a grace period while the client runs; after the grace period a later run revokes the old token.
"""
from __future__ import annotations

import threading
import time

import pytest

from tests.support.rotation_world import PLAYBOOK, SECRET, TASK

pytestmark = pytest.mark.integration


class StoreClient(threading.Thread):
    """Reads the value from each store and logs in with it, until stopped; counts attempts and failures."""

    def __init__(self, world, readers: dict):
        super().__init__(name="store-client", daemon=True)
        self.world = world
        self.readers = readers
        self.attempts = 0
        self.failures: list[str] = []
        self.seen: dict[str, set] = {store: set() for store in readers}
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            for store, read in self.readers.items():
                self.attempts += 1
                try:
                    value = read()
                    ref = value.split("|")[0]
                    if not self.world.logs_in(value):
                        self.failures.append(f"{store}: login with {ref} refused")
                        continue
                    self.seen[store].add(ref)
                except Exception as exc:  # a failed read is a failure of the client too
                    self.failures.append(f"{store}: {type(exc).__name__}")

    def stop(self):
        self._halt.set()
        self.join(60)

    def wait_for(self, ref: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while not all(ref in refs for refs in self.seen.values()):
            assert time.monotonic() < deadline, f"the client never logged in with {ref}: {self.seen}"
            time.sleep(0.05)


def test_rotation_with_grace_period_never_interrupts_a_client_of_the_stores(world, run_playbook):
    world.encrypted = True
    stores = world.stores()
    stores = [stores[0], stores[2]]  # the ansible-vault file and AWS Secrets Manager
    extra = world.vars(stores=stores, revoke_previous_after="1h")

    def run(**overrides):
        result = run_playbook(PLAYBOOK, {**extra, **overrides}, env=world.env)
        world.assert_no_secret(result.stdout + result.stderr + repr(result.results), world.file_value())
        return result.task(TASK)

    old = run()["reference_number"]
    old_value = world.file_value()
    assert world.aws_value() == old_value and old_value.startswith(old + "|")

    client = StoreClient(world, {"file": world.file_value, "aws_secretsmanager": world.aws_value})
    client.start()
    try:
        client.wait_for(old)
        rotated = run(rotate=True)
        new = rotated["reference_number"]
        assert new != old
        assert [(a["action"], a["reference_number"]) for a in rotated["actions"]] == [("rotate", new), ("retain", old)]
        client.wait_for(new)
        # The grace period: both tokens work; Secrets Manager keeps the old one as AWSPREVIOUS.
        assert world.status(old) == "Active" and world.logs_in(old_value)
        assert world.aws_value("AWSPREVIOUS") == old_value
        within = run()
        assert within["changed"] is False
        assert [(a["action"], a["reference_number"]) for a in within["actions"]] == [("keep", new), ("retain", old)]

        # The grace period of 1h has elapsed: move both creation dates back, keeping their order.
        world.backdate(old, 3 * 3600)
        world.backdate(new, 2 * 3600)
        after = run()
        assert [(a["action"], a["reference_number"]) for a in after["actions"]] == [("keep", new), ("revoke", old)]
        assert world.status(old) in ("Revoking", "Revoked")
        attempts_at_revoke = client.attempts
        deadline = time.monotonic() + 30
        while client.attempts < attempts_at_revoke + 4:  # the client keeps working after the revoke
            assert time.monotonic() < deadline, "the client stopped making attempts"
            time.sleep(0.05)
    finally:
        client.stop()

    assert client.failures == [], client.failures
    assert client.attempts >= 10
    assert client.seen == {"file": {old, new}, "aws_secretsmanager": {old, new}}
    assert world.file_value() == world.aws_value() and world.aws_value().startswith(new + "|")
    assert not world.logs_in(old_value), "the revoked previous token no longer logs in"
    assert world.live().keys() == {new}
    print(f"client: {client.attempts} logins through the stores, 0 failures; saw {old} then {new} in {SECRET}")
