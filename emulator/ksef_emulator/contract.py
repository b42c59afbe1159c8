"""The contract the emulator follows: the official OpenAPI file, and the newer changes it does not carry yet.

contract/open-api.json is an unchanged copy of the official KSeF 2.0 contract, version 2.7.0. The later changes
that matter here were published as release notes, not as a file this repository can copy (2.7.1, 2.8.1); each is
applied below as one small, named function (NEWER_CHANGES), never by editing the official file. The emulator's
routes, limits and the conformance check of every response (conformance.py) all read `contract()`.
"""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from importlib import resources

OFFICIAL_VERSION = "2.7.0"
VERSION = "2.7.0 with the changes of 2.7.1 and 2.8.1"

DEFAULT_LIMITS = {"perSecond": 10, "perMinute": 30, "perHour": 120}

# 2.8.1 (limity-api.md, 14.09.2026): closing a session has its own groups and limits.
SESSION_CLOSE_LIMITS = {
    "onlineSessionClose": (
        "/sessions/online/{referenceNumber}/close",
        {"perSecond": 20, "perMinute": 60, "perHour": 240},
    ),
    "batchSessionClose": (
        "/sessions/batch/{referenceNumber}/close",
        {"perSecond": 20, "perMinute": 40, "perHour": 120},
    ),
}
# 2.8.1: EffectiveApiRateLimits groups that /testdata/rate-limits cannot set (-1: not limited).
READ_ONLY_RATE_LIMIT_GROUPS = ("onlineSessionClose", "batchSessionClose", "anonymous", "global")


@lru_cache(maxsize=1)
def official() -> dict:
    """The bundled official file, as published."""
    return json.loads(resources.files(__package__).joinpath("contract/open-api.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def contract() -> dict:
    """The official file with NEWER_CHANGES applied (a copy: callers must not change it)."""
    document = copy.deepcopy(official())
    for change in NEWER_CHANGES:
        change(document)
    return document


def _schemas(document: dict) -> dict:
    return document["components"]["schemas"]


def _extend_enum(schema: dict, value: str) -> None:
    if value not in schema["enum"]:
        schema["enum"].append(value)


def collective_identifier_manage_in_entity_and_indirect_grants(document: dict) -> None:
    """2.8.1: CollectiveIdentifierManage in EntityPermissionType (POST /permissions/entities/grants),
    EntityPermissionItemScope (POST /permissions/query/entities/grants) and IndirectPermissionType
    (POST /permissions/indirect/grants)."""
    for name in ("EntityPermissionType", "EntityPermissionItemScope", "IndirectPermissionType"):
        _extend_enum(_schemas(document)[name], "CollectiveIdentifierManage")


def session_close_rate_limits(document: dict) -> None:
    """2.8.1: closing a session counts in its own group (onlineSessionClose, batchSessionClose) with higher limits:
    20/s, 60/min, 240/h (interactive) and 20/s, 40/min, 120/h (batch), up from 10/30/120 and 10/20/60."""
    for group, (path, limits) in SESSION_CLOSE_LIMITS.items():
        operation = document["paths"][path]["post"]
        operation["x-rate-limits"] = dict(limits)
        operation["responses"]["429"]["description"] = (
            "| | req / s | req / min | req / h | grupa\n| --- | --- | --- | --- | --- |\n"
            "| **Limity liczby żądań** | {perSecond} | {perMinute} | {perHour} | {group}\n".format(
                group=group, **limits
            )
        )


def effective_rate_limits_groups(document: dict) -> None:
    """2.8.1: EffectiveApiRateLimits (GET /rate-limits) requires onlineSessionClose, batchSessionClose, anonymous
    and global; they cannot be set through /testdata/rate-limits, and -1 means not limited."""
    schema = _schemas(document)["EffectiveApiRateLimits"]
    descriptions = {
        "onlineSessionClose": "Limity dla zamykania sesji interaktywnych.",
        "batchSessionClose": "Limity dla zamykania sesji wsadowych.",
        "anonymous": "Limity dla żądań nieuwierzytelnionych.",
        "global": "Limity globalne dla adresu IP (wartość -1: brak limitu).",
    }
    for group in READ_ONLY_RATE_LIMIT_GROUPS:
        schema["properties"][group] = {
            "required": ["perSecond", "perMinute", "perHour"],
            "allOf": [{"$ref": "#/components/schemas/EffectiveApiRateLimitValues"}],
            "description": descriptions[group],
        }
        if group not in schema["required"]:
            schema["required"].append(group)


def forbidden_timestamp_optional(document: dict) -> None:
    """2.8.1: ForbiddenProblemDetails.timestamp is no longer required."""
    schema = _schemas(document)["ForbiddenProblemDetails"]
    schema["required"] = [name for name in schema["required"] if name != "timestamp"]


def collective_identifier_session_limits(document: dict) -> None:
    """2.7.1: POST /testdata/limits/context/session requires collectiveIdentifier{maxInvoices}."""
    schemas = _schemas(document)
    schemas["CollectiveIdentifierContextLimitsOverride"] = {
        "required": ["maxInvoices"],
        "type": "object",
        "properties": {
            "maxInvoices": {
                "minimum": 0,
                "type": "integer",
                "description": "Maksymalna ilość faktur objętych identyfikatorem zbiorczym.",
                "format": "int32",
            }
        },
    }
    request = schemas["SetSessionLimitsRequest"]
    request["properties"]["collectiveIdentifier"] = {
        "required": ["maxInvoices"],
        "allOf": [{"$ref": "#/components/schemas/CollectiveIdentifierContextLimitsOverride"}],
        "description": "Limity dla identyfikatorów zbiorczych.",
    }
    if "collectiveIdentifier" not in request["required"]:
        request["required"].append("collectiveIdentifier")


NEWER_CHANGES = (
    collective_identifier_session_limits,
    collective_identifier_manage_in_entity_and_indirect_grants,
    session_close_rate_limits,
    effective_rate_limits_groups,
    forbidden_timestamp_optional,
)


def _operation(operation: str) -> dict | None:
    method, _separator, template = operation.partition(" ")
    op = contract().get("paths", {}).get(template, {}).get(method.lower())
    return op if isinstance(op, dict) else None


def rate_limits(operation: str) -> dict:
    """`x-rate-limits` of "METHOD /template" (the documented default for anything unlisted)."""
    op = _operation(operation)
    if op is not None and op.get("x-rate-limits"):
        return dict(op["x-rate-limits"])
    return dict(DEFAULT_LIMITS)


def rate_limit_group(operation: str) -> str | None:
    """The group an operation's limits belong to (the last column of its 429 table), e.g. `other`."""
    op = _operation(operation)
    if op is None:
        return None
    table = op.get("responses", {}).get("429", {}).get("description", "")
    match = re.search(r"\|\s*([A-Za-z]+)\s*$", table.strip())
    return match.group(1) if match else None


def rate_limit_groups() -> dict[str, dict]:
    """Every named group of the contract and the production limits of its operations (first one listed)."""
    groups: dict[str, dict] = {}
    for template, item in contract().get("paths", {}).items():
        for method in item:
            group = rate_limit_group(f"{method.upper()} {template}")
            if group and group not in groups:
                groups[group] = rate_limits(f"{method.upper()} {template}")
    return groups
