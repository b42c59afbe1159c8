"""Two runs rotating the same token at the same time: only one rotates, and the invariants hold.

The token is due (older than `rotate_after`), so each run on its own would rotate it.
- Same controller: the per-token lock serialises the runs; the second plans after the first and keeps.
- Two controllers (separate lock directories) and stores with compare-and-set (Vault KV v2 first): both may
  create a token, only one wins the Vault write; the loser revokes its own token and fails with a conflict.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.rotation_world import PLAYBOOK, TASK

pytestmark = pytest.mark.integration


def _rolled_back(result: dict) -> bool:
    return "Undone:" in (result.get("msg") or "")


def _rotated(result: dict) -> bool:
    return not _rolled_back(result) and any(a["action"] == "rotate" for a in result.get("actions") or [])


@pytest.mark.parametrize("controllers", ["one-controller", "two-controllers"])
def test_two_simultaneous_rotations_rotate_once(world, run_playbook, tmp_path, controllers):
    old, old_value = world.seed_current()
    world.backdate(old, 91 * 86400)
    stores = world.stores() if controllers == "one-controller" else world.stores()[1:]
    labels = [s for s in world.labels if controllers == "one-controller" or not s.startswith("file:")]

    def rotate(n: int) -> dict:
        lock_dir = tmp_path / ("locks" if controllers == "one-controller" else f"locks-{n}")
        result = run_playbook(PLAYBOOK, world.vars(stores=stores, rotate_after="90d"),
                              env={"KSEF_LOCK_DIR": str(lock_dir)}, expect_rc=None)
        world.assert_no_secret(result.stdout + result.stderr, old_value)
        return result.task(TASK)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(rotate, (1, 2)))

    assert sum(_rotated(r) for r in results) == 1, [(r.get("msg"), r.get("actions")) for r in results]
    losers = [r for r in results if not _rotated(r)]
    if controllers == "one-controller" or not _rolled_back(losers[0]):
        # It waited for the lock (or came second), then found the fresh token: nothing to do.
        assert losers[0]["changed"] is False and [a["action"] for a in losers[0]["actions"]] == ["keep"], losers[0]
    else:
        assert "StoreConflict" in losers[0]["msg"] or "check-and-set" in losers[0]["msg"] \
            or "expected" in losers[0]["msg"], losers[0]["msg"]
        assert "revoked the new token" in losers[0]["msg"]
    current = world.assert_converged(labels)
    winner = next(r for r in results if _rotated(r))
    assert current == winner["reference_number"] != old
    assert world.status(old) in ("Revoking", "Revoked")
