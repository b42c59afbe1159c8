"""Request counters for GET /_emulator/stats: per operation, per context and operation, per status, and the
requests received but not answered yet (`in_flight`), so a test can act while a request is under way."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict


class Stats:
    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._total = 0
            self._operations: Counter = Counter()
            self._by_context: defaultdict[str, Counter] = defaultdict(Counter)
            self._by_status: Counter = Counter()
            self._in_flight: Counter = Counter()

    def received(self, operation: str) -> None:
        with self._lock:
            self._in_flight[operation] += 1

    def record(self, operation: str, context: str | None, status: int) -> None:
        """The answer went out (or the connection was dropped)."""
        with self._lock:
            if self._in_flight[operation] > 0:
                self._in_flight[operation] -= 1
            self._total += 1
            self._operations[operation] += 1
            if context:
                self._by_context[context][operation] += 1
            self._by_status[str(status)] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "total": self._total,
                "operations": dict(self._operations),
                "by_context": {ctx: dict(ops) for ctx, ops in self._by_context.items()},
                "by_status": dict(self._by_status),
                "in_flight": {op: n for op, n in self._in_flight.items() if n},
            }
