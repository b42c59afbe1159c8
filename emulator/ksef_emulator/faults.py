"""Injected failures for resilience tests (PUT /_emulator/faults): 500s, slow answers, dropped connections."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field

ERROR = "error"
SLOW = "slow"
DROP = "drop"


@dataclass
class FaultConfig:
    error_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    drop_rate: float = 0.0
    operations: list[str] = field(default_factory=list)
    seed: int | None = None

    @classmethod
    def from_json(cls, body: dict) -> FaultConfig:
        unknown = set(body) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        config = cls(**body)
        for name in ("error_rate", "slow_rate", "drop_rate"):
            value = getattr(config, name)
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number between 0 and 1")
        if not isinstance(config.slow_seconds, (int, float)) or config.slow_seconds < 0:
            raise ValueError("slow_seconds must be a non-negative number")
        if not isinstance(config.operations, list) or not all(isinstance(o, str) for o in config.operations):
            raise ValueError("operations must be a list of 'METHOD /template' strings")
        return config


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._config = FaultConfig()
            self._random = random.Random()

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._random = random.Random(config.seed)

    def snapshot(self) -> dict:
        with self._lock:
            return asdict(self._config)

    def draw(self, operation: str) -> list[str]:
        """The faults that hit this request (drop and error exclude each other; slow adds to either)."""
        with self._lock:
            c = self._config
            if c.operations and operation not in c.operations:
                return []
            hits = []
            if c.slow_rate and self._random.random() < c.slow_rate:
                hits.append(SLOW)
            roll = self._random.random()
            if roll < c.drop_rate:
                hits.append(DROP)
            elif roll < c.drop_rate + c.error_rate:
                hits.append(ERROR)
            return hits

    @property
    def slow_seconds(self) -> float:
        return self._config.slow_seconds
