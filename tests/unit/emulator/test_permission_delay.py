"""--permission-delay: parsed, and scaled by --time-scale like the other delays."""
from __future__ import annotations

import pytest

from ksef_emulator import permissions
from ksef_emulator.__main__ import parse_args
from ksef_emulator.settings import Settings
from ksef_emulator.store import Store


def test_option_and_default(tmp_path):
    assert parse_args(["--state-dir", str(tmp_path)]).permission_delay == 0.2
    assert parse_args(["--state-dir", str(tmp_path), "--permission-delay", "5"]).permission_delay == 5.0


def test_delay_is_scaled_and_the_outcome_shows_after_it(tmp_path):
    store = Store(tmp_path)
    try:
        registry = permissions.PermissionRegistry(store, Settings(state_dir=tmp_path, permission_delay=60,
                                                                  time_scale=120))
        reference = registry.start("Nip", "5265877635", permissions.NOT_ALLOWED_LINK, {"grant": []})
        op = registry.operation(reference)
        assert op["final_at"] - op["start_date"] == pytest.approx(0.5)  # 60 emulated seconds at 120x
        assert registry.status(op) == (permissions.IN_PROGRESS, [])
        assert registry.status({**op, "final_at": op["start_date"]}) == (permissions.NOT_ALLOWED_LINK, [])
        assert registry.hold(reference) and registry.status(registry.operation(reference))[0] == 100
        assert registry.finish(reference, permissions.CANCELLED)
        assert registry.status(registry.operation(reference)) == (permissions.CANCELLED,
                                                                   [permissions.CANCELLED_DETAIL])
        assert not registry.finish(reference, permissions.SUCCESS)  # ended operations stay as they ended
    finally:
        store.close()
