"""Every secret issued since start, in memory only, for GET /_emulator/secrets (--expose-secrets).

Security tests use the list as canaries: none of these strings may appear in logs or outputs.
Nothing is recorded unless the option is on.
"""

from __future__ import annotations

import threading

KINDS = ("ksef_tokens", "access_tokens", "refresh_tokens", "authentication_tokens")


class SecretsLog:
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._lock = threading.Lock()
        self._items: dict[str, list[str]] = {kind: [] for kind in KINDS}

    def record(self, kind: str, value: str) -> None:
        if self.enabled:
            with self._lock:
                self._items[kind].append(value)

    def snapshot(self) -> dict[str, list[str]]:
        with self._lock:
            return {kind: list(values) for kind, values in self._items.items()}
