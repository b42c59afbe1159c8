# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client-side pacing so a run never exceeds KSeF's request limits (limity/limity-api.md).

KSeF counts requests per operation ("METHOD /path-template") and per (context, client IP) in sliding
windows of 1 s, 60 s and 3600 s; the first threshold exceeded answers 429 and blocks the caller,
longer for repeated breaches. Every module invocation is its own process, so the requests already
sent are kept in one small JSON file per (API host, context) under `~/.ansible/tmp/ksef-ratelimit/`
(`KSEF_RATELIMIT_DIR` overrides), read and written under an `fcntl` lock:

    {"POST /tokens": {"sent": [epoch seconds, ...], "blocked_until": epoch seconds}, ...}

`acquire(operation)` reserves the earliest moment at which one more request fits every window of that
operation (first come, first served across processes), then sleeps until it; a moment further away
than `max_pacing_wait` (the task's max_retry_wait) is not reserved: PacingTooLongError, nothing sent.
`completed(operation)` moves the reservation to the moment the answer arrived: the server saw the
request no later than that, so the next request of the window is paced from a time the server cannot
have passed. A 429 records `blocked_until` so the next module waits out the block too.

Time is `time.time()`: the file is shared by processes, a monotonic clock is not.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from urllib.parse import urlsplit

from ansible_collections.ksef.credentials.plugins.module_utils._errors import (
    KsefApiError,
    KsefConfigError,
    KsefTimeoutError,
)

DEFAULT_DIRECTORY = os.path.join("~", ".ansible", "tmp", "ksef-ratelimit")
PROFILES = ("prd", "te", "off")
# The TEST environment's limits are ten times the production ones (limity-api.md, "Środowisko TE").
PROFILE_FACTORS = {"prd": 1, "te": 10}

SECOND, MINUTE, HOUR = "second", "minute", "hour"
WINDOW_SECONDS = {SECOND: 1.0, MINUTE: 60.0, HOUR: 3600.0}

# Production limits (per second, per minute, per hour; None = no such threshold) of the operations this
# collection calls, copied from `x-rate-limits` of each operation in the official open-api.json
# (KSeF 2.0, API 2.7.0; none of these changed since 2.6.0, nor in 2.8.1). The collection never reads the emulator's
# copy of that file.
PRODUCTION_LIMITS = {
    "POST /auth/challenge": (60, None, None),
    "POST /auth/ksef-token": (60, None, None),
    "POST /auth/xades-signature": (60, None, None),
    "GET /auth/{referenceNumber}": (60, None, None),
    "POST /auth/token/redeem": (60, None, None),
    "POST /auth/token/refresh": (60, None, None),
    "GET /security/public-key-certificates": (60, None, None),
    "GET /auth/sessions": (10, 30, 120),
    "DELETE /auth/sessions/current": (10, 30, 120),
    "DELETE /auth/sessions/{referenceNumber}": (10, 30, 120),
    "GET /tokens": (10, 30, 120),
    "POST /tokens": (10, 30, 120),
    "GET /tokens/{referenceNumber}": (10, 30, 120),
    "DELETE /tokens/{referenceNumber}": (10, 30, 120),
    "GET /certificates/limits": (10, 30, 120),
    "GET /certificates/enrollments/data": (10, 30, 120),
    "POST /certificates/enrollments": (10, 30, 120),
    "GET /certificates/enrollments/{referenceNumber}": (10, 30, 120),
    "POST /certificates/retrieve": (10, 30, 120),
    "POST /certificates/query": (10, 30, 120),
    "POST /certificates/{certificateSerialNumber}/revoke": (10, 30, 120),
}
# Every other protected resource ("Pozostałe" in limity-api.md).
DEFAULT_LIMITS = (10, 30, 120)

# Requests sent without a bearer token have no context: KSeF counts them per client IP alone, so they
# share one file per API host across every context of a run.
PUBLIC_OPERATIONS = frozenset(
    {
        "POST /auth/challenge",
        "POST /auth/ksef-token",
        "POST /auth/xades-signature",
        "GET /security/public-key-certificates",
    }
)
PUBLIC_KEY = "public"

# Pace a little wider than the window, for clock granularity and the server's own bookkeeping.
SAFETY_MARGIN = 0.05


def limits_for(operation, profile="prd"):
    """{window name: max requests} for `operation` under `profile` (empty when the profile is off)."""
    factor = PROFILE_FACTORS.get(profile)
    if factor is None:
        return {}
    per_second, per_minute, per_hour = PRODUCTION_LIMITS.get(operation, DEFAULT_LIMITS)
    limits = {SECOND: per_second, MINUTE: per_minute, HOUR: per_hour}
    return {name: value * factor for name, value in limits.items() if value is not None}


def window_lengths(time_scale=1.0):
    """Real seconds of each window; a time scale (for an emulator started with --time-scale) shortens
    minutes and hours the way the emulator does, a second stays a second."""
    scale = float(time_scale)
    return {SECOND: 1.0, MINUTE: 60.0 / scale, HOUR: 3600.0 / scale}


def earliest_slot(sent, limits, windows, not_before, margin=SAFETY_MARGIN):
    """The earliest time >= not_before at which one more request keeps every window within its limit.

    `sent` is the sorted list of request times of the operation (reservations included). The new
    request goes after all of them, so for a window of length W and limit L it must come after the
    L-th latest request has left the window: time > sent[-L] + W.
    """
    slot = max(not_before, sent[-1] if sent else not_before)
    for name, limit in limits.items():
        if len(sent) >= limit:
            slot = max(slot, sent[-limit] + windows[name] + margin)
    return slot


def minimal_span(count, limits, windows):
    """Shortest time (seconds) from the first to the last of `count` requests under `limits`: the bound
    the limits impose on one operation of one context (used to judge a run)."""
    times: list[float] = []
    for _index in range(count):
        times.append(earliest_slot(times, limits, windows, 0.0, margin=0.0))
    return times[-1] - times[0] if times else 0.0


def _time_scale_from_environment():
    """KSEF_RATELIMIT_TIME_SCALE: pace to an emulator started with --time-scale F (tests and benchmarks)."""
    text = os.environ.get("KSEF_RATELIMIT_TIME_SCALE") or "1"
    # float() also reads other scripts' digits ("６０"), "nan" and "1e3": only 0-9 with an optional decimal point.
    scale = float(text) if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", text.strip()) else 0.0
    if not 0 < scale < float("inf"):
        from ansible_collections.ksef.credentials.plugins.module_utils._numbers import number_problem

        problem = number_problem(text, "float") or "expected a number above 0"
        raise KsefConfigError("rate_limits", f"KSEF_RATELIMIT_TIME_SCALE must be a positive number: {problem}")
    return scale


def _safe(text):
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)


def state_path(api_url, context_key, directory=None):
    """The state file of (API host, context) - or of the API host alone for PUBLIC_KEY."""
    directory = os.path.expanduser(directory or os.environ.get("KSEF_RATELIMIT_DIR") or DEFAULT_DIRECTORY)
    host = urlsplit(api_url).netloc or api_url
    return os.path.join(directory, f"{_safe(host)}_{_safe(str(context_key))}.json")


class SharedState:
    """One JSON state file under an exclusive fcntl lock: `with state.locked() as data: ...` writes back."""

    def __init__(self, path):
        self.path = path

    def locked(self):
        return _LockedState(self.path)


class _LockedState:
    def __init__(self, path):
        self.path = path
        self._file = None
        self.data = None

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "r+", encoding="utf-8")
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
        text = self._file.read()
        try:
            data = json.loads(text) if text.strip() else {}
        except ValueError:
            data = {}  # a torn file (a killed writer) only costs the history: start again
        self.data = data if isinstance(data, dict) else {}
        return self.data

    def __exit__(self, exc_type, exc, tb):
        if self._file is None:  # opened by __enter__
            raise AssertionError("state file used outside its with block")
        try:
            if exc_type is None:
                # Written over from the start, then cut at its new end: truncating to zero first makes ext4
                # flush the file at close (its replace-by-truncate heuristic), milliseconds under the lock.
                self._file.seek(0)
                self._file.write(json.dumps(self.data, separators=(",", ":")))
                self._file.truncate()
                self._file.flush()
        finally:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()


class PacingTooLongError(KsefTimeoutError):
    """The next moment KSeF's limits allow for a request is further away than this client waits (max_retry_wait).

    Nothing was sent and nothing reserved. `optional`: the caller can do without the request (closing a session,
    which then expires by itself); otherwise the task fails at once, naming the options that decide, instead of
    sleeping with no output for up to the rest of the hour."""

    def __init__(self, operation, wait, limits, max_wait=None, profile=None, optional=True):
        allowed = ", ".join("%s per %s" % (count, window) for window, count in limits.items())
        if profile:
            allowed += "; rate_limits: %s" % profile
        message = "%s would wait %.0fs for KSeF's limits in this context (%s)" % (operation, wait, allowed)
        if max_wait is not None:
            message += ", more than max_retry_wait (%.0fs)" % max_wait
        message += "; not sent"
        if not optional:
            message += (
                ". Run it again once the window has room, or raise max_retry_wait (up to 3600) to wait for it; "
                "rate_limits: te (ten times higher) suits the TEST environment only"
            )
        super().__init__(message, operation=operation)
        self.operation = operation
        self.wait = wait
        self.optional = optional


class NoopRateLimiter:
    """rate_limits: off, and the default of a KsefHttp built without a limiter: never waits, records nothing."""

    waited = 0.0
    max_pacing_wait = None

    def acquire(self, operation, max_wait=None):
        return 0.0

    def room(self, operation, count=1):
        """No pacing: `count` more requests fit at once."""
        return 0.0

    def left(self, operation):
        """No pacing: nothing is counted (None)."""
        return None

    def completed(self, operation, status=None, retry_after=None):
        """The answer to the last acquired request arrived (status None: it failed without one)."""
        return None


class SharedRateLimiter:
    """Paces the requests of one (API host, context) across every process of a run."""

    def __init__(
        self,
        api_url,
        context_key,
        profile="prd",
        directory=None,
        time_scale=None,
        clock=time.time,
        sleep=time.sleep,
        margin=SAFETY_MARGIN,
        max_block_wait=None,
        max_pacing_wait=None,
    ):
        if profile not in PROFILES:
            raise ValueError(f"unknown rate limit profile {profile!r}; expected one of {', '.join(PROFILES)}")
        if time_scale is None:
            time_scale = _time_scale_from_environment()
        self.profile = profile
        self.windows = window_lengths(time_scale)
        self.margin = margin
        self.max_block_wait = max_block_wait  # a 429 block longer than this fails, as in the HTTP client
        self.max_pacing_wait = max_pacing_wait  # a slot further away than this fails (max_retry_wait)
        self._clock = clock
        self._sleep = sleep
        self._states = {
            PUBLIC_KEY: SharedState(state_path(api_url, PUBLIC_KEY, directory)),
            "context": SharedState(state_path(api_url, context_key, directory)),
        }
        self._reserved = {}  # operation -> the time this process reserved for its request in flight
        self.waited = 0.0  # seconds slept for pacing in this process

    def _state_for(self, operation):
        return self._states[PUBLIC_KEY if operation in PUBLIC_OPERATIONS else "context"]

    def _prune(self, entry, now):
        longest = max(self.windows.values())
        entry["sent"] = [t for t in entry.get("sent", []) if t > now - longest]

    def acquire(self, operation, max_wait=None):
        """Reserve the next free moment for `operation` and sleep until then; returns the seconds slept. A moment
        further away than `max_wait` (a request the caller can do without), or than `max_pacing_wait` (any other),
        is not reserved: PacingTooLongError, and nothing was sent."""
        limits = limits_for(operation, self.profile)
        if not limits:
            return 0.0
        windows = {name: self.windows[name] for name in limits}
        with self._state_for(operation).locked() as data:
            now = self._clock()
            entry = data.setdefault(operation, {})
            self._prune(entry, now)
            blocked_until = float(entry.get("blocked_until") or 0.0)
            if self.max_block_wait is not None and blocked_until - now > self.max_block_wait:
                raise KsefApiError(
                    f"KSeF blocked {operation} for this context after HTTP 429 (recorded by an earlier task); "
                    f"the block ends in {blocked_until - now:.0f}s, more than the {self.max_block_wait:.0f}s "
                    "this client waits (max_retry_wait)",
                    status=429,
                    operation=operation,
                    retry_after=blocked_until - now,
                )
            not_before = max(now, blocked_until)
            slot = earliest_slot(sorted(entry["sent"]), limits, windows, not_before, self.margin)
            optional = max_wait is not None
            longest = max_wait if optional else self.max_pacing_wait
            # The margin is this client's own: a full window of max_retry_wait seconds still fits.
            if longest is not None and slot - now > longest + self.margin:
                raise PacingTooLongError(operation, slot - now, limits, longest, self.profile, optional)
            entry["sent"] = sorted(entry["sent"] + [slot])
        self._reserved[operation] = slot
        wait = max(0.0, slot - now)
        if wait > 0:
            self.waited += wait
            self._sleep(wait)
        return wait

    def room(self, operation, count=1):
        """Seconds from now until `count` more requests of `operation` fit every window, from the shared state (the
        requests every process of the run sent and reserved, and a recorded 429 block); nothing is reserved. A run
        asks before a change it could not finish."""
        limits = limits_for(operation, self.profile)
        if not limits or count < 1:
            return 0.0
        windows = {name: self.windows[name] for name in limits}
        with self._state_for(operation).locked() as data:
            now = self._clock()
            entry = dict(data.get(operation) or {})
        self._prune(entry, now)
        sent = sorted(entry.get("sent", []))
        slot = not_before = max(now, float(entry.get("blocked_until") or 0.0))
        for _index in range(count):
            slot = earliest_slot(sent, limits, windows, not_before, self.margin)
            sent.append(slot)
        return max(0.0, slot - now)

    def left(self, operation):
        """(requests left, limit) of `operation` in the hour window now, from the shared state; None when the
        operation has no hourly limit."""
        limit = limits_for(operation, self.profile).get(HOUR)
        if limit is None:
            return None
        with self._state_for(operation).locked() as data:
            now = self._clock()
            sent = list((data.get(operation) or {}).get("sent", []))
        return max(0, limit - sum(1 for t in sent if t > now - self.windows[HOUR])), limit

    def completed(self, operation, status=None, retry_after=None):
        """The answer (or failure) of the request reserved by `acquire` has arrived."""
        reserved = self._reserved.pop(operation, None)
        if reserved is None and status != 429:
            return
        with self._state_for(operation).locked() as data:
            now = self._clock()
            entry = data.setdefault(operation, {})
            sent = entry.get("sent", [])
            if reserved is not None and reserved in sent:
                sent.remove(reserved)
                sent.append(max(now, reserved))
            entry["sent"] = sorted(sent)
            if status == 429:
                # KSeF blocks the caller: every process of the run waits until the block ends.
                until = now + (retry_after if retry_after is not None else 1.0)
                entry["blocked_until"] = max(float(entry.get("blocked_until") or 0.0), until)


def create_limiter(api_url, context_key, profile="prd", **kwargs):
    """The limiter for the `rate_limits` option: shared pacing, or none for `off`."""
    if profile == "off":
        return NoopRateLimiter()
    return SharedRateLimiter(api_url, context_key, profile=profile, **kwargs)
