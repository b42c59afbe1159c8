"""Opaque continuation tokens (`x-continuation-token`) for lists sorted newest first (keyset paging)."""

from __future__ import annotations

import base64
import binascii
import json

from .errors import ApiError


def encode(sort_value: float, seq: int) -> str:
    return base64.b64encode(json.dumps([{"resume": sort_value, "seq": seq}]).encode()).decode()


def decode(token: str | None) -> tuple[float, int] | None:
    """(sort value, seq) of the last item already served; 400 21418 when the token is not ours."""
    if token is None or token == "":
        return None
    try:
        data = json.loads(base64.b64decode(token, validate=True))
        return float(data[0]["resume"]), int(data[0]["seq"])
    except (binascii.Error, ValueError, KeyError, IndexError, TypeError):
        raise ApiError(21418) from None


def page(items: list[dict], sort_key: str, size: int, after: tuple[float, int] | None) -> tuple[list[dict], str | None]:
    """One page of items already sorted by (sort_key, seq) descending, and the next page's token."""
    if after is not None:
        items = [i for i in items if (i[sort_key], i["seq"]) < after]
    chunk = items[:size]
    more = len(items) > size
    return chunk, (encode(chunk[-1][sort_key], chunk[-1]["seq"]) if more else None)
