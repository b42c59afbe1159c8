"""The permission API (uprawnienia.md): seven grants, two revokes, the operation status, and the queries.

Every grant or revoke answers 202 with an `EG` reference number; input errors are a 400 21405 at once, a caller
without the operation's `x-required-permissions` a 403, and rules that depend on other data (roles, delegation,
identifier relations) end the operation with the documented failure code (permissions.py).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from .. import clock, identifiers, offset_paging, overrides, refnum, validation
from .. import permissions as perms
from ..caller import Caller, access_caller
from ..contract import contract
from ..errors import ApiError, Forbidden, gone
from ..web import json_response, read_json

PERSON_PERMISSIONS = (
    "CredentialsManage",
    "CredentialsRead",
    "InvoiceWrite",
    "InvoiceRead",
    "Introspection",
    "SubunitManage",
    "EnforcementOperations",
    "CollectiveIdentifierManage",
)
PERSONAL_PERMISSIONS = PERSON_PERMISSIONS + ("VatUeManage",)
INVOICE_PERMISSIONS = ("InvoiceWrite", "InvoiceRead")
# What an entity and an indirect grant may carry, as the contract followed says (2.8.1 adds CollectiveIdentifierManage).
ENTITY_PERMISSIONS = tuple(contract()["components"]["schemas"]["EntityPermissionType"]["enum"])
INDIRECT_PERMISSIONS = tuple(contract()["components"]["schemas"]["IndirectPermissionType"]["enum"])
AUTHORIZATION_PERMISSIONS = ("SelfInvoicing", "RRInvoicing", "TaxRepresentative", "PefInvoicing")
EU_ADMIN_SCOPES = ("VatUeManage", "InvoiceWrite", "InvoiceRead", "Introspection")
EU_QUERY_PERMISSIONS = EU_ADMIN_SCOPES
SUBJECT_TYPES = ("Nip", "Pesel", "Fingerprint")
PERSON_DETAILS_TYPES = (
    "PersonByIdentifier",
    "PersonByFingerprintWithIdentifier",
    "PersonByFingerprintWithoutIdentifier",
)
EU_DETAILS_TYPES = ("PersonByFingerprintWithIdentifier", "PersonByFingerprintWithoutIdentifier", "EntityByFingerprint")
ENFORCEMENT_ROLES = ("EnforcementAuthority", "CourtBailiff")
PARENT_ROLES = ("LocalGovernmentUnit", "VatGroupUnit")
PERMISSION_STATES = ("Active", "Inactive")


def _state(request: Request):
    return request.app.state.emulator


def _caller(request: Request, method: str, template: str) -> Caller:
    """The caller, refused with 403 unless it holds one of the operation's x-required-permissions."""
    caller = access_caller(request)
    required = contract()["paths"][template][method].get("x-required-permissions") or []
    if required and not caller.has_any(*required):
        raise Forbidden(
            "missing-permissions",
            {"requiredAnyOfPermissions": list(required), "presentPermissions": list(caller.permissions)},
        )
    return caller


async def _body(request: Request) -> dict:
    """The JSON object body; an empty body counts as {} (the query filters are all optional)."""
    if not await request.body():
        return {}
    return await read_json(request)


def _object(body: dict, field: str) -> dict:
    value = body.get(field)
    if not isinstance(value, dict):
        raise validation.invalid(f"Pole '{field}' jest wymagane i musi być obiektem.")
    return value


def _optional_identifier(body: dict, field: str, types: tuple[str, ...]) -> tuple[str, str] | None:
    return None if body.get(field) is None else _identifier(body, field, types)


def _identifier(body: dict, field: str, types: tuple[str, ...]) -> tuple[str, str]:
    """(type, value) of an identifier object, its value checked for its type (Fingerprint upper-cased)."""
    ident = _object(body, field)
    kind = validation.enum_value(ident.get("type"), types, f"{field}.type")
    if kind in ("AllPartners", "System"):
        return kind, ""
    value = ident.get("value")
    if not isinstance(value, str) or not value:
        raise validation.invalid(f"Pole '{field}.value' jest wymagane.")
    checks = {
        "Nip": validation.NIP,
        "Pesel": validation.PESEL,
        "InternalId": validation.INTERNAL_ID,
    }
    if kind in checks:
        validation.matches(value, checks[kind], f"{field}.value")
    elif kind == "Fingerprint":
        if len(value) != 64 or any(c not in "0123456789abcdefABCDEF" for c in value):
            raise validation.invalid(f"Pole '{field}.value' musi być odciskiem SHA-256 (64 znaki szesnastkowe).")
        value = value.upper()
    elif kind == "PeppolId" and not 9 <= len(value) <= 10:
        raise validation.invalid(f"Pole '{field}.value' musi mieć od 9 do 10 znaków.")
    return kind, value


def _enum_list(body: dict, field: str, allowed: tuple[str, ...], required: bool = True) -> list[str]:
    value = body.get(field)
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        raise validation.invalid(f"Pole '{field}' musi być niepustą listą.")
    chosen = [validation.enum_value(v, allowed, field) for v in value]
    if len(set(chosen)) != len(chosen):  # the contract: "Każda wartość może wystąpić tylko raz"
        raise validation.invalid(f"Pole '{field}' zawiera powtórzoną wartość; każda wartość może wystąpić tylko raz.")
    return [p for p in allowed if p in chosen]


def _description(body: dict) -> str:
    return validation.text(body, "description", min_len=5, max_len=256) or ""


def _person_details(body: dict, subject_type: str, allowed: tuple[str, ...] = PERSON_DETAILS_TYPES) -> dict:
    """subjectDetails (PersonPermissionSubjectDetails / EuEntityPermissionSubjectDetails), required since RC6.0."""
    details = _object(body, "subjectDetails")
    kind = validation.enum_value(details.get("subjectDetailsType"), allowed, "subjectDetails.subjectDetailsType")
    if (kind == "PersonByIdentifier") != (subject_type in ("Nip", "Pesel")):
        raise validation.invalid(
            f"Pole 'subjectDetails.subjectDetailsType' ({kind}) nie pasuje do typu identyfikatora ({subject_type})."
        )
    part = {
        "PersonByIdentifier": "personById",
        "PersonByFingerprintWithIdentifier": "personByFpWithId",
        "PersonByFingerprintWithoutIdentifier": "personByFpNoId",
        "EntityByFingerprint": "entityByFp",
    }[kind]
    inner = _object(details, part)
    out: dict = {"subjectDetailsType": kind}
    if kind == "EntityByFingerprint":
        out["fullName"] = validation.text(inner, "fullName", min_len=1, max_len=100)
        out["address"] = validation.text(inner, "address", min_len=1, max_len=512)
        return out
    out["firstName"] = validation.text(inner, "firstName", min_len=2, max_len=30)
    out["lastName"] = validation.text(inner, "lastName", min_len=2, max_len=81)
    if kind == "PersonByFingerprintWithIdentifier":
        person_type, person_value = _identifier(inner, "identifier", ("Pesel", "Nip"))
        out["personIdentifier"] = {"type": person_type, "value": person_value}
    elif kind == "PersonByFingerprintWithoutIdentifier":
        out["birthDate"] = validation.date_only(inner.get("birthDate"), "birthDate")
        document = _object(inner, "idDocument")
        out["idDocument"] = {
            "type": validation.text(document, "type", min_len=1, max_len=20),
            "number": validation.text(document, "number", min_len=1, max_len=20),
            "country": validation.text(document, "country", min_len=2, max_len=2),
        }
    return out


def _entity_details(body: dict) -> dict:
    details = _object(body, "subjectDetails")
    return {
        "subjectDetailsType": "EntityByIdentifier",
        "fullName": validation.text(details, "fullName", min_len=5, max_len=90),
    }


def _author(caller: Caller) -> tuple[str, str]:
    return caller.subject_type, (
        caller.subject_value.upper() if caller.subject_type == "Fingerprint" else caller.subject_value
    )


def _row(caller: Caller, kind: str, scope: str, subject: tuple[str, str], description: str, **fields) -> dict:
    author_type, author_value = _author(caller)
    row = {
        "kind": kind,
        "scope": scope,
        "context_type": caller.context_type,
        "context_value": caller.context_value,
        "granter_type": caller.context_type,
        "granter_value": caller.context_value,
        "subject_type": subject[0],
        "subject_value": subject[1],
        "author_type": author_type,
        "author_value": author_value,
        "description": description,
    }
    row.update(fields)
    return row


def _roles(state, nip: str) -> list[dict]:
    """The context's roles (EntityRole): from /testdata/subject (JST, VatGroup, EnforcementAuthority) and
    /testdata/person (isBailiff: CourtBailiff)."""
    roles = []
    subject = state.store.one("SELECT * FROM subjects WHERE nip = ?", (nip,))
    if subject is not None:
        parent = subject["parent_nip"]
        role = {
            ("JST", False): "LocalGovernmentUnit",
            ("JST", True): "LocalGovernmentSubUnit",
            ("VatGroup", False): "VatGroupUnit",
            ("VatGroup", True): "VatGroupSubUnit",
            ("EnforcementAuthority", False): "EnforcementAuthority",
            ("EnforcementAuthority", True): "EnforcementAuthority",
        }[(subject["subject_type"], parent is not None)]
        item = {"role": role, "description": subject["description"], "startDate": clock.iso(subject["created"])}
        if parent is not None and role.endswith("SubUnit"):
            item["parentEntityIdentifier"] = {"type": "Nip", "value": parent}
        roles.append(item)
    person = state.store.one("SELECT * FROM persons WHERE nip = ? AND is_bailiff = 1", (nip,))
    if person is not None:
        roles.append(
            {"role": "CourtBailiff", "description": person["description"], "startDate": clock.iso(person["created"])}
        )
    return roles


def _context_nip(caller: Caller) -> str:
    return caller.context_value.split("-", 1)[0]


def _is_owner_subject(state, caller: Caller, subject: tuple[str, str]) -> bool:
    """The Owner is never granted anything (and never listed)."""
    return state.authority.is_owner(caller.context_type, caller.context_value, *subject)


def _accepted(request: Request, caller: Caller, outcome: int, effect: dict):
    reference = _state(request).grants.start(caller.context_type, caller.context_value, outcome, effect)
    return json_response({"referenceNumber": reference}, 202, request=request)


# --- grants
async def grant_persons(request: Request):
    state = _state(request)
    caller = _caller(request, "post", "/permissions/persons/grants")
    body = await read_json(request)
    subject = _identifier(body, "subjectIdentifier", SUBJECT_TYPES)
    scopes = _enum_list(body, "permissions", PERSON_PERMISSIONS)
    description = _description(body)
    details = _person_details(body, subject[0])
    outcome, notes = perms.SUCCESS, []
    if _is_owner_subject(state, caller, subject):
        outcome, notes = perms.NOT_ALLOWED_IDENTIFIER, ["Właścicielowi nie nadaje się uprawnień."]
    elif "EnforcementOperations" in scopes and not any(
        r["role"] in ENFORCEMENT_ROLES for r in _roles(state, _context_nip(caller))
    ):
        outcome = perms.WRONG_ROLE
        notes = ["EnforcementOperations wymaga roli EnforcementAuthority albo CourtBailiff."]
    rows = [_row(caller, "person", s, subject, description, subject_details=details) for s in scopes]
    return _accepted(request, caller, outcome, {"grant": rows, "details": notes})


async def grant_entities(request: Request):
    state = _state(request)
    caller = _caller(request, "post", "/permissions/entities/grants")
    body = await read_json(request)
    subject = _identifier(body, "subjectIdentifier", ("Nip",))
    items = body.get("permissions")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise validation.invalid("Pole 'permissions' musi być niepustą listą obiektów {type, canDelegate}.")
    chosen: dict[str, bool] = {}
    for item in items:
        scope = validation.enum_value(item.get("type"), ENTITY_PERMISSIONS, "permissions.type")
        delegate = item.get("canDelegate", False)
        if not isinstance(delegate, bool):
            raise validation.invalid("Pole 'permissions.canDelegate' musi mieć wartość true albo false.")
        chosen[scope] = delegate
    description = _description(body)
    details = _entity_details(body)
    outcome, notes = perms.SUCCESS, []
    if _is_owner_subject(state, caller, subject):
        outcome, notes = perms.NOT_ALLOWED_IDENTIFIER, ["Podmiot nie może nadać uprawnień sam sobie."]
    rows = [
        _row(caller, "entity", s, subject, description, can_delegate=d, subject_details=details)
        for s, d in chosen.items()
    ]
    return _accepted(request, caller, outcome, {"grant": rows, "details": notes})


async def grant_authorizations(request: Request):
    state = _state(request)
    caller = _caller(request, "post", "/permissions/authorizations/grants")
    body = await read_json(request)
    subject = _identifier(body, "subjectIdentifier", ("Nip", "PeppolId"))
    scope = validation.enum_value(body.get("permission"), AUTHORIZATION_PERMISSIONS, "permission")
    description = _description(body)
    details = _entity_details(body)
    outcome, notes = perms.SUCCESS, []
    if caller.context_type != "Nip":
        outcome, notes = perms.WRONG_ROLE, ["Uprawnienia podmiotowe nadaje się w kontekście NIP."]
    elif _is_owner_subject(state, caller, subject):
        outcome, notes = perms.NOT_ALLOWED_IDENTIFIER, ["Podmiot nie może nadać uprawnień sam sobie."]
    row = _row(caller, "authorization", scope, subject, description, subject_details=details)
    return _accepted(request, caller, outcome, {"grant": [row], "details": notes})


async def grant_indirect(request: Request):
    state = _state(request)
    caller = _caller(request, "post", "/permissions/indirect/grants")
    body = await read_json(request)
    subject = _identifier(body, "subjectIdentifier", SUBJECT_TYPES)
    # no targetIdentifier at all is a general grant, like AllPartners (uprawnienia.md)
    target = _optional_identifier(body, "targetIdentifier", ("Nip", "AllPartners", "InternalId"))
    target = target or ("AllPartners", "")
    scopes = _enum_list(body, "permissions", INDIRECT_PERMISSIONS)
    description = _description(body)
    details = _person_details(body, subject[0])
    outcome, notes = perms.SUCCESS, []
    if caller.context_type != "Nip":
        outcome, notes = perms.WRONG_ROLE, ["Uprawnienia pośrednie nadaje pośrednik w kontekście NIP."]
    elif target[0] != "AllPartners":
        missing = [s for s in scopes if not state.grants.delegable_from(target[0], target[1], caller.context_value, s)]
        if missing:
            outcome = perms.NOT_ALLOWED_LINK
            notes = [f"Klient {target[1]} nie nadał uprawnień {', '.join(missing)} z prawem do dalszego przekazywania."]
    rows = [
        _row(
            caller,
            "indirect",
            s,
            subject,
            description,
            target_type=target[0],
            target_value=target[1] or None,
            subject_details=details,
        )
        for s in scopes
    ]
    return _accepted(request, caller, outcome, {"grant": rows, "details": notes})


async def grant_subunits(request: Request):
    state = _state(request)
    caller = _caller(request, "post", "/permissions/subunits/grants")
    body = await read_json(request)
    subject = _identifier(body, "subjectIdentifier", SUBJECT_TYPES)
    context = _identifier(body, "contextIdentifier", ("InternalId", "Nip"))
    name = validation.text(body, "subunitName", min_len=5, max_len=256, required=context[0] == "InternalId")
    if context[0] == "InternalId" and not identifiers.internal_id_valid(context[1]):
        raise validation.invalid("Pole 'contextIdentifier.value': ostatnia cyfra identyfikatora wewnętrznego nie jest "
                                 "poprawną sumą kontrolną.")  # fmt: skip
    description = _description(body)
    details = _person_details(body, subject[0])
    outcome, notes = perms.SUCCESS, []
    own_nip = _context_nip(caller)
    if caller.context_type != "Nip":
        outcome, notes = perms.WRONG_ROLE, ["Administratora jednostki podrzędnej nadaje podmiot nadrzędny (NIP)."]
    elif context[0] == "InternalId" and not context[1].startswith(f"{own_nip}-"):
        outcome, notes = perms.WRONG_RELATION, ["Identyfikator wewnętrzny musi zaczynać się od NIP kontekstu."]
    elif context[0] == "Nip":
        if not any(r["role"] in PARENT_ROLES for r in _roles(state, own_nip)):
            outcome, notes = perms.WRONG_ROLE, ["Kontekst nie ma roli LocalGovernmentUnit ani VatGroupUnit."]
        elif not state.store.one("SELECT 1 FROM subjects WHERE nip = ? AND parent_nip = ?", (context[1], own_nip)):
            outcome, notes = perms.WRONG_RELATION, [f"{context[1]} nie jest podmiotem podrzędnym {own_nip}."]
    row = _row(
        caller,
        "subunit",
        "CredentialsManage",
        subject,
        description,
        context_type=context[0],
        context_value=context[1],
        subject_details=details,
        extra={"subunitName": name} if name else {},
    )
    return _accepted(request, caller, outcome, {"grant": [row], "details": notes})


async def grant_eu_administration(request: Request):
    caller = _caller(request, "post", "/permissions/eu-entities/administration/grants")
    body = await read_json(request)
    subject = _identifier(body, "subjectIdentifier", ("Fingerprint",))
    context = _identifier(body, "contextIdentifier", ("NipVatUe",))
    parts = identifiers.nip_vat_ue(context[1])
    if parts is None:
        raise validation.invalid("Pole 'contextIdentifier.value' musi mieć postać {nip}-{numer VAT UE}.")
    name = validation.text(body, "euEntityName", min_len=5, max_len=256)
    entity = _object(body, "euEntityDetails")
    entity_details = {
        "fullName": validation.text(entity, "fullName", min_len=1, max_len=100),
        "address": validation.text(entity, "address", min_len=1, max_len=512),
    }
    description = _description(body)
    details = _person_details(body, subject[0], EU_DETAILS_TYPES)
    outcome, notes = perms.SUCCESS, []
    if caller.context_type != "Nip" or parts[0] != caller.context_value:
        outcome, notes = perms.WRONG_RELATION, ["Kontekst złożony musi zaczynać się od NIP kontekstu."]
    extra = {"euEntityName": name, "euEntityDetails": entity_details, "vatUe": parts[1]}
    rows = [
        _row(
            caller,
            "eu_admin",
            s,
            subject,
            description,
            context_type="NipVatUe",
            context_value=context[1],
            subject_details=details,
            extra=extra,
        )
        for s in EU_ADMIN_SCOPES
    ]
    return _accepted(request, caller, outcome, {"grant": rows, "details": notes})


async def grant_eu_entities(request: Request):
    state = _state(request)
    caller = _caller(request, "post", "/permissions/eu-entities/grants")
    body = await read_json(request)
    subject = _identifier(body, "subjectIdentifier", ("Fingerprint",))
    scopes = _enum_list(body, "permissions", INVOICE_PERMISSIONS)
    description = _description(body)
    details = _person_details(body, subject[0], EU_DETAILS_TYPES)
    outcome, notes = perms.SUCCESS, []
    extra: dict = {}
    if caller.context_type != "NipVatUe":
        outcome, notes = perms.WRONG_ROLE, ["Reprezentanta podmiotu unijnego nadaje się w kontekście NipVatUe."]
    else:
        admins = state.grants.rows(
            "kind = 'eu_admin' AND context_type = ? AND context_value = ?", (caller.context_type, caller.context_value)
        )
        if admins:
            extra = {k: admins[0]["extra"][k] for k in ("euEntityName", "euEntityDetails", "vatUe")}
        else:
            parts = identifiers.nip_vat_ue(caller.context_value)
            extra = {"euEntityName": caller.context_value, "vatUe": parts[1] if parts else caller.context_value}
    rows = [
        _row(caller, "eu_representative", s, subject, description, subject_details=details, extra=extra) for s in scopes
    ]
    return _accepted(request, caller, outcome, {"grant": rows, "details": notes})


# --- revokes
def _permission_id(request: Request) -> str:
    value = request.path_params["permissionId"]
    if len(value) != 36:
        raise validation.invalid("Parametr 'permissionId' musi mieć 36 znaków.")
    return value


def _revocable_here(row: dict | None, caller: Caller) -> bool:
    if row is None:
        return False
    here = (caller.context_type, caller.context_value)
    return here in ((row["granter_type"], row["granter_value"]), (row["context_type"], row["context_value"]))


async def _revoke(request: Request, template: str, authorization: bool):
    state = _state(request)
    caller = _caller(request, "delete", template)
    permission_id = _permission_id(request)
    row = state.grants.get(permission_id)
    outcome, notes = perms.SUCCESS, []
    if not _revocable_here(row, caller):
        outcome, notes = perms.FAILED, [f"Uprawnienie o identyfikatorze {permission_id} nie zostało znalezione."]
    elif (row["kind"] == "authorization") != authorization:
        outcome = perms.NOT_ALLOWED_IDENTIFIER
        notes = ["Uprawnienia podmiotowe odbiera się przez /permissions/authorizations/grants/{permissionId}."
                 if not authorization else "To nie jest uprawnienie podmiotowe."]  # fmt: skip
    elif not caller.has_any(perms.REVOKE_NEEDS[row["kind"]]):
        outcome = perms.NO_PERMISSION
        notes = [f"Odebranie tego uprawnienia wymaga {perms.REVOKE_NEEDS[row['kind']]}."]
    return _accepted(request, caller, outcome, {"revoke": [permission_id], "details": notes})


async def revoke_common(request: Request):
    return await _revoke(request, "/permissions/common/grants/{permissionId}", authorization=False)


async def revoke_authorization(request: Request):
    return await _revoke(request, "/permissions/authorizations/grants/{permissionId}", authorization=True)


# --- operation status
async def operation_status(request: Request):
    state = _state(request)
    caller = access_caller(request)
    reference = request.path_params["referenceNumber"]
    if not refnum.is_reference(reference):
        raise ApiError(21405, "Parametr 'referenceNumber' ma nieprawidłowy format.")
    op = state.grants.operation(reference)
    if op is None or (op["context_type"], op["context_value"]) != (caller.context_type, caller.context_value):
        raise ApiError(21405, f"Operacja o numerze referencyjnym {reference} nie została znaleziona.")
    if clock.now() > op["start_date"] + perms.OPERATION_RETENTION:
        return gone(request.url.path)
    code, details = state.grants.status(op)
    return json_response({"status": perms.status_as_api(code, details)}, request=request)


async def attachments_status(request: Request):
    state = _state(request)
    caller = _caller(request, "get", "/permissions/attachments/status")
    value = state.overrides.get(overrides.ATTACHMENT, _context_nip(caller)) or {}
    body: dict = {"isAttachmentAllowed": bool(value.get("allowed"))}
    if value.get("allowed") is False and value.get("expectedEndDate"):
        body["revokedDate"] = f"{value['expectedEndDate']}T00:00:00+00:00"
    return json_response(body, request=request)


# --- queries
def _paging(request: Request) -> tuple[int, int]:
    params = request.query_params
    offset = validation.query_integer(params.get("pageOffset"), "pageOffset", default=0, minimum=0)
    return offset, validation.page_size(params.get("pageSize"))


def _page(request: Request, rows: list[dict], render, key: str = "permissions"):
    offset, size = _paging(request)
    chunk, more = offset_paging.page(rows, offset, size)
    return json_response({key: [render(r) for r in chunk], "hasMore": more}, request=request)


def _ident(kind: str, value: str | None) -> dict:
    return {"type": kind, "value": value} if value else {"type": kind}


def _person_subject(row: dict) -> dict:
    details = dict(row["subject_details"])
    out: dict = {}
    if details.get("subjectDetailsType", "").startswith("Entity"):
        out["subjectEntityDetails"] = details
    elif details:
        out["subjectPersonDetails"] = details
    return out


def _state_of(state, row: dict) -> str:
    return "Active" if state.grants.delegation_active(row) else "Inactive"


def _person_row(state, row: dict) -> dict:
    item = {
        "id": row["id"],
        "authorizedIdentifier": {"type": row["subject_type"], "value": row["subject_value"]},
        "contextIdentifier": None,
        "targetIdentifier": None,
        "authorIdentifier": _ident(row["author_type"], row["author_value"]),
        "permissionScope": row["scope"],
        "description": row["description"],
        "permissionState": _state_of(state, row),
        "startDate": clock.iso(row["start_date"]),
        "canDelegate": row["can_delegate"],
    }
    if row["context_type"] in ("Nip", "InternalId"):
        item["contextIdentifier"] = {"type": row["context_type"], "value": row["context_value"]}
    if row["kind"] == "indirect":
        item["targetIdentifier"] = _ident(row["target_type"], row["target_value"])
    item.update(_person_subject(row))
    return item


def _matches_identifier(filter_value: tuple[str, str] | None, kind: str | None, value: str | None) -> bool:
    if filter_value is None:
        return True
    return filter_value[0] == kind and (not filter_value[1] or filter_value[1] == (value or ""))


def _caller_identities(state, caller: Caller) -> set[tuple[str, str]]:
    return {
        (t, v.upper() if t == "Fingerprint" else v)
        for t, v in state.authority.linked_identifiers(caller.subject_type, caller.subject_value)
    }


async def query_persons(request: Request):
    state = _state(request)
    caller = _caller(request, "post", "/permissions/query/persons/grants")
    body = await read_json(request)
    query_type = validation.enum_value(
        body.get("queryType"), ("PermissionsInCurrentContext", "PermissionsGrantedInCurrentContext"), "queryType"
    )
    author = _optional_identifier(body, "authorIdentifier", ("Nip", "Pesel", "Fingerprint", "System"))
    authorized = _optional_identifier(body, "authorizedIdentifier", SUBJECT_TYPES)
    context = _optional_identifier(body, "contextIdentifier", ("Nip", "InternalId"))
    target = _optional_identifier(body, "targetIdentifier", ("Nip", "AllPartners", "InternalId"))
    scopes = set(_enum_list(body, "permissionTypes", PERSON_PERMISSIONS, required=False))
    wanted_state = body.get("permissionState")
    if wanted_state is not None:
        wanted_state = validation.enum_value(wanted_state, PERMISSION_STATES, "permissionState")
    here = (caller.context_type, caller.context_value)
    mine = _caller_identities(state, caller)
    selected = []
    for row in state.grants.rows("kind IN ('person', 'entity', 'indirect', 'subunit')"):
        granted_here = (row["granter_type"], row["granter_value"]) == here
        if query_type == "PermissionsInCurrentContext":
            works_here = (row["context_type"], row["context_value"]) == here and row["kind"] != "indirect"
            if not (works_here or (row["kind"] == "indirect" and granted_here)):
                continue
        elif not (granted_here and (row["author_type"], row["author_value"]) in mine):
            continue
        if author is not None and not _matches_identifier(author, row["author_type"], row["author_value"]):
            continue
        if not _matches_identifier(authorized, row["subject_type"], row["subject_value"]):
            continue
        if state.authority.is_owner(
            row["context_type"], row["context_value"], row["subject_type"], row["subject_value"]
        ):
            continue  # the Owner is never listed, even with a row /testdata wrote for it
        if not _matches_identifier(context, row["context_type"], row["context_value"]):
            continue
        if target is not None and not _matches_identifier(target, row["target_type"], row["target_value"]):
            continue
        if scopes and row["scope"] not in scopes:
            continue
        if wanted_state is not None and _state_of(state, row) != wanted_state:
            continue
        selected.append(row)
    return _page(request, selected, lambda r: _person_row(state, r))


async def query_personal(request: Request):
    state = _state(request)
    caller = access_caller(request)
    body = await _body(request)
    context = _optional_identifier(body, "contextIdentifier", ("Nip", "InternalId"))
    target = _optional_identifier(body, "targetIdentifier", ("Nip", "AllPartners", "InternalId"))
    scopes = set(_enum_list(body, "permissionTypes", PERSONAL_PERMISSIONS, required=False))
    wanted_state = body.get("permissionState")
    if wanted_state is not None:
        wanted_state = validation.enum_value(wanted_state, PERMISSION_STATES, "permissionState")
    here = (caller.context_type, caller.context_value)
    mine = _caller_identities(state, caller)
    owner = state.authority.is_owner(
        caller.context_type, caller.context_value, caller.subject_type, caller.subject_value
    )
    selected = []
    for row in state.grants.rows("kind != 'authorization'"):
        subject = (row["subject_type"], row["subject_value"])
        in_context = (row["context_type"], row["context_value"]) == here
        by_intermediary = row["kind"] == "indirect" and (
            (row["granter_type"], row["granter_value"]) == here or (row["target_type"], row["target_value"]) == here
        )
        received_by_owned = row["kind"] == "entity" and owner and subject == ("Nip", _context_nip(caller))
        if not ((subject in mine and (in_context or by_intermediary)) or received_by_owned):
            continue
        if not _matches_identifier(context, row["context_type"], row["context_value"]):
            continue
        if target is not None and not _matches_identifier(target, row["target_type"], row["target_value"]):
            continue
        if scopes and row["scope"] not in scopes:
            continue
        if wanted_state is not None and _state_of(state, row) != wanted_state:
            continue
        selected.append(row)

    def render(row: dict) -> dict:
        item = _person_row(state, row)
        item.pop("authorIdentifier")
        return item

    return _page(request, selected, render)


async def query_subunits(request: Request):
    state = _state(request)
    caller = _caller(request, "post", "/permissions/query/subunits/grants")
    body = await _body(request)
    subunit = _optional_identifier(body, "subunitIdentifier", ("InternalId", "Nip"))
    here = (caller.context_type, caller.context_value)
    selected = [
        r
        for r in state.grants.rows("kind = 'subunit'")
        if (r["granter_type"], r["granter_value"]) == here
        and _matches_identifier(subunit, r["context_type"], r["context_value"])
    ]

    def render(row: dict) -> dict:
        item = {
            "id": row["id"],
            "authorizedIdentifier": {"type": row["subject_type"], "value": row["subject_value"]},
            "subunitIdentifier": {"type": row["context_type"], "value": row["context_value"]},
            "authorIdentifier": _ident(row["author_type"], row["author_value"]),
            "permissionScope": row["scope"],
            "description": row["description"],
            "subunitName": row["extra"].get("subunitName"),
            "startDate": clock.iso(row["start_date"]),
        }
        if row["subject_details"]:
            item["subjectPersonDetails"] = row["subject_details"]
        return item

    return _page(request, selected, render)


async def query_entities(request: Request):
    state = _state(request)
    caller = _caller(request, "post", "/permissions/query/entities/grants")
    body = await _body(request)
    context = _optional_identifier(body, "contextIdentifier", ("Nip", "InternalId"))
    selected = [
        r
        for r in state.grants.rows(
            "kind = 'entity' AND subject_type = 'Nip' AND subject_value = ?", (_context_nip(caller),)
        )
        if _matches_identifier(context, r["context_type"], r["context_value"])
    ]

    def render(row: dict) -> dict:
        return {
            "id": row["id"],
            "contextIdentifier": {"type": row["context_type"], "value": row["context_value"]},
            "permissionScope": row["scope"],
            "description": row["description"],
            "startDate": clock.iso(row["start_date"]),
            "canDelegate": row["can_delegate"],
        }

    return _page(request, selected, render)


async def query_authorizations(request: Request):
    state = _state(request)
    caller = _caller(request, "post", "/permissions/query/authorizations/grants")
    body = await read_json(request)
    query_type = validation.enum_value(body.get("queryType"), ("Granted", "Received"), "queryType")
    authorizing = _optional_identifier(body, "authorizingIdentifier", ("Nip",))
    authorized = _optional_identifier(body, "authorizedIdentifier", ("Nip", "PeppolId"))
    scopes = set(_enum_list(body, "permissionTypes", AUTHORIZATION_PERMISSIONS, required=False))
    here = (caller.context_type, caller.context_value)
    selected = []
    for row in state.grants.rows("kind = 'authorization'"):
        if query_type == "Granted" and (row["granter_type"], row["granter_value"]) != here:
            continue
        if query_type == "Received" and (row["subject_type"], row["subject_value"]) != ("Nip", _context_nip(caller)):
            continue
        if not _matches_identifier(authorizing, row["context_type"], row["context_value"]):
            continue
        if not _matches_identifier(authorized, row["subject_type"], row["subject_value"]):
            continue
        if scopes and row["scope"] not in scopes:
            continue
        selected.append(row)

    def render(row: dict) -> dict:
        return {
            "id": row["id"],
            "authorIdentifier": None
            if row["author_type"] == "System"
            else _ident(row["author_type"], row["author_value"]),
            "authorizedEntityIdentifier": {"type": row["subject_type"], "value": row["subject_value"]},
            "authorizingEntityIdentifier": {"type": "Nip", "value": row["context_value"]},
            "authorizationScope": row["scope"],
            "description": row["description"],
            "subjectEntityDetails": row["subject_details"] or None,
            "startDate": clock.iso(row["start_date"]),
        }

    return _page(request, selected, render, key="authorizationGrants")


async def query_eu_entities(request: Request):
    state = _state(request)
    caller = _caller(request, "post", "/permissions/query/eu-entities/grants")
    body = await _body(request)
    vat_ue = body.get("vatUeIdentifier")
    if vat_ue is not None and (not isinstance(vat_ue, str) or not identifiers.VAT_UE.match(vat_ue)):
        raise validation.invalid("Pole 'vatUeIdentifier' ma nieprawidłowy format.")
    fingerprint = body.get("authorizedFingerprintIdentifier")
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise validation.invalid("Pole 'authorizedFingerprintIdentifier' musi być tekstem.")
    scopes = set(_enum_list(body, "permissionTypes", EU_QUERY_PERMISSIONS, required=False))
    here = (caller.context_type, caller.context_value)
    selected = []
    for row in state.grants.rows("kind IN ('eu_admin', 'eu_representative')"):
        if here not in ((row["granter_type"], row["granter_value"]), (row["context_type"], row["context_value"])):
            continue
        if vat_ue is not None and row["extra"].get("vatUe") != vat_ue:
            continue
        if fingerprint and fingerprint.upper() not in row["subject_value"]:
            continue
        if scopes and row["scope"] not in scopes:
            continue
        selected.append(row)

    def render(row: dict) -> dict:
        item = {
            "id": row["id"],
            "authorIdentifier": _ident(row["author_type"], row["author_value"]),
            "vatUeIdentifier": row["extra"].get("vatUe", ""),
            "euEntityName": row["extra"].get("euEntityName", ""),
            "authorizedFingerprintIdentifier": row["subject_value"],
            "permissionScope": row["scope"],
            "description": row["description"],
            "euEntityDetails": row["extra"].get("euEntityDetails"),
            "startDate": clock.iso(row["start_date"]),
        }
        item.update(_person_subject(row))
        return item

    return _page(request, selected, render)


async def query_entity_roles(request: Request):
    state = _state(request)
    caller = _caller(request, "get", "/permissions/query/entities/roles")
    roles = [{**r, "id": r["role"], "start_date": 0.0} for r in _roles(state, _context_nip(caller))]
    return _page(request, roles, lambda r: {k: v for k, v in r.items() if k not in ("id", "start_date")}, key="roles")


async def query_subordinate_roles(request: Request):
    state = _state(request)
    caller = _caller(request, "post", "/permissions/query/subordinate-entities/roles")
    body = await _body(request)
    wanted = _optional_identifier(body, "subordinateEntityIdentifier", ("Nip",))
    rows = []
    for sub in state.store.all("SELECT * FROM subjects WHERE parent_nip = ?", (_context_nip(caller),)):
        if wanted is not None and wanted[1] != sub["nip"]:
            continue
        role = {"JST": "LocalGovernmentSubUnit", "VatGroup": "VatGroupSubUnit"}.get(sub["subject_type"])
        if role is None:
            continue
        rows.append(
            {
                "id": sub["nip"],
                "start_date": sub["created"],
                "subordinateEntityIdentifier": {"type": "Nip", "value": sub["nip"]},
                "role": role,
                "description": sub["description"],
                "startDate": clock.iso(sub["created"]),
            }
        )
    return _page(request, rows, lambda r: {k: v for k, v in r.items() if k not in ("id", "start_date")}, key="roles")


routes = [
    Route("/permissions/persons/grants", grant_persons, methods=["POST"]),
    Route("/permissions/entities/grants", grant_entities, methods=["POST"]),
    Route("/permissions/authorizations/grants", grant_authorizations, methods=["POST"]),
    Route("/permissions/indirect/grants", grant_indirect, methods=["POST"]),
    Route("/permissions/subunits/grants", grant_subunits, methods=["POST"]),
    Route("/permissions/eu-entities/administration/grants", grant_eu_administration, methods=["POST"]),
    Route("/permissions/eu-entities/grants", grant_eu_entities, methods=["POST"]),
    Route("/permissions/common/grants/{permissionId}", revoke_common, methods=["DELETE"]),
    Route("/permissions/authorizations/grants/{permissionId}", revoke_authorization, methods=["DELETE"]),
    Route("/permissions/operations/{referenceNumber}", operation_status, methods=["GET"]),
    Route("/permissions/attachments/status", attachments_status, methods=["GET"]),
    Route("/permissions/query/personal/grants", query_personal, methods=["POST"]),
    Route("/permissions/query/persons/grants", query_persons, methods=["POST"]),
    Route("/permissions/query/subunits/grants", query_subunits, methods=["POST"]),
    Route("/permissions/query/entities/grants", query_entities, methods=["POST"]),
    Route("/permissions/query/entities/roles", query_entity_roles, methods=["GET"]),
    Route("/permissions/query/subordinate-entities/roles", query_subordinate_roles, methods=["POST"]),
    Route("/permissions/query/authorizations/grants", query_authorizations, methods=["POST"]),
    Route("/permissions/query/eu-entities/grants", query_eu_entities, methods=["POST"]),
]
