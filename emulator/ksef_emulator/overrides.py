"""What the TEST environment's /testdata operations change for one context or subject, kept in the state.

Kinds: `rate-limits` and `session-limits` per context, `blocked-context` per context, `attachment` per NIP.
"""

from __future__ import annotations

import json

from .contract import rate_limit_group, rate_limits
from .store import Store

RATE_LIMITS = "rate-limits"
SESSION_LIMITS = "session-limits"
BLOCKED_CONTEXT = "blocked-context"
ATTACHMENT = "attachment"


class TestdataOverrides:
    __test__ = False  # not a pytest class

    def __init__(self, store: Store):
        self._store = store

    def get(self, kind: str, key: str):
        row = self._store.one("SELECT value FROM testdata_overrides WHERE kind = ? AND key = ?", (kind, key))
        return None if row is None else json.loads(row["value"])

    def put(self, kind: str, key: str, value) -> None:
        self._store.execute(
            "INSERT OR REPLACE INTO testdata_overrides (kind, key, value) VALUES (?, ?, ?)",
            (kind, key, json.dumps(value)),
        )

    def delete_all(self, kind: str) -> None:
        """Every override of one kind, whatever its key (the control API's way out of a limit of 0)."""
        self._store.execute("DELETE FROM testdata_overrides WHERE kind = ?", (kind,))

    def delete(self, kind: str, key: str) -> None:
        self._store.execute("DELETE FROM testdata_overrides WHERE kind = ? AND key = ?", (kind, key))


def rate_limits_of(overrides: TestdataOverrides, operation: str, context: str | None) -> tuple[dict, bool]:
    """The limits of an operation for a context, and whether they are absolute (set through /testdata)."""
    override = overrides.get(RATE_LIMITS, context) if context else None
    if not override:
        return rate_limits(operation), False
    if override.get("production"):
        return rate_limits(operation), True
    group = rate_limit_group(operation)
    return (override[group], True) if group in override else (rate_limits(operation), False)
