# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one parser of KSeF date-times: an offset (or `Z`) and up to 7 fractional digits (.NET's)."""

from __future__ import annotations

import re
from datetime import datetime

_FRACTION = re.compile(r"\.(\d+)")


def parse(value: str) -> datetime:
    """An aware datetime; ValueError for text that is not an ISO 8601 date-time with an offset."""
    text = str(value).strip().replace("Z", "+00:00")
    fraction = _FRACTION.search(text)
    if fraction:
        text = text[: fraction.start(1)] + fraction.group(1)[:6].ljust(6, "0") + text[fraction.end(1) :]
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("timestamp without an offset: %r" % value)
    return parsed


def parse_or_none(value) -> datetime | None:
    """Like parse(), but None for a missing or unreadable value (optional fields of an answer)."""
    if not value:
        return None
    try:
        return parse(value)
    except ValueError:
        return None
