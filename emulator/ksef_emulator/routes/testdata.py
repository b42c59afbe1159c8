"""TEST-environment data endpoints: subjects, persons (NIP-PESEL link, bailiffs), permission grants, attachments,
blocked contexts, the limits of the current context (sessions, API rates) and subject (certificates), and the
shortening of a KSeF certificate's validity."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from .. import clock, overrides, validation
from ..authority import ALL_PERMISSIONS
from ..caller import access_caller
from ..errors import ApiError
from ..ratelimit import WINDOW_NAMES
from ..web import empty_response, read_json
from . import certificates as certificate_routes

SUBJECT_TYPES = ("EnforcementAuthority", "VatGroup", "JST")
AUTHORIZED_TYPES = ("Nip", "Pesel", "Fingerprint")


def _store(request: Request):
    return request.app.state.emulator.store


def _nip(body: dict, field: str) -> str:
    return validation.matches(validation.text(body, field), validation.NIP, field)


def _flag(body: dict, field: str, required: bool) -> bool:
    value = body.get(field)
    if value is None and not required:
        return False
    if not isinstance(value, bool):
        raise ApiError(21405, f"Pole '{field}' musi mieć wartość true albo false.")
    return value


async def create_subject(request: Request):
    body = await read_json(request)
    nip = _nip(body, "subjectNip")
    subject_type = validation.enum_value(body.get("subjectType"), SUBJECT_TYPES, "subjectType")
    description = validation.text(body, "description", min_len=5, max_len=256)
    validation.date_time(body.get("createdDate"), "createdDate")
    subunits = body.get("subunits") or []
    if not isinstance(subunits, list):
        raise ApiError(21405, "Pole 'subunits' musi być listą.")
    parsed = [
        (_nip(u, "subjectNip"), validation.text(u, "description", min_len=5, max_len=256))
        for u in subunits
        if isinstance(u, dict)
    ]
    if len(parsed) != len(subunits):
        raise ApiError(21405, "Pole 'subunits' zawiera nieprawidłowy element.")
    now = clock.now()
    with _store(request).transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO subjects (nip, subject_type, description, parent_nip, created)"
            " VALUES (?, ?, ?, NULL, ?)",
            (nip, subject_type, description, now),
        )
        for sub_nip, sub_description in parsed:
            db.execute(
                "INSERT OR REPLACE INTO subjects (nip, subject_type, description, parent_nip, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (sub_nip, subject_type, sub_description, nip, now),
            )
    return empty_response(200, request)


async def remove_subject(request: Request):
    body = await read_json(request)
    nip = _nip(body, "subjectNip")
    _store(request).execute("DELETE FROM subjects WHERE nip = ? OR parent_nip = ?", (nip, nip))
    return empty_response(200, request)


async def create_person(request: Request):
    body = await read_json(request)
    nip = _nip(body, "nip")
    pesel = validation.matches(validation.text(body, "pesel"), validation.PESEL, "pesel")
    is_bailiff = _flag(body, "isBailiff", required=True)
    is_deceased = _flag(body, "isDeceased", required=False)
    description = validation.text(body, "description", min_len=5, max_len=256)
    validation.date_time(body.get("createdDate"), "createdDate")
    _store(request).execute(
        "INSERT OR REPLACE INTO persons (nip, pesel, is_bailiff, is_deceased, description, created)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (nip, pesel, int(is_bailiff), int(is_deceased), description, clock.now()),
    )
    return empty_response(200, request)


async def remove_person(request: Request):
    body = await read_json(request)
    _store(request).execute("DELETE FROM persons WHERE nip = ?", (_nip(body, "nip"),))
    return empty_response(200, request)


def _grant_parties(body: dict) -> tuple[str, str, str]:
    ctx = body.get("contextIdentifier")
    if not isinstance(ctx, dict):
        raise ApiError(21405, "Pole 'contextIdentifier' jest wymagane.")
    validation.enum_value(ctx.get("type"), ("Nip",), "contextIdentifier.type")
    context_nip = _nip(ctx, "value")
    who = body.get("authorizedIdentifier")
    if not isinstance(who, dict):
        raise ApiError(21405, "Pole 'authorizedIdentifier' jest wymagane.")
    who_type = validation.enum_value(who.get("type"), AUTHORIZED_TYPES, "authorizedIdentifier.type")
    who_value = validation.text(who, "value", min_len=10, max_len=64)
    if who_type == "Nip":
        validation.matches(who_value, validation.NIP, "authorizedIdentifier.value")
    elif who_type == "Pesel":
        validation.matches(who_value, validation.PESEL, "authorizedIdentifier.value")
    else:
        who_value = (who_value or "").upper()
    return context_nip, who_type, who_value or ""


async def grant_permissions(request: Request):
    body = await read_json(request)
    context_nip, who_type, who_value = _grant_parties(body)
    permissions = body.get("permissions")
    if not isinstance(permissions, list):
        raise ApiError(21405, "Pole 'permissions' jest wymagane.")
    grants = []
    for item in permissions:
        if not isinstance(item, dict):
            raise ApiError(21405, "Pole 'permissions' zawiera nieprawidłowy element.")
        grants.append(
            (
                validation.enum_value(item.get("permissionType"), ALL_PERMISSIONS, "permissionType"),
                validation.text(item, "description", min_len=5, max_len=256),
            )
        )
    with _store(request).transaction() as db:
        for permission, description in grants:
            db.execute(
                "INSERT OR REPLACE INTO permission_grants (context_type, context_value, subject_type,"
                " subject_value, permission, description) VALUES ('Nip', ?, ?, ?, ?, ?)",
                (context_nip, who_type, who_value, permission, description),
            )
    return empty_response(200, request)


async def revoke_permissions(request: Request):
    body = await read_json(request)
    context_nip, who_type, who_value = _grant_parties(body)
    _store(request).execute(
        "DELETE FROM permission_grants WHERE context_type = 'Nip' AND context_value = ?"
        " AND subject_type = ? AND subject_value = ?",
        (context_nip, who_type, who_value),
    )
    return empty_response(200, request)


def _overrides(request: Request) -> overrides.TestdataOverrides:
    return request.app.state.emulator.overrides


INT32_MAX = 2**31 - 1


def _int_field(body, field: str, minimum: int, maximum: int = INT32_MAX, required: bool = True) -> int | None:
    """An integer within [minimum, maximum] (the contract's fields are int32), else 400 21405 naming the field."""
    value = body.get(field) if isinstance(body, dict) else None
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        bound = f"od {minimum} do {maximum}" if maximum < INT32_MAX else f"co najmniej {minimum}"
        raise ApiError(21405, f"Pole '{field}' musi być liczbą całkowitą {bound}.")
    return value


def _part(body: dict, kind: str) -> dict:
    part = body.get(kind)
    if not isinstance(part, dict):
        raise ApiError(21405, f"Pole '{kind}' jest wymagane.")
    return part


async def set_session_limits(request: Request):
    caller = access_caller(request)
    body = await read_json(request)
    limits = {}
    for kind in ("onlineSession", "batchSession"):
        part = _part(body, kind)
        limits[kind] = {
            "maxInvoiceSizeInMB": _int_field(part, "maxInvoiceSizeInMB", 0, 5),
            "maxInvoiceWithAttachmentSizeInMB": _int_field(part, "maxInvoiceWithAttachmentSizeInMB", 0, 10),
            "maxInvoices": _int_field(part, "maxInvoices", 0, 100000),
        }
    # 2.7.1 (contract.py): the collective identifiers' limit is required too.
    limits["collectiveIdentifier"] = {"maxInvoices": _int_field(_part(body, "collectiveIdentifier"), "maxInvoices", 0)}
    _overrides(request).put(overrides.SESSION_LIMITS, caller.context, limits)
    return empty_response(200, request)


async def reset_session_limits(request: Request):
    _overrides(request).delete(overrides.SESSION_LIMITS, access_caller(request).context)
    return empty_response(200, request)


async def set_certificate_limits(request: Request):
    caller = access_caller(request)
    body = await read_json(request)
    if body.get("subjectIdentifierType") is not None:
        validation.enum_value(body["subjectIdentifierType"], AUTHORIZED_TYPES, "subjectIdentifierType")
    enrollment = body.get("enrollment") or {}
    certificate = body.get("certificate") or {}
    if not isinstance(enrollment, dict) or not isinstance(certificate, dict):
        raise ApiError(21405, "Pola 'enrollment' i 'certificate' muszą być obiektami.")
    request.app.state.emulator.certificates.set_limits(
        caller.subject_type,
        caller.subject_value,
        _int_field(enrollment, "maxEnrollments", 0, required=False),
        _int_field(certificate, "maxCertificates", 0, required=False),
    )
    return empty_response(200, request)


async def reset_certificate_limits(request: Request):
    caller = access_caller(request)
    request.app.state.emulator.certificates.reset_limits(caller.subject_type, caller.subject_value)
    return empty_response(200, request)


async def update_certificate(request: Request):
    """Shortens a KSeF certificate's validity (TEST only): the new end may not be later than the current one."""
    caller = access_caller(request)
    serial = certificate_routes.serial_number(request.path_params["serialNumber"], "serialNumber")
    body = await read_json(request)
    valid_to = validation.date_time(body.get("validTo"), "validTo")
    if valid_to is None:
        raise ApiError(21405, "Pole 'validTo' jest wymagane.")
    cert = certificate_routes.owned(request, caller, serial)
    if cert is None:
        raise ApiError(25008)
    if valid_to > cert["valid_to"]:
        raise ApiError(21405, "Pole 'validTo' nie może być późniejsze niż obecna data ważności certyfikatu.")
    request.app.state.emulator.certificates.set_valid_to(serial, valid_to)
    return empty_response(200, request)


RATE_LIMIT_GROUPS = (
    "onlineSession",
    "batchSession",
    "invoiceSend",
    "invoiceStatus",
    "sessionList",
    "sessionInvoiceList",
    "sessionMisc",
    "invoiceMetadata",
    "invoiceExport",
    "invoiceExportStatus",
    "invoiceDownload",
    "collectiveIdentifier",
    "other",
)


async def set_rate_limits(request: Request):
    caller = access_caller(request)
    body = await read_json(request)
    given = body.get("rateLimits")
    if not isinstance(given, dict):
        raise ApiError(21405, "Pole 'rateLimits' jest wymagane.")
    groups = {}
    for group in RATE_LIMIT_GROUPS:
        values = given.get(group)
        if not isinstance(values, dict):
            raise ApiError(21405, f"Pole 'rateLimits.{group}' jest wymagane.")
        groups[group] = {window: _int_field(values, window, 0) for window in WINDOW_NAMES}
    _overrides(request).put(overrides.RATE_LIMITS, caller.context, groups)
    return empty_response(200, request)


async def reset_rate_limits(request: Request):
    _overrides(request).delete(overrides.RATE_LIMITS, access_caller(request).context)
    return empty_response(200, request)


async def production_rate_limits(request: Request):
    """The production values: the contract's `x-rate-limits` as they are, without the TEST factor."""
    caller = access_caller(request)
    _overrides(request).put(overrides.RATE_LIMITS, caller.context, {"production": True})
    return empty_response(200, request)


async def grant_attachment(request: Request):
    body = await read_json(request)
    _overrides(request).put(overrides.ATTACHMENT, _nip(body, "nip"), {"allowed": True})
    return empty_response(200, request)


async def revoke_attachment(request: Request):
    body = await read_json(request)
    nip = _nip(body, "nip")
    end = body.get("expectedEndDate")
    if end is not None:
        validation.date_only(end, "expectedEndDate")
    _overrides(request).put(overrides.ATTACHMENT, nip, {"allowed": False, "expectedEndDate": end})
    return empty_response(200, request)


def _blocked_context(body: dict) -> str:
    ctx = body.get("contextIdentifier")
    if not isinstance(ctx, dict):
        raise ApiError(21405, "Pole 'contextIdentifier' jest wymagane.")
    ctx_type, ctx_value = validation.context_identifier(ctx)
    return f"{ctx_type}:{ctx_value}"


async def block_context(request: Request):
    body = await read_json(request)
    _overrides(request).put(overrides.BLOCKED_CONTEXT, _blocked_context(body), True)
    return empty_response(200, request)


async def unblock_context(request: Request):
    body = await read_json(request)
    _overrides(request).delete(overrides.BLOCKED_CONTEXT, _blocked_context(body))
    return empty_response(200, request)


routes = [
    Route("/testdata/subject", create_subject, methods=["POST"]),
    Route("/testdata/subject/remove", remove_subject, methods=["POST"]),
    Route("/testdata/person", create_person, methods=["POST"]),
    Route("/testdata/person/remove", remove_person, methods=["POST"]),
    Route("/testdata/permissions", grant_permissions, methods=["POST"]),
    Route("/testdata/permissions/revoke", revoke_permissions, methods=["POST"]),
    Route("/testdata/attachment", grant_attachment, methods=["POST"]),
    Route("/testdata/attachment/revoke", revoke_attachment, methods=["POST"]),
    Route("/testdata/context/block", block_context, methods=["POST"]),
    Route("/testdata/context/unblock", unblock_context, methods=["POST"]),
    Route("/testdata/limits/context/session", set_session_limits, methods=["POST"]),
    Route("/testdata/limits/context/session", reset_session_limits, methods=["DELETE"]),
    Route("/testdata/limits/subject/certificate", set_certificate_limits, methods=["POST"]),
    Route("/testdata/limits/subject/certificate", reset_certificate_limits, methods=["DELETE"]),
    Route("/testdata/rate-limits", set_rate_limits, methods=["POST"]),
    Route("/testdata/rate-limits", reset_rate_limits, methods=["DELETE"]),
    Route("/testdata/rate-limits/production", production_rate_limits, methods=["POST"]),
    Route("/testdata/certificates/{serialNumber}", update_certificate, methods=["PUT"]),
]
