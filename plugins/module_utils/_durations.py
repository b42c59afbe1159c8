# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Human durations for rotate_after, revoke_previous_after and renew_before: 90d, 12h, 30m, 45s, 2w, 1d12h, or
seconds. Written with the ASCII digits 0-9 only (see _numbers.py: Python's int() takes other digits too)."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._numbers import ascii_digits_hint

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
# [0-9], not \d: \d matches every Unicode digit.
_SECONDS = re.compile(r"[0-9]+")
_PART = re.compile(r"([0-9]+)([wdhms])")
_WHOLE = re.compile(r"(?:[0-9]+[wdhms])+")
_EXPECTED = "expected a duration such as 90d, 12h, 30m, 45s, 2w or 1d12h (the ASCII digits 0-9 and a unit), got %r"


class DurationError(KsefConfigError, ValueError):
    """A duration that cannot be parsed; `option` names the option it came from."""

    def __init__(self, option: str, message: str):
        super().__init__(option, "%s: %s" % (option, message))


# Ten years: longer than any credential KSeF issues lives, and far below what timedelta can hold.
MAX_SECONDS = 3650 * 86400


def _bounded(seconds, option: str, value) -> timedelta:
    if seconds > MAX_SECONDS:
        raise DurationError(option, "%r is longer than 3650d (ten years), the longest duration accepted" % (value,))
    return timedelta(seconds=seconds)


def parse(value, option: str = "duration") -> timedelta | None:
    """timedelta for '90d', '1d12h', '3600' or 3600; None for None/''; DurationError otherwise (also beyond
    MAX_SECONDS)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise DurationError(option, "expected a duration such as 90d, 12h or 30m, got %r" % (value))
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise DurationError(option, "expected a duration such as 90d, 12h or 30m, got %r" % (value))
        if value < 0:
            raise DurationError(option, "a duration cannot be negative, got %r" % (value))
        return _bounded(value, option, value)
    text = str(value).strip().lower().replace(" ", "")
    if _SECONDS.fullmatch(text):
        return _bounded(int(text), option, value)
    if not _WHOLE.fullmatch(text):
        raise DurationError(option, _EXPECTED % (value,) + ascii_digits_hint(str(value)))
    seen = set()
    seconds = 0
    for amount, unit in _PART.findall(text):
        if unit in seen:
            raise DurationError(option, "unit %r appears twice in %r" % (unit, value))
        seen.add(unit)
        seconds += int(amount) * _UNITS[unit]
    return _bounded(seconds, option, value)


def describe(delta: timedelta | None) -> str | None:
    """The shortest unit string for a timedelta (for messages and reasons)."""
    if delta is None:
        return None
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append("%d%s" % (seconds // size, unit))
            seconds %= size
    return "".join(parts)
