"""TEST-environment data endpoints: subjects, persons (NIP-PESEL link, bailiffs) and permission grants."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from .. import clock, validation
from ..authority import ALL_PERMISSIONS
from ..errors import ApiError
from ..web import empty_response, read_json

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
    subunits = body.get("subunits") or []
    if not isinstance(subunits, list):
        raise ApiError(21405, "Pole 'subunits' musi być listą.")
    parsed = [
        (_nip(u, "subunits.subjectNip"), validation.text(u, "description", min_len=5, max_len=256))
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


routes = [
    Route("/testdata/subject", create_subject, methods=["POST"]),
    Route("/testdata/subject/remove", remove_subject, methods=["POST"]),
    Route("/testdata/person", create_person, methods=["POST"]),
    Route("/testdata/person/remove", remove_person, methods=["POST"]),
    Route("/testdata/permissions", grant_permissions, methods=["POST"]),
    Route("/testdata/permissions/revoke", revoke_permissions, methods=["POST"]),
]
