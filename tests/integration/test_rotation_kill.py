"""SIGKILL of ansible-playbook at each step of a rotation, then one rerun restores every invariant.

The rotation (`rotate: true`, `revoke_previous_after: 0s`) runs in the background. The kill takes every
process of the run: the controller's process group alone is not enough, because ansible-core's workers
call setsid() and the module would carry on (see tests/support/kill.py).
Each kill point is found black-box, from what the emulator and the stores see, and made wide enough to hit
by slowing the next operation:

| kill point | how the run is held there | what the test waits for |
| --- | --- | --- |
| after POST /tokens, before Active | activation takes 60 s (runtime config) | the new token is listed Pending |
| after Active, during the verify login | activation 2 s; POST /auth/ksef-token answers after 20 s | new token Active, its login's challenge answered |
| during the store writes | the fault proxy in front of OpenBao holds writes 4 s after they arrive | the Vault write arrived |
| after the stores, before the revoke | every DELETE /tokens/{ref} connection is dropped (retried) | a DELETE was dropped |
| during the revoke | DELETE /tokens/{ref} answers after 6 s | the last store's read-back arrived |

The emulator counts a request in /_emulator/stats when it has been answered, so a slowed request is seen
through the request before it (or a store's own log of arrivals), not through its own count.

After the kill, tokens younger than the orphan margin (10 minutes) that no store holds are legitimately
left alone by a rerun (they may belong to a rotation still running elsewhere): the test backdates them.
Then one rerun of the declaration (no `rotate`) must leave one Active token, held by every store, no orphan,
and must not wait for a lock (the kernel dropped the killed run's lock).
"""
from __future__ import annotations


import shutil
import tempfile
from pathlib import Path

import pytest

from ansible_collections.ksef.credentials.plugins.plugin_utils._module_action import IN_PROCESS_SUPPORTED
from tests.support.kill import BackgroundPlaybook, wait_until
from tests.support.rotation_world import PLAYBOOK, TASK, VAULT_PATH

pytestmark = pytest.mark.integration


def _new_refs(world, old):
    return [ref for ref in world.tokens() if ref != old]


def _challenges(world) -> int:
    return world.emulator.stats()["operations"].get("POST /auth/challenge", 0)


def _vault_writes(vault_server) -> int:
    return sum(1 for r in vault_server.requests if r.method == "POST" and r.path == f"/v1/secret/data/{VAULT_PATH}")


# Each kill point: (prepare(world) -> context, reached(world, old, context) -> truthy, after_kill(world, context))

def _prepare_pending(world):
    world.emulator.admin("PUT", "config", json={"activation_delay": 60}).raise_for_status()


def _reached_pending(world, old, _context):
    return [ref for ref in _new_refs(world, old) if world.status(ref) == "Pending"]


def _after_pending(world, _context):
    world.emulator.admin("PUT", "config", json={"activation_delay": 0.3}).raise_for_status()


def _prepare_verify(world):
    # Activation takes 2 s, time enough to slow the login of the new token before it starts.
    world.emulator.admin("PUT", "config", json={"activation_delay": 2}).raise_for_status()
    return {"armed": False}


def _reached_verify(world, old, context):
    new = _new_refs(world, old)
    if not new:
        return False
    if not context["armed"]:
        # The run logged in before POST /tokens; from now on only the new token's login is slowed.
        world.emulator.admin("PUT", "faults", json={"slow_rate": 1, "slow_seconds": 20,
                                                    "operations": ["POST /auth/ksef-token"]}).raise_for_status()
        context.update(armed=True, challenges=_challenges(world))
        return False
    return world.status(new[0]) == "Active" and _challenges(world) > context["challenges"]


def _prepare_store_write(world):
    world.vault_server.faults.delay_seconds = 4
    return {"writes": _vault_writes(world.vault_server)}


def _reached_store_write(world, _old, context):
    return _vault_writes(world.vault_server) > context["writes"]


def _after_store_write(world, context):
    # The write that arrived is applied by Vault after its delay, although its client is gone.
    wait_until(lambda: world.vault_versions() > 1, 30, "the delayed Vault write to land")
    world.vault_server.faults.clear()


def _prepare_before_revoke(world):
    world.emulator.admin("PUT", "faults", json={"drop_rate": 1, "operations": ["DELETE /tokens/{referenceNumber}"]}) \
        .raise_for_status()


def _reached_before_revoke(world, _old, _context):
    return world.emulator.stats()["operations"].get("DELETE /tokens/{referenceNumber}", 0) > 0


def _prepare_revoke(world):
    world.emulator.admin("PUT", "faults", json={"slow_rate": 1, "slow_seconds": 6,
                                                "operations": ["DELETE /tokens/{referenceNumber}"]}).raise_for_status()
    return {"reads": world.proxy.calls("secretsmanager.GetSecretValue"),
            "puts": world.proxy.calls("secretsmanager.PutSecretValue")}


def _reached_revoke(world, _old, context):
    # AWS is the last store: its read-back after the put is the last request before the DELETE.
    if world.proxy.calls("secretsmanager.PutSecretValue") <= context["puts"]:
        return False
    if world.proxy.calls("secretsmanager.GetSecretValue") <= context["reads"] + 2:  # snapshot, read before the put
        return False
    # The DELETE sleeps 6 s in the emulator: kill once the emulator has received it, not after a guessed pause.
    return world.emulator.stats()["in_flight"].get("DELETE /tokens/{referenceNumber}", 0) > 0


def _after_revoke(world, context):
    wait_until(lambda: world.status(context["old"]) in ("Revoking", "Revoked"), 30,
               "the revoke sent before the kill to land")


KILL_POINTS = {
    "after-create-before-active": (_prepare_pending, _reached_pending, _after_pending),
    "during-verify-login": (_prepare_verify, _reached_verify, _after_pending),
    "during-store-writes": (_prepare_store_write, _reached_store_write, _after_store_write),
    "after-stores-before-revoke": (_prepare_before_revoke, _reached_before_revoke, None),
    "during-revoke": (_prepare_revoke, _reached_revoke, _after_revoke),
}


@pytest.fixture
def short_tmp():
    """A short system temp folder: ansible-core 2.21 puts its RPC host's socket there, and a socket path must stay
    under 108 bytes (pytest's tmp_path is too long for it)."""
    path = Path(tempfile.mkdtemp(prefix="ksef-kill-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


# make test kills during the store writes, the moment with the most to undo, with the module run in Ansible's worker
# (as on the controller) and as a module process (KSEF_IN_PROCESS=0, as anywhere else); make test-soak kills at
# every point.
@pytest.mark.parametrize("in_worker", [True, False], ids=["in-worker", "module-process"])
@pytest.mark.parametrize("point", [
    pytest.param(point, marks=() if point == "during-store-writes" else pytest.mark.soak) for point in KILL_POINTS
])
def test_sigkill_during_rotation_then_one_rerun_converges(world, run_playbook, tmp_path, short_tmp, point, in_worker):
    prepare, reached, after_kill = KILL_POINTS[point]
    old, old_value = world.seed_current()
    context = prepare(world) or {}
    context["old"] = old

    # Ansible's temp folders (remote: the module and its arguments; local; the system's, where the module unpacks)
    # are where a killed run leaves files behind.
    temp = {"ANSIBLE_REMOTE_TEMP": tmp_path / "killed" / "remote-tmp",
            "ANSIBLE_LOCAL_TEMP": tmp_path / "killed" / "local-tmp", "TMPDIR": short_tmp}
    for folder in temp.values():
        folder.mkdir(parents=True, exist_ok=True)
    run = BackgroundPlaybook(PLAYBOOK, world.vars(rotate=True), tmp_path / "killed",
                             env={**world.env, **{variable: str(folder) for variable, folder in temp.items()},
                                  "KSEF_IN_PROCESS": "1" if in_worker else "0"})
    wait_until(lambda: reached(world, old, context) or not run.running, 120, f"kill point {point}")
    killed = run.kill()
    left = [path for folder in temp.values() for path in folder.rglob("*") if path.is_file()]
    if in_worker and IN_PROCESS_SUPPORTED:
        assert len(killed) >= 2, "the controller and its worker, which ran the module, were killed"
        assert not [path for path in left if "ksef.credentials" in path.name or "AnsiballZ_" in path.name], \
            "a module run in the worker writes no module files"
    else:  # a module process (an ansible-core the worker way is not used with runs one either way)
        assert len(killed) >= 3, "the controller, its worker and the module were all killed"
        assert any(path.name.endswith("_payload.zip") for path in left), "the killed module's files are scanned"
    world.assert_no_secret("".join(path.read_text(errors="replace") for path in left), old_value,
                           world.file_value())
    assert not [path for path in left if path.name.startswith("AnsiballZ_")], "the module removed its arguments"

    world.emulator.admin("DELETE", "faults").raise_for_status()
    if after_kill:
        after_kill(world, context)
    assert old_value.split("|")[-1] not in run.output()
    new = _new_refs(world, old)
    assert len(new) == 1, f"the killed run created exactly one token: {new}"
    held_after_kill = world.held_refs()
    orphans = world.backdate_orphans()

    rerun = run_playbook(PLAYBOOK, world.vars(lock_timeout=5), env=world.env)
    result = rerun.task(TASK)
    world.assert_no_secret(rerun.stdout + rerun.stderr + repr(rerun.results), old_value, world.file_value())
    current = world.assert_converged()
    assert world.live().keys() == {current}
    if new[0] in held_after_kill.values():
        assert current == new[0], "a token some store already holds becomes the current one"
    else:
        assert current == old and new[0] in orphans, "the unstored new token is an orphan and is revoked"
        assert ("revoke", new[0]) in [(a["action"], a["reference_number"]) for a in result["actions"]]
    print(f"{point}: stores after the kill {held_after_kill}; rerun actions "
          f"{[(a['action'], a['reference_number']) for a in result['actions']]}")
