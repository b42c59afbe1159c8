"""SIGKILL of ansible-playbook (the whole process group) at random moments during creates and rotations, in a loop
with a fixed seed. After each kill, one rerun restores the invariants: one current Active token per name, held by
its store, no orphans, the manager token untouched.

Orphans younger than the 10-minute margin are legitimately left by the planner (a rotation may still be running
elsewhere). Before the rerun every live managed token is aged past the margin through the control API
(POST /_emulator/tokens/{ref}/backdate), so the rerun must revoke every orphan the kill left.
"""
from __future__ import annotations

import os
import random
import signal
import stat
import subprocess

import pytest

from tests.reliability.world import Fleet

pytestmark = pytest.mark.integration

SOAK = os.environ.get("KSEF_SOAK") == "1"
# The loops of this folder run in make test-soak only (tests/conftest.py).
pytestmark = pytest.mark.soak
# Three kills in `make test` (the 15-minute budget), a hundred in `make test-soak`.
ITERATIONS = int(os.environ.get("KSEF_SOAK_KILLS", "100")) if SOAK else 3
SEED = 4242
KILL_WINDOW = (0.3, 7.0)  # seconds after start: from ansible start-up to the end of a rotation


def test_sigkill_at_random_moments_then_one_rerun_restores_the_invariants(emulator_factory, tmp_path,
                                                                          record_property):
    emulator = emulator_factory("--activation-delay", "0.5", "--rate-limits", "off")
    fleet = Fleet.create(emulator, tmp_path, 1)
    rng = random.Random(SEED)
    killed_alive, finished_first, killed_after_create = 0, 0, 0
    for iteration in range(ITERATIONS):
        # First iteration creates from nothing; later ones rotate, every third one also changes permissions.
        if iteration and iteration % 3 == 0:
            erp = fleet.declared[0]
            erp["permissions"] = ["InvoiceRead"] if len(erp["permissions"]) == 2 else ["InvoiceRead", "InvoiceWrite"]
        created_before = emulator.stats()["operations"].get("POST /tokens", 0)
        proc = fleet.start(rotate=iteration > 0, tag=f"kill{iteration}")
        delay = rng.uniform(*KILL_WINDOW)
        try:
            proc.wait(delay)
            finished_first += 1
        except subprocess.TimeoutExpired:  # still running: kill the whole tree (ansible, its workers, the module)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
            killed_alive += 1
            killed_after_create += emulator.stats()["operations"].get("POST /tokens", 0) > created_before
        fleet.backdate_live()
        rerun = fleet.run(tag=f"rerun{iteration}")
        assert rerun.rc == 0, f"iteration {iteration} (kill after {delay:.1f}s): {rerun.output[-3000:]}"
        violations = fleet.violations()
        assert violations == [], f"iteration {iteration} (kill after {delay:.1f}s): {violations}"
        for temp in fleet.leftover_temp_files():  # a kill during a write may leave the temporary file
            assert stat.S_IMODE(temp.stat().st_mode) == 0o600, f"{temp} is readable by others"
    assert killed_alive >= ITERATIONS // 2, "most runs must be killed mid-way for the test to prove anything"
    record_property("kills", killed_alive)
    record_property("kills_after_a_token_was_created", killed_after_create)
    print(f"sigkill: iterations={ITERATIONS} killed={killed_alive} after_create={killed_after_create} "
          f"finished_before_kill={finished_first} "
          f"leftover_temp_files={len(fleet.leftover_temp_files())}")
