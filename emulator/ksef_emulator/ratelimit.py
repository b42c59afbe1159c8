"""Request limits as KSeF 2.0 applies them (limity/limity-api.md, `x-rate-limits` in open-api.json).

Every operation ("METHOD /path-template") has its own counters per key ("{context}|{client_ip}").
Counters are sliding windows (not aligned to :00) and every threshold (per second, minute, hour)
applies at once; the first one exceeded blocks the key on that operation and the client gets
429 with `Retry-After` in whole real seconds.

Choices the documentation leaves open (see docs/emulator-limits.md):
- Refused requests neither count nor extend the block: the block length is announced in
  `Retry-After`, so a client that honours it is let through when it says.
- Repeated breaches lengthen the block: the n-th breach within one (scaled) hour waits
  2**(n-1) times what the window alone needs, at most 64 times, never longer than one (scaled) hour.
- A limit of 0 refuses every request of the operation (Retry-After: the length of its window) without
  recording a block, so setting a positive limit again takes effect at once.
- The time scale compresses minutes and hours only; a second stays one real second, otherwise
  the per-second threshold could only be reached by concurrent bursts.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timezone

from starlette.responses import Response

PROFILES = ("prd", "te", "off")

# The TEST environment's defaults are ten times the production ones (limity-api.md, "Środowisko TE").
PROFILE_FACTORS = {"prd": 1, "te": 10}

# Limits for API resources without their own values (limity-api.md, "Pozostałe").
DEFAULT_LIMITS = {"perSecond": 10, "perMinute": 30, "perHour": 120}

WINDOW_NAMES = ("perSecond", "perMinute", "perHour")

MAX_DOUBLINGS = 6


@dataclass(frozen=True)
class Denial:
    """A refused request: when to come back (real seconds) and why, in the API's words."""

    retry_after: int
    limit: int
    window: str

    @property
    def detail(self) -> str:
        return limit_detail(self.limit, self.window, self.retry_after)


@dataclass
class _Counter:
    """The accepted requests of one operation and key, and its block, in clock seconds."""

    accepted: list[float] = field(default_factory=list)
    breaches: list[float] = field(default_factory=list)
    blocked_until: float = 0.0
    blocked_by: tuple[int, str] = (0, "perSecond")


class RateLimiter:
    """Sliding-window limits per operation and key, with escalating blocks. Thread-safe."""

    def __init__(self, profile: str = "te", time_scale: float = 1.0, clock=time.monotonic):
        self._lock = threading.Lock()
        self._clock = clock
        self._counters: dict[tuple[str, str], _Counter] = {}
        self.set_profile(profile)
        self.set_time_scale(time_scale)

    @property
    def profile(self) -> str:
        return self._profile

    @property
    def time_scale(self) -> float:
        return self._time_scale

    def set_profile(self, profile: str) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown rate-limit profile {profile!r}; expected one of {', '.join(PROFILES)}")
        with self._lock:
            self._profile = profile

    def set_time_scale(self, time_scale: float) -> None:
        time_scale = float(time_scale)
        if not math.isfinite(time_scale) or time_scale <= 0:  # also refuses NaN
            raise ValueError(f"time scale must be a positive number, got {time_scale!r}")
        with self._lock:
            self._time_scale = time_scale

    def reset(self) -> None:
        """Forget every counter and block (profile and time scale stay)."""
        with self._lock:
            self._counters.clear()

    def window_seconds(self, window: str) -> float:
        """The real length of a window under the current time scale."""
        if window == "perSecond":
            return 1.0
        if window == "perMinute":
            return 60.0 / self._time_scale
        if window == "perHour":
            return 3600.0 / self._time_scale
        raise ValueError(f"unknown limit window {window!r}")

    def effective_limits(self, limits: dict, absolute: bool = False) -> dict[str, int]:
        """The documented (production) limits scaled to the active profile; empty when off.

        absolute: limits a context set through /testdata/rate-limits, which apply as given.
        """
        factor = PROFILE_FACTORS.get(self._profile)
        if factor is None:
            return {}
        if absolute:
            factor = 1
        return {name: int(limits[name]) * factor for name in WINDOW_NAMES if limits.get(name) is not None}

    def check(self, operation: str, key: str, limits: dict) -> int | None:
        """None when the request may go on (and it is counted), else Retry-After in real seconds."""
        denial = self.check_request(operation, key, limits)
        return None if denial is None else denial.retry_after

    def check_request(self, operation: str, key: str, limits: dict, absolute: bool = False) -> Denial | None:
        """Like `check`, with the breached limit so the 429 can say which one."""
        with self._lock:
            effective = self.effective_limits(limits, absolute)
            if not effective:
                return None
            now = self._clock()
            counter = self._counters.setdefault((operation, key), _Counter())
            if now < counter.blocked_until:
                return self._denial(counter, now)

            longest = max(self.window_seconds(name) for name in effective)
            del counter.accepted[: bisect_right(counter.accepted, now - longest)]

            closed = [(self.window_seconds(name), limit, name) for name, limit in effective.items() if limit <= 0]
            if closed:
                # A limit of 0 (set through /testdata/rate-limits) lets nothing through; no block is recorded, so
                # raising the limit again opens the operation at once. Retry-After names the longest such window.
                window, limit, name = max(closed)
                return Denial(retry_after=max(1, math.ceil(window)), limit=0, window=name)

            wait, breached = 0.0, None
            for name, limit in effective.items():
                window = self.window_seconds(name)
                in_window = len(counter.accepted) - bisect_right(counter.accepted, now - window)
                if in_window >= limit:
                    # The request that must leave the window before one more fits.
                    leaves_at = counter.accepted[len(counter.accepted) - limit] + window
                    if leaves_at - now >= wait:
                        wait, breached = leaves_at - now, (limit, name)
            if breached is None:
                counter.accepted.append(now)
                return None

            hour = self.window_seconds("perHour")
            del counter.breaches[: bisect_right(counter.breaches, now - hour)]
            escalation = 2 ** min(len(counter.breaches), MAX_DOUBLINGS)
            block = min(wait * escalation, max(hour, wait))
            counter.breaches.append(now)
            counter.blocked_until = now + block
            counter.blocked_by = breached
            return self._denial(counter, now)

    @staticmethod
    def _denial(counter: _Counter, now: float) -> Denial:
        retry_after = max(1, math.ceil(counter.blocked_until - now - 1e-9))
        limit, window = counter.blocked_by
        return Denial(retry_after=retry_after, limit=limit, window=window)


def limits_for(operation: str, contract: dict) -> dict:
    """The operation's `x-rate-limits` from open-api.json, or the documented default."""
    method, _separator, template = operation.partition(" ")
    op = contract.get("paths", {}).get(template, {}).get(method.lower())
    if isinstance(op, dict) and op.get("x-rate-limits"):
        return dict(op["x-rate-limits"])
    return dict(DEFAULT_LIMITS)


_WINDOW_WORDS = {"perSecond": "sekundę", "perMinute": "minutę", "perHour": "godzinę"}


def _requests_word(n: int) -> str:
    if n == 1:
        return "żądanie"
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return "żądania"
    return "żądań"


def limit_detail(limit: int, window: str, retry_after: int) -> str:
    """The 429 detail in the API's wording, e.g. 'Przekroczono limit 20 żądań na minutę. ...'."""
    seconds = "sekundzie" if retry_after == 1 else "sekundach"
    return (
        f"Przekroczono limit {limit} {_requests_word(limit)} na {_WINDOW_WORDS[window]}. "
        f"Spróbuj ponownie po {retry_after} {seconds}."
    )


def too_many_requests(retry_after: int, detail: str, problem_details: bool, instance: str = "") -> Response:
    """The documented 429: TooManyRequestsResponse, or TooManyRequestsProblemDetails on request."""
    headers = {"Retry-After": str(int(retry_after))}
    if problem_details:
        body = {
            "title": "Too Many Requests",
            "status": 429,
            "instance": instance,
            "detail": detail,
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "traceId": uuid.uuid4().hex,
        }
        media_type = "application/problem+json"
    else:
        body = {"status": {"code": 429, "description": "Too Many Requests", "details": [detail]}}
        media_type = "application/json"
    return Response(json.dumps(body, ensure_ascii=False), status_code=429, headers=headers, media_type=media_type)
