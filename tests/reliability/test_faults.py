"""Injected faults (500s, dropped connections, slow answers) during repeated converges of several contexts:
the declared state is reached with no orphan and no store missing its value, and every failure says what
happened."""
from __future__ import annotations

import os

import pytest

from tests.reliability.world import Fleet

pytestmark = pytest.mark.integration

SOAK = os.environ.get("KSEF_SOAK") == "1"
# The loops of this folder run in make test-soak only (tests/conftest.py).
pytestmark = pytest.mark.soak
CONTEXTS = 3 if SOAK else 2
ROUNDS = 12 if SOAK else 2          # rounds of (converge until done, then rotate) under faults
MAX_RUNS_PER_ROUND = 8
FAULTS = {"error_rate": 0.2, "drop_rate": 0.1, "slow_rate": 0.1, "slow_seconds": 0.5, "seed": 20251010}
CLEAR_FAILURE = ("KSeF", "Could not reach", "connection dropped", "may have taken effect")


def test_converges_under_a_steady_rate_of_faults(emulator_factory, tmp_path, record_property):
    emulator = emulator_factory("--activation-delay", "0.2", "--rate-limits", "off")
    fleet = Fleet.create(emulator, tmp_path, CONTEXTS)
    emulator.admin("PUT", "faults", json=FAULTS).raise_for_status()
    runs, failed_runs, messages = 0, 0, []
    try:
        for round_number in range(ROUNDS):
            rotate = round_number > 0  # round 0 creates; later rounds rotate every token once, then converge
            for attempt in range(MAX_RUNS_PER_ROUND):
                outcome = fleet.run(rotate=rotate and attempt == 0, tag=f"r{round_number}-{attempt}")
                runs += 1
                messages += outcome.failure_messages()
                if outcome.rc == 0:
                    break
                failed_runs += 1
            else:
                pytest.fail(f"round {round_number}: no successful converge in {MAX_RUNS_PER_ROUND} runs")
            # A successful run leaves every store holding a live Active token of its name.
            assert fleet.stores_missing_values() == []
    finally:
        injected = emulator.stats()["by_status"]
        emulator.admin("DELETE", "faults")

    # Failures said what happened: the operation and the status, or that the connection was lost.
    for message in messages:
        assert any(marker in message for marker in CLEAR_FAILURE), message
    # A run that gave up may leave a token it created but could not revoke (an orphan younger than the margin);
    # age them past the margin, and one clean converge revokes them.
    fleet.backdate_live()
    final = fleet.run(tag="final")
    assert final.rc == 0, final.output[-3000:]
    assert fleet.violations() == []
    faults = injected.get("500", 0) + injected.get("dropped", 0)
    assert faults >= 10, f"too few faults were injected to prove anything: {injected}"
    record_property("converge_runs", runs)
    record_property("failed_runs", failed_runs)
    record_property("faults_injected", faults)
    print(f"faults: runs={runs} failed_runs={failed_runs} injected={injected}")
