"""Input checks shared by the routes; every failure is a 400 21405 naming the field."""

from __future__ import annotations

import base64
import binascii
import datetime
import re

from .errors import ApiError

NIP = re.compile(r"^[1-9]((\d[1-9])|([1-9]\d))\d{7}$")
PESEL = re.compile(r"^\d{2}(?:0[1-9]|1[0-2]|2[1-9]|3[0-2]|4[1-9]|5[0-2]|6[1-9]|7[0-2]|8[1-9]|9[0-2])\d{7}$")
INTERNAL_ID = re.compile(r"^[1-9]((\d[1-9])|([1-9]\d))\d{7}-\d{5}$")
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
IP4 = re.compile(rf"^({_OCTET}\.){{3}}{_OCTET}$")
IP4_RANGE = re.compile(rf"^({_OCTET}\.){{3}}{_OCTET}-({_OCTET}\.){{3}}{_OCTET}$")
IP4_MASK = re.compile(rf"^({_OCTET}\.){{3}}{_OCTET}/(0|[1-9]|[12][0-9]|3[0-2])$")

CONTEXT_TYPES = ("Nip", "InternalId", "NipVatUe", "PeppolId")


def invalid(message: str) -> ApiError:
    return ApiError(21405, message)


def enum_value(value, allowed: tuple[str, ...], field: str) -> str:
    """The canonical spelling of an enum value (matched case-insensitively, as the API does)."""
    if isinstance(value, str):
        for option in allowed:
            if option.lower() == value.lower():
                return option
    raise invalid(f"Pole '{field}' ma nieprawidłową wartość. Dozwolone wartości: {', '.join(allowed)}.")


def text(body: dict, field: str, *, min_len: int = 0, max_len: int | None = None, required: bool = True) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise invalid(f"Pole '{field}' jest wymagane.")
        return None
    if not isinstance(value, str):
        raise invalid(f"Pole '{field}' musi być tekstem.")
    if len(value) < min_len or (max_len is not None and len(value) > max_len):
        bound = f"od {min_len} do {max_len}" if max_len is not None else f"co najmniej {min_len}"
        raise invalid(f"Pole '{field}' musi mieć {bound} znaków.")
    return value


def matches(value: str | None, pattern: re.Pattern, field: str) -> str:
    if value is None or not pattern.match(value):
        raise invalid(f"Pole '{field}' ma nieprawidłowy format.")
    return value


def base64_bytes(value, field: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise invalid(f"Pole '{field}' jest wymagane.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"Pole '{field}' nie jest poprawnym ciągiem Base64.") from None


def context_identifier(value, field: str = "contextIdentifier") -> tuple[str, str]:
    if not isinstance(value, dict):
        raise invalid(f"Pole '{field}' jest wymagane.")
    ctx_type = enum_value(value.get("type"), CONTEXT_TYPES, f"{field}.type")
    ctx_value = value.get("value")
    if not isinstance(ctx_value, str) or not ctx_value:
        raise invalid(f"Pole '{field}.value' jest wymagane.")
    if ctx_type == "Nip":
        matches(ctx_value, NIP, f"{field}.value")
    elif ctx_type == "InternalId":
        matches(ctx_value, INTERNAL_ID, f"{field}.value")
    return ctx_type, ctx_value


def authorization_policy(value) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("Pole 'authorizationPolicy' musi być obiektem.")
    allowed = value.get("allowedIps")
    if allowed is None:
        return value
    if not isinstance(allowed, dict):
        raise invalid("Pole 'authorizationPolicy.allowedIps' musi być obiektem.")
    for name, pattern in (("ip4Addresses", IP4), ("ip4Ranges", IP4_RANGE), ("ip4Masks", IP4_MASK)):
        items = allowed.get(name)
        if items is None:
            continue
        if not isinstance(items, list) or len(items) > 10:
            raise invalid(f"Pole 'authorizationPolicy.allowedIps.{name}' może zawierać najwyżej 10 elementów.")
        for item in items:
            if not isinstance(item, str) or not pattern.match(item):
                raise invalid(f"Pole 'authorizationPolicy.allowedIps.{name}' zawiera nieprawidłową wartość.")
    return value


def page_size(raw: str | None, maximum: int = 100) -> int:
    return query_integer(raw, "pageSize", default=10, minimum=10, maximum=maximum)


def query_integer(raw: str | None, field: str, *, default: int, minimum: int, maximum: int | None = None) -> int:
    if raw is None:
        return default
    # int() also reads other scripts' digits ("١٢"): a query parameter is written with 0-9 only.
    if not re.fullmatch(r"[+-]?[0-9]+", raw.strip()):
        raise invalid(f"Parametr '{field}' musi być liczbą całkowitą zapisaną cyframi 0-9.")
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"od {minimum} do {maximum}" if maximum is not None else f"co najmniej {minimum}"
        raise invalid(f"Parametr '{field}' musi mieścić się w zakresie {bound}.")
    return value


def date_only(value, field: str) -> str:
    if isinstance(value, str):
        try:
            datetime.date.fromisoformat(value)
            return value
        except ValueError:
            pass
    raise invalid(f"Pole '{field}' musi być datą w formacie RRRR-MM-DD.")


def date_time(value, field: str) -> float | None:
    """Epoch seconds of an ISO 8601 date-time (None stays None); 21405 naming the field otherwise."""
    if value is None:
        return None
    if isinstance(value, str) and "T" in value:
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=datetime.timezone.utc)
            return parsed.timestamp()
    raise invalid(f"Pole '{field}' musi być datą i czasem w formacie ISO 8601 (np. 2026-01-31T12:00:00Z).")


def boolean(raw: str | None, field: str) -> bool | None:
    if raw is None:
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise invalid(f"Parametr '{field}' musi mieć wartość true albo false.")
