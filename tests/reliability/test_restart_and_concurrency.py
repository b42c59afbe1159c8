"""An emulator restart in the middle of a run, and two runs on the same inventory at once."""
from __future__ import annotations

import os
import time

import pytest

from tests.reliability.world import Fleet, RunOutcome

pytestmark = pytest.mark.integration

CLEAR_FAILURE = ("KSeF", "Could not reach", "connection dropped", "may have taken effect")


def test_an_emulator_restart_during_a_rotation_fails_clearly_or_recovers(emulator_factory, tmp_path):
    emulator = emulator_factory("--activation-delay", "0.6", "--rate-limits", "off")
    fleet = Fleet.create(emulator, tmp_path, 2)
    assert fleet.run(tag="create").rc == 0
    before = {c.nip: {t["referenceNumber"] for t in fleet.tokens(c)} for c in fleet.contexts}

    proc = fleet.start(rotate=True, tag="restart")
    while emulator.stats()["operations"].get("POST /tokens", 0) == 0 and proc.poll() is None:
        time.sleep(0.05)  # restart once the rotation has created a token (it is now waiting for activation)
    emulator.restart()
    proc.wait(300)
    outcome = RunOutcome.read(proc)
    for message in outcome.failure_messages():
        assert any(marker in message for marker in CLEAR_FAILURE), message
    # State survived the restart: every token known before is still there.
    for context in fleet.contexts:
        assert before[context.nip] <= {t["referenceNumber"] for t in fleet.tokens(context)}
    assert fleet.stores_missing_values() == []

    fleet.backdate_live()
    rerun = fleet.run(tag="after-restart")
    assert rerun.rc == 0, rerun.output[-3000:]
    assert fleet.violations() == []


SOAK = os.environ.get("KSEF_SOAK") == "1"
# The loops of this folder run in make test-soak only (tests/conftest.py).
pytestmark = pytest.mark.soak


@pytest.mark.parametrize("rotate", [False, True] if SOAK else [True],
                         ids=["create", "rotate"] if SOAK else ["rotate"])
def test_two_runs_at_once_on_the_same_inventory_keep_the_invariants(emulator_factory, tmp_path, rotate):
    emulator = emulator_factory("--activation-delay", "0.3", "--rate-limits", "off")
    fleet = Fleet.create(emulator, tmp_path, 2)
    if rotate:
        assert fleet.run(tag="create").rc == 0
    emulator.reset_stats()
    first, second = fleet.start(rotate=rotate, tag="a"), fleet.start(rotate=rotate, tag="b")
    for proc in (first, second):
        proc.wait(300)
        outcome = RunOutcome.read(proc)
        assert outcome.rc == 0, outcome.output[-3000:]
    assert fleet.violations() == []  # no rerun, no backdating: the lock serialised the two runs
    created = emulator.stats()["operations"].get("POST /tokens", 0)
    per_run = len(fleet.contexts) * len(fleet.declared)
    assert created == (2 * per_run if rotate else per_run), "each run rotates once; a create happens once"
