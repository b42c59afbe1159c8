"""The bundled OpenAPI contract (contract/open-api.json, an unchanged copy of the official file)."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

DEFAULT_LIMITS = {"perSecond": 10, "perMinute": 30, "perHour": 120}


@lru_cache(maxsize=1)
def contract() -> dict:
    return json.loads(resources.files(__package__).joinpath("contract/open-api.json").read_text(encoding="utf-8"))


def rate_limits(operation: str) -> dict:
    """`x-rate-limits` of "METHOD /template" (the documented default for anything unlisted)."""
    method, _separator, template = operation.partition(" ")
    op = contract().get("paths", {}).get(template, {}).get(method.lower())
    if isinstance(op, dict) and op.get("x-rate-limits"):
        return dict(op["x-rate-limits"])
    return dict(DEFAULT_LIMITS)


def rate_limit_group(operation: str) -> str | None:
    """The group an operation's limits belong to (the last column of its 429 table), e.g. `other`."""
    method, _separator, template = operation.partition(" ")
    op = contract().get("paths", {}).get(template, {}).get(method.lower())
    if not isinstance(op, dict):
        return None
    table = op.get("responses", {}).get("429", {}).get("description", "")
    match = re.search(r"\|\s*([A-Za-z]+)\s*$", table.strip())
    return match.group(1) if match else None
