"""Wall-clock helpers: one place that decides how instants are stored (epoch seconds) and shown (ISO 8601)."""

from __future__ import annotations

import time
from datetime import datetime, timezone


def now() -> float:
    return time.time()


def iso(epoch: float | None) -> str | None:
    """ISO 8601 with an explicit UTC offset, as the API writes date-time fields."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()


def iso_local(epoch: float) -> str:
    """ISO 8601 without an offset, as ExceptionResponse.exception.timestamp appears in the contract."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).replace(tzinfo=None).isoformat()
