# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The grant planner: declared grants + the permission rows of one context -> plans. Pure: no I/O, no clock.

Vocabulary
- row: what KSeF lists for one permission of one grant (`POST /permissions/query/persons/grants`), with its own
  `permissionId`. A grant of InvoiceRead and InvoiceWrite is two rows.
- managed row: its description ends with the marker `[ksef.credentials:NAME]` (`_identity.py`).
- a declaration's rows: the managed rows with its name. A row is kept when it is exactly as declared (kind,
  subject, subject details, description, can_delegate, one of the declared permissions); any other row of the name
  is revoked, and the declared permissions that no kept row carries are granted in one request. KSeF has no update:
  a changed description, subject detail or can_delegate revokes and grants again the rows it concerns, and the
  revokes are waited for before the grant (break-before-make).
- lockout guard: a revoke of CredentialsManage held by the identity this run logs in with, or of the last listed
  holder of CredentialsManage in the context, is retained unless `force`. The Owner holds every permission and is
  never listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from ansible_collections.ksef.credentials.plugins.module_utils import _identity, _permissions
from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_schema import KINDS

EXCLUSIVE_CHOICES = ("false", "managed", "all")
MANAGER = "CredentialsManage"
SYSTEM = "System"
PERMISSIONS_OF = {
    "person": _permissions.PERSON,
    "entity": _permissions.ENTITY,
    "indirect": _permissions.INDIRECT,
    "authorization": _permissions.AUTHORIZATION,
    "subunit": (MANAGER,),  # a subunit administrator gets CredentialsManage there, and nothing else
    "eu_administrator": _permissions.EU_ADMINISTRATOR,  # all four, with every grant
    "eu_representative": _permissions.EU_REPRESENTATIVE,
}
# The kinds granted to a certificate alone (subjectIdentifier Fingerprint only, in the contract).
BY_FINGERPRINT = ("eu_administrator", "eu_representative")
# The only kind granted in a NipVatUe context, where the login holds VatUeManage and nothing else to grant with.
IN_NIP_VAT_UE = ("eu_representative",)
DEFAULT_PERMISSIONS = {"subunit": (MANAGER,), "eu_administrator": _permissions.EU_ADMINISTRATOR}
# VAT UE numbers (EuEntityPermissionsQueryRequest.vatUeIdentifier of open-api.json).
VAT_UE = re.compile(
    r"^(ATU\d{8}|BE[01]{1}\d{9}|BG\d{9,10}|CY\d{8}[A-Z]|CZ\d{8,10}|DE\d{9}|DK\d{8}|EE\d{9}|EL\d{9}"
    r"|ES([A-Z]\d{8}|\d{8}[A-Z]|[A-Z]\d{7}[A-Z])|FI\d{8}|FR[A-Z0-9]{2}\d{9}|HR\d{11}|HU\d{8}"
    r"|IE(\d{7}[A-Z]{2}|\d[A-Z0-9+*]\d{5}[A-Z])|IT\d{11}|LT(\d{9}|\d{12})|LU\d{8}|LV\d{11}|MT\d{8}"
    r"|NL[A-Z0-9+*]{12}|PT\d{9}|RO\d{2,10}|SE\d{12}|SI\d{8}|SK\d{10}|XI((\d{9}|\d{12})|(GD|HA)\d{3}))$"
)
ALL_PARTNERS = "AllPartners"
# The grant request of each kind, and the revoke of its rows.
GRANT_ENDPOINT = {
    "person": "/permissions/persons/grants",
    "entity": "/permissions/entities/grants",
    "indirect": "/permissions/indirect/grants",
    "authorization": "/permissions/authorizations/grants",
    "subunit": "/permissions/subunits/grants",
    "eu_administrator": "/permissions/eu-entities/administration/grants",
    "eu_representative": "/permissions/eu-entities/grants",
}
REVOKE_ENDPOINT = "/permissions/common/grants/{permissionId}"
REVOKE_AUTHORIZATION_ENDPOINT = "/permissions/authorizations/grants/{permissionId}"
STATUS_ENDPOINT = "/permissions/operations/{referenceNumber}"
HOURLY_LIMIT = 120  # x-rate-limits of every /permissions operation, per context and endpoint
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


# -- declarations -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """One declared grant. `details` are the subject details as KSeF lists them (firstName, fullName...)."""

    name: str
    state: str = "present"
    kind: str | None = None
    text: str = ""
    full_description: str = ""
    subject_type: str | None = None
    subject_value: str | None = None
    details: tuple = ()  # ((key, value), ...) compared with the row's subject details
    request_details: tuple = ()  # subjectDetails of the grant request, as ((key, value), ...)
    permissions: tuple = ()
    can_delegate: bool = False
    target: tuple = (None, None)  # indirect: ("Nip", client) or ("AllPartners", None); subunit: its identifier
    subunit_name: str | None = None
    eu_entity: tuple = ()  # eu_administrator: ((euEntityName, ...), (fullName, ...), (address, ...)) sorted

    @property
    def subject(self) -> tuple:
        return (self.subject_type, self.subject_value)

    def predicted(self) -> dict:
        return {
            "kind": self.kind,
            "target": _target_result(self.target),
            "subject": _subject_result(self.subject_type, self.subject_value, dict(self.details)),
            "permissions": list(self.permissions),
            "permission_ids": [],
            "can_delegate": self.can_delegate,
            "description": self.full_description,
            "status": p.ACTIVE,
        }

    def absent(self) -> dict:
        return {"kind": self.kind, "subject": None, "permissions": [], "permission_ids": [], "description": None}


def _target_result(target: tuple) -> str | None:
    return target[1] or target[0]


def _subject_result(subject_type, value, details: dict) -> dict | None:
    if not subject_type:
        return None
    out = {str(subject_type).lower(): value}
    for api_key, key in (("firstName", "first_name"), ("lastName", "last_name"), ("fullName", "full_name")):
        if details.get(api_key):
            out[key] = details[api_key]
    return out


def _birth_and_document(subject: dict) -> tuple:
    """birthDate and idDocument of a person with neither PESEL nor NIP (a foreigner's certificate)."""
    born = str(subject.get("birth_date") or "").strip()
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", born):
        raise KsefConfigError(
            "subject.birth_date",
            "a person known by a fingerprint alone needs subject.birth_date (YYYY-MM-DD) and subject.id_document,"
            " or the person's pesel or nip",
        )
    document = subject.get("id_document") or {}
    if not isinstance(document, dict) or not all(document.get(k) for k in ("type", "number", "country")):
        raise KsefConfigError(
            "subject.id_document",
            "subject.id_document needs type, number and country (for example {type: Passport, number: C01X00T47,"
            " country: DE})",
        )
    return born, {key: str(document[key]).strip() for key in ("type", "number", "country")}


def _text(subject: dict, key: str, where: str, low: int, high: int) -> str:
    value = subject.get(key)
    if not isinstance(value, str) or not low <= len(value.strip()) <= high:
        raise KsefConfigError(
            "subject.%s" % key, "subject.%s is required for %s: %d to %d characters" % (key, where, low, high)
        )
    return value.strip()


def _digits(subject: dict, key: str, count: int) -> str:
    value = str(subject[key]).strip()
    if not (len(value) == count and value.isascii() and value.isdigit()):
        raise KsefConfigError("subject.%s" % key, "subject.%s must be %d digits, got %r" % (key, count, value))
    return value


def declare(options: dict) -> Declared:
    """A Declared from the options of one entry; raises KsefConfigError naming the option. No I/O."""
    name = _identity.validate_name(options.get("name"))
    state = options.get("state") or "present"
    if state == "absent":
        return Declared(name, "absent")
    kind = options.get("kind")
    if kind not in KINDS:
        raise KsefConfigError(
            "kind", "kind is required with state present: one of %s, got %r" % (", ".join(KINDS), kind)
        )
    full = _identity.compose(name, options.get("description"))
    subject = options.get("subject") or {}
    if not isinstance(subject, dict) or not subject:
        raise KsefConfigError(
            "subject",
            "subject is required with state present: for example {pesel: ..., "
            "first_name: ..., last_name: ...} or, for an entity, {nip: ..., full_name: ...}",
        )
    given = [key for key in ("pesel", "nip", "fingerprint", "peppol_id") if subject.get(key)]
    details: tuple
    request: tuple
    if kind == "authorization":
        if len(given) != 1 or given[0] not in ("nip", "peppol_id"):
            raise KsefConfigError(
                "subject.nip", "an authorization names its subject by subject.nip or subject.peppol_id (one of them)"
            )
        if given == ["nip"]:
            subject_type, value = "Nip", _digits(subject, "nip", 10)
        else:
            subject_type, value = "PeppolId", _text(subject, "peppol_id", "a PEPPOL identifier", 9, 10)
        details = (("fullName", _text(subject, "full_name", "an entity", 5, 90)),)
        request = details
    elif kind == "entity":
        if given != ["nip"]:
            raise KsefConfigError("subject.nip", "an entity grant names its subject by subject.nip only")
        subject_type, value = "Nip", _digits(subject, "nip", 10)
        details = (("fullName", _text(subject, "full_name", "an entity", 5, 90)),)
        request = details
    else:
        if not given or "peppol_id" in given:
            raise KsefConfigError("subject", "subject of a person needs one of pesel, nip or fingerprint")
        first = _text(subject, "first_name", "a person", 2, 30)
        last = _text(subject, "last_name", "a person", 2, 81)
        if "fingerprint" in given:
            value = str(subject["fingerprint"]).strip().upper()
            if len(value) != 64 or any(c not in "0123456789ABCDEF" for c in value):
                raise KsefConfigError("subject.fingerprint", "subject.fingerprint must be 64 hex digits (SHA-256)")
            others = [key for key in given if key != "fingerprint"]
            subject_type = "Fingerprint"
            if not others:
                born, document = _birth_and_document(subject)
                details = (
                    ("birthDate", born),
                    ("firstName", first),
                    ("lastName", last),
                    ("subjectDetailsType", "PersonByFingerprintWithoutIdentifier"),
                )
                request = (
                    ("subjectDetailsType", "PersonByFingerprintWithoutIdentifier"),
                    (
                        "personByFpNoId",
                        {"firstName": first, "lastName": last, "birthDate": born, "idDocument": document},
                    ),
                )
            elif len(others) != 1:
                raise KsefConfigError("subject", "subject names one person: pesel or nip, not both")
            else:
                identifier = {
                    "type": others[0].capitalize(),
                    "value": _digits(subject, others[0], 11 if others[0] == "pesel" else 10),
                }
                details = (
                    ("firstName", first),
                    ("lastName", last),
                    ("subjectDetailsType", "PersonByFingerprintWithIdentifier"),
                )
                request = (
                    ("subjectDetailsType", "PersonByFingerprintWithIdentifier"),
                    ("personByFpWithId", {"firstName": first, "lastName": last, "identifier": identifier}),
                )
        else:
            if len(given) != 1:
                raise KsefConfigError("subject", "subject names one person: pesel or nip, not both")
            subject_type = given[0].capitalize()
            value = _digits(subject, given[0], 11 if given[0] == "pesel" else 10)
            details = (("firstName", first), ("lastName", last), ("subjectDetailsType", "PersonByIdentifier"))
            request = (
                ("subjectDetailsType", "PersonByIdentifier"),
                ("personById", {"firstName": first, "lastName": last}),
            )
        for key in ("full_name",):
            if subject.get(key):
                raise KsefConfigError(
                    "subject.%s" % key, "subject.%s is for an entity; a person has first_name and last_name" % key
                )
    try:
        permissions = _permissions.normalise(options.get("permissions"), PERMISSIONS_OF[kind])
    except _permissions.UnknownPermissionError as exc:
        raise KsefConfigError("permissions", "%s grant: %s" % (kind, exc.message)) from None
    if not permissions:
        permissions = DEFAULT_PERMISSIONS.get(kind, ())
    if kind == "eu_administrator" and permissions != _permissions.EU_ADMINISTRATOR:
        raise KsefConfigError(
            "permissions",
            "an EU administrator gets %s with every grant: leave permissions out"
            % ", ".join(_permissions.EU_ADMINISTRATOR),
        )
    if kind in BY_FINGERPRINT and subject_type != "Fingerprint":
        raise KsefConfigError(
            "subject.fingerprint",
            "an EU %s is granted to a certificate: subject.fingerprint is required" % kind.split("_")[1],
        )
    if not permissions:
        raise KsefConfigError("permissions", "permissions is required with state present (at least one)")
    if kind == "authorization" and len(permissions) != 1:
        raise KsefConfigError(
            "permissions", "an authorization grant carries exactly one permission: declare one grant per permission"
        )
    eu_entity: tuple = ()
    if kind == "subunit":
        target = _subunit(options.get("subunit"))
    elif kind == "eu_administrator":
        target, eu_entity = _eu_entity(options.get("eu_entity"))
    else:
        target = _target(options.get("target"), kind)
    if kind != "eu_administrator" and options.get("eu_entity"):
        raise KsefConfigError("eu_entity", "eu_entity is for kind eu_administrator only")
    if kind != "subunit" and options.get("subunit"):
        raise KsefConfigError("subunit", "subunit is for kind subunit only")
    can_delegate = bool(options.get("can_delegate"))
    if can_delegate and kind != "entity":
        raise KsefConfigError("can_delegate", "can_delegate is for kind entity only")
    return Declared(
        name,
        state,
        kind,
        (options.get("description") or "").strip(),
        full,
        subject_type,
        value,
        tuple(sorted(details)),
        request,
        permissions,
        can_delegate,
        target,
        _subunit_name(options.get("subunit_name"), kind, target),
        eu_entity,
    )


def context_problem(kind: str, context_type: str | None) -> str | None:
    """Why a grant of `kind` cannot be made in a context of `context_type` (None: it can)."""
    if kind in IN_NIP_VAT_UE and context_type != "NipVatUe":
        return (
            "kind %s is granted in the EU entity's NipVatUe context by its administrator: set context.nip_vat_ue"
            " ({nip}-{VAT UE}) and log in with the administrator's certificate by fingerprint" % kind
        )
    if kind not in IN_NIP_VAT_UE and context_type == "NipVatUe":
        return (
            "kind %s cannot be granted in a NipVatUe context, where only an EU representative (kind"
            " eu_representative) is granted; grant it in the company's context (context.nip)" % kind
        )
    return None


def _eu_entity(raw) -> tuple:
    """(("VatUe", number), ((address, ...), (euEntityName, ...), (fullName, ...))) of an EU administrator's grant."""
    entity = raw if isinstance(raw, dict) else {}
    vat_ue = str(entity.get("vat_ue") or "").strip().upper()
    if not VAT_UE.match(vat_ue):
        raise KsefConfigError(
            "eu_entity.vat_ue",
            "eu_entity.vat_ue is required for kind eu_administrator: the EU entity's VAT number with its country"
            " prefix, for example DE123456789; got %r" % vat_ue,
        )
    name = _text(entity, "name", "an EU entity", 5, 256)
    full_name = _text(entity, "full_name", "an EU entity", 1, 100)
    address = _text(entity, "address", "an EU entity", 1, 512)
    return ("VatUe", vat_ue), (("address", address), ("euEntityName", name), ("fullName", full_name))


def _subunit(raw) -> tuple:
    """("InternalId", "{nip}-{5 digits}") or ("Nip", nip) of a subunit administrator's grant."""
    text = str(raw or "").strip()
    if re.fullmatch(r"[0-9]{10}-[0-9]{5}", text):
        return ("InternalId", text)
    if re.fullmatch(r"[0-9]{10}", text):
        return ("Nip", text)
    raise KsefConfigError(
        "subunit",
        "subunit is required for kind subunit: an InternalId {nip}-{5 digits} (the context's NIP, then the unit's"
        " number and its check digit) or a subordinate unit's NIP, got %r" % text,
    )


def _subunit_name(raw, kind: str, subunit: tuple) -> str | None:
    if kind != "subunit":
        if raw:
            raise KsefConfigError("subunit_name", "subunit_name is for kind subunit only")
        return None
    text = str(raw or "").strip()
    if not text and subunit[0] == "InternalId":
        raise KsefConfigError("subunit_name", "subunit_name is required for a subunit with an InternalId")
    if text and not 5 <= len(text) <= 256:
        raise KsefConfigError("subunit_name", "subunit_name must have 5 to 256 characters")
    return text or None


def _target(raw, kind: str) -> tuple:
    """("Nip", client) or (ALL_PARTNERS, None) of an indirect grant; (None, None) for the other kinds."""
    if kind != "indirect":
        if raw:
            raise KsefConfigError("target", "target is for kind indirect only")
        return (None, None)
    text = str(raw or "").strip()
    if text.replace("_", "").lower() == ALL_PARTNERS.lower():
        return (ALL_PARTNERS, None)
    if not (len(text) == 10 and text.isascii() and text.isdigit()):
        raise KsefConfigError(
            "target",
            "target is required for kind indirect: the client's NIP (10 digits) or AllPartners, got %r" % text,
        )
    return ("Nip", text)


# -- live rows ----------------------------------------------------------------------------------------------------


def _ident(item) -> tuple:
    if not isinstance(item, dict):
        return (None, None)
    return (item.get("type"), item.get("value"))


@dataclass(frozen=True)
class GrantRow:
    """One listed permission row (PersonPermission of the contract)."""

    reference_number: str  # the permissionId
    kind: str  # person, entity or indirect
    scope: str
    subject_type: str | None
    subject_value: str | None
    description: str
    can_delegate: bool = False
    details: tuple = ()
    author: tuple = (None, None)
    context: tuple = (None, None)
    target: tuple = (None, None)
    subunit_name: str | None = None
    eu_entity: tuple = ()
    state: str = "Active"
    created: datetime = _EPOCH
    status: str = p.ACTIVE

    @property
    def name(self) -> str | None:
        return _identity.name_of(self.description)

    @property
    def subject(self) -> tuple:
        return (self.subject_type, self.subject_value)

    @classmethod
    def from_api(cls, item: dict) -> GrantRow:
        entity = item.get("subjectEntityDetails")
        person = item.get("subjectPersonDetails")
        if item.get("targetIdentifier"):
            kind = "indirect"
        elif entity:
            kind = "entity"
        else:
            kind = "person"
        details = entity or person or {}
        subject_type, subject_value = _ident(item.get("authorizedIdentifier"))
        try:
            created = datetime.fromisoformat(str(item.get("startDate")).replace("Z", "+00:00"))
        except ValueError:
            created = _EPOCH
        return cls(
            reference_number=str(item.get("id")),
            kind=kind,
            scope=str(item.get("permissionScope")),
            subject_type=subject_type,
            subject_value=subject_value.upper() if subject_type == "Fingerprint" and subject_value else subject_value,
            description=item.get("description") or "",
            can_delegate=bool(item.get("canDelegate")),
            details=tuple(sorted((k, v) for k, v in details.items() if isinstance(v, str))),
            author=_ident(item.get("authorIdentifier")),
            context=_ident(item.get("contextIdentifier")),
            target=_ident(item.get("targetIdentifier")),
            state=item.get("permissionState") or "Active",
            created=created,
        )

    @classmethod
    def from_subunit(cls, item: dict) -> GrantRow:
        """A row of POST /permissions/query/subunits/grants (SubunitPermission): an administrator of a subunit
        granted from this context. It works in the subunit, so it has no context here."""
        row = cls.from_api(dict(item, contextIdentifier=None, targetIdentifier=None))
        return replace(
            row,
            kind="subunit",
            target=_ident(item.get("subunitIdentifier")),
            subunit_name=item.get("subunitName") or None,
        )

    @classmethod
    def from_eu_entity(cls, item: dict) -> GrantRow:
        """A row of POST /permissions/query/eu-entities/grants (EuEntityPermission) listed from this context: one
        permission of an EU entity's administrator granted here. It works in the NipVatUe context."""
        fingerprint = str(item.get("authorizedFingerprintIdentifier") or "").upper()
        row = cls.from_api(
            dict(item, authorizedIdentifier={"type": "Fingerprint", "value": fingerprint}, contextIdentifier=None)
        )
        entity = item.get("euEntityDetails") or {}
        return replace(
            row,
            kind="eu_administrator",
            target=("VatUe", item.get("vatUeIdentifier")),
            eu_entity=(
                ("address", entity.get("address")),
                ("euEntityName", item.get("euEntityName")),
                ("fullName", entity.get("fullName")),
            ),
        )

    @classmethod
    def from_eu_entities(cls, items: list, context: tuple) -> list:
        """The rows of POST /permissions/query/eu-entities/grants (EuEntityPermission), listed from `context`
        ((type, value)): the company's Nip context lists its EU administrators, a NipVatUe context its
        administrators and representatives. A row does not say which it is: an administrator holds VatUeManage
        with every grant and a representative never does (EuEntityPermissionType), so every row of a fingerprint
        that holds VatUeManage is an administrator's. Each row gets the context that grants it, so the plan of one
        context never touches the other's rows: the company's NIP for an administrator, the NipVatUe context for a
        representative."""
        nip = str(context[1] or "").split("-", maxsplit=1)[0]
        administrators = {
            str(item.get("authorizedFingerprintIdentifier") or "").upper()
            for item in items
            if item.get("permissionScope") == "VatUeManage"
        }
        rows = []
        for item in items:
            row = cls.from_eu_entity(item)
            if row.subject_value in administrators:
                rows.append(replace(row, context=("Nip", nip)))
            else:
                where = ("NipVatUe", "%s-%s" % (nip, item.get("vatUeIdentifier")))
                rows.append(replace(row, kind="eu_representative", target=(None, None), eu_entity=(), context=where))
        return rows

    @classmethod
    def from_authorization(cls, item: dict) -> GrantRow:
        """A row of POST /permissions/query/authorizations/grants (AuthorizationGrant). A row without an author is
        read as System's (the emulator lists System's rows that way; the collection never revokes them)."""
        subject_type, subject_value = _ident(item.get("authorizedEntityIdentifier"))
        details = item.get("subjectEntityDetails") or {}
        try:
            created = datetime.fromisoformat(str(item.get("startDate")).replace("Z", "+00:00"))
        except ValueError:
            created = _EPOCH
        return cls(
            reference_number=str(item.get("id")),
            kind="authorization",
            scope=str(item.get("authorizationScope")),
            subject_type=subject_type,
            subject_value=subject_value,
            description=item.get("description") or "",
            details=tuple(sorted((k, v) for k, v in details.items() if isinstance(v, str))),
            author=_ident(item.get("authorIdentifier")) if item.get("authorIdentifier") else (SYSTEM, None),
            context=_ident(item.get("authorizingEntityIdentifier")),
            created=created,
        )

    def metadata(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "target": _target_result(self.target),
            "permission": self.scope,
            "subject": _subject_result(self.subject_type, self.subject_value, dict(self.details)),
            "description": self.description,
            "can_delegate": self.can_delegate,
            "author": "%s:%s" % self.author if self.author[1] else self.author[0],
            "state": self.state,
            "status": self.status,
        }


@dataclass(frozen=True)
class Granted:
    """The live view of one declared grant: its rows."""

    name: str | None
    rows: tuple = ()
    status: str = p.ACTIVE

    @property
    def reference_number(self) -> str | None:
        return self.name

    @property
    def created(self) -> datetime:
        return min((row.created for row in self.rows), default=_EPOCH)

    def metadata(self) -> dict:
        first = self.rows[0] if self.rows else None
        order = PERMISSIONS_OF.get(first.kind, ()) if first else ()
        rows = sorted(self.rows, key=lambda r: (order.index(r.scope) if r.scope in order else len(order), r.scope))
        return {
            "kind": first.kind if first else None,
            "target": _target_result(first.target) if first else None,
            "subject": _subject_result(first.subject_type, first.subject_value, dict(first.details)) if first else None,
            "permissions": [row.scope for row in rows],
            "permission_ids": [row.reference_number for row in rows],  # in the order of `permissions`
            "can_delegate": first.can_delegate if first else False,
            "description": first.description if first else None,
            "status": self.status,
        }


@dataclass
class GrantPlan(p.Plan):
    """A plan whose `current` is what stays of the grant without the issue (kept and retained rows), and whose
    `before` is every row of the name."""

    everything: Granted | None = None

    def before(self) -> dict:
        return self.everything.metadata() if self.everything and self.everything.rows else {}

    def after(self) -> dict:
        if self.declared.state == "absent":
            return {}
        if self.issue:
            return self.declared.predicted()
        return self.current.metadata() if self.current else {}


# -- the plan -----------------------------------------------------------------------------------------------------


def _differences(row: GrantRow, decl: Declared) -> list:
    """Why `row` is not exactly as `decl` declares it (empty: it is)."""
    why = []
    if row.kind != decl.kind:
        why.append("kind %s, declared %s" % (row.kind, decl.kind))
    if row.subject != decl.subject:
        why.append("subject %s:%s, declared %s:%s" % (row.subject + decl.subject))
    else:
        live = dict(row.details)
        changed = [key for key, value in decl.details if live.get(key) != value]
        if changed:
            why.append("subject details changed (%s)" % ", ".join(changed))
    if row.description != decl.full_description:
        why.append("description changed")
    if row.target != decl.target:
        why.append("target %s, declared %s" % (_target_result(row.target), _target_result(decl.target)))
    if decl.kind == "subunit" and row.subunit_name != decl.subunit_name:
        why.append("subunit_name changed")
    if decl.kind == "eu_administrator" and row.eu_entity != decl.eu_entity:
        live = dict(row.eu_entity)
        why.append("eu_entity changed (%s)" % ", ".join(k for k, v in decl.eu_entity if live.get(k) != v))
    if decl.kind == "entity" and row.can_delegate != decl.can_delegate:
        why.append("can_delegate %s, declared %s" % (str(row.can_delegate).lower(), str(decl.can_delegate).lower()))
    if row.scope not in decl.permissions:
        why.append("%s no longer declared" % row.scope)
    return why


def plan_context(
    declared: list,
    live: list,
    exclusive: str = "false",
    protected: set | frozenset = frozenset(),
    force: bool = False,
    context: tuple = (None, None),
) -> p.ContextPlan:
    """The plan of every declared grant of one context, from its listed rows.

    `protected`: the identifiers ((type, value)) this run logs in as; `context`: (type, value) of the context.
    """
    names = {decl.name for decl in declared}
    here = [row for row in live if row.context in (context, (None, None))]
    by_name: dict = {}
    for row in here:
        if row.name is not None:
            by_name.setdefault(row.name, []).append(row)
    # Pass 1: what each row would become.
    verdict: dict = {}  # permissionId -> (action, reason)
    for decl in declared:
        seen: set = set()
        for row in sorted(by_name.get(decl.name, []), key=lambda r: (r.created, r.reference_number)):
            if decl.state == "absent":
                verdict[row.reference_number] = (p.REVOKE, "state is absent")
                continue
            why = _differences(row, decl)
            if not why and row.scope in seen:
                why = ["a second row of %s" % row.scope]
            if why:
                verdict[row.reference_number] = (p.REVOKE, "; ".join(why))
            else:
                seen.add(row.scope)
                verdict[row.reference_number] = (p.KEEP, "as declared")
    undeclared = sorted(name for name in by_name if name not in names)
    if exclusive in ("managed", "all"):
        for name in undeclared:
            for row in by_name[name]:
                verdict[row.reference_number] = (p.REVOKE, "not declared (exclusive: %s)" % exclusive)
    unmanaged = []
    if exclusive == "all":
        kinds = {decl.kind for decl in declared if decl.state == "present"}
        for row in here:
            if row.name is None and row.kind in kinds and row.author[0] != SYSTEM:
                verdict[row.reference_number] = (p.REVOKE, "not declared (exclusive: all)")
                unmanaged.append(row)
    # Pass 2: the lockout guard.
    warnings: list = []
    if not force:
        _guard(here, verdict, protected, warnings)
    # Pass 3: the steps.
    cplan = p.ContextPlan(declared={}, warnings=warnings)
    for decl in declared:
        rows = by_name.get(decl.name, [])
        stays = [row for row in rows if verdict[row.reference_number][0] != p.REVOKE]
        steps = [
            p.Step(p.REVOKE, verdict[r.reference_number][1], r.reference_number)
            for r in rows
            if verdict[r.reference_number][0] == p.REVOKE
        ]
        if decl.state == "present":
            missing = [scope for scope in decl.permissions if scope not in {row.scope for row in stays}]
            if missing:
                again = [scope for scope in missing if scope in {row.scope for row in rows}]
                if not rows:
                    steps.append(p.Step(p.CREATE, "grant %s (no grant named '%s')" % (", ".join(missing), decl.name)))
                elif again:
                    steps.append(p.Step(p.REPLACE, "grant %s again as declared" % ", ".join(missing)))
                else:
                    steps.append(p.Step(p.CREATE, "grant %s (added)" % ", ".join(missing)))
        steps += [_step(verdict, r) for r in stays]
        current = Granted(decl.name, tuple(stays)) if stays else None
        cplan.declared[decl.name] = GrantPlan(
            decl, steps, current, list(rows), everything=Granted(decl.name, tuple(rows))
        )
    if exclusive in ("managed", "all"):
        for name in undeclared:
            rows = by_name[name]
            steps = [_step(verdict, r) for r in rows]
            kept = tuple(r for r in rows if verdict[r.reference_number][0] != p.REVOKE)
            cplan.undeclared.append(
                GrantPlan(
                    Declared(name, "absent"),
                    steps,
                    Granted(name, kept) if kept else None,
                    list(rows),
                    everything=Granted(name, tuple(rows)),
                )
            )
    cplan.unmanaged = [(row, _step(verdict, row)) for row in unmanaged]
    return cplan


def _step(verdict: dict, row: GrantRow) -> p.Step:
    action, reason = verdict[row.reference_number]
    return p.Step(action, reason, row.reference_number)


def _guard(rows: list, verdict: dict, protected, warnings: list) -> None:
    """Revokes of CredentialsManage that would lock the run (or everyone but the Owner) out become RETAIN."""
    managers = [row for row in rows if row.scope == MANAGER and row.kind == "person" and row.state == "Active"]
    for row in managers:
        action, _reason = verdict.get(row.reference_number, (p.KEEP, ""))
        if action == p.REVOKE and row.subject in protected:
            verdict[row.reference_number] = (
                p.RETAIN,
                "lockout guard: CredentialsManage of %s:%s, the identity this run logs in with; force: true revokes it"
                % row.subject,
            )
    revoked = [row for row in managers if verdict.get(row.reference_number, (p.KEEP,))[0] == p.REVOKE]
    if revoked and len(revoked) == len(managers):
        for row in revoked:
            verdict[row.reference_number] = (
                p.RETAIN,
                "lockout guard: the last listed holder of CredentialsManage in the context (the Owner is never"
                " listed); force: true revokes it",
            )
    for row in managers:
        action, reason = verdict.get(row.reference_number, (p.KEEP, ""))
        if action == p.RETAIN:
            warnings.append("%s: %s" % (row.name or "unmanaged %s" % row.reference_number, reason))


def revokes(cplan: p.ContextPlan) -> list:
    """The permissionIds the plan revokes."""
    found = [step.reference_number for plan in cplan.plans() for step in plan.steps if step.action == p.REVOKE]
    return found + [step.reference_number for _row, step in cplan.unmanaged if step.action == p.REVOKE]


def dependencies(cplan: p.ContextPlan, live: list, tokens: list) -> list:
    """Warnings for managed tokens whose author loses a permission the token carries: KSeF revokes such a token
    (uwierzytelnianie.md), even when the permission is granted again afterwards. `tokens`: the listed managed tokens
    (GET /tokens items)."""
    revoked = set(revokes(cplan))
    rows = {row.reference_number: row for row in live}
    lost: dict = {}  # (subject, scope) -> names of the grants whose revoke takes it
    for ref in revoked:
        row = rows.get(ref)
        if row is None:
            continue
        stays = any(
            other.subject == row.subject and other.scope == row.scope and other.reference_number not in revoked
            for other in live
        )
        if not stays:
            lost.setdefault((row.subject, row.scope), set()).add(row.name or "unmanaged %s" % ref)
    warnings = []
    for (subject, scope), grants in sorted(lost.items()):
        hit = sorted(
            "%s (%s)" % (_identity.name_of(token.get("description")), token.get("referenceNumber"))
            for token in tokens
            if _ident(token.get("authorIdentifier")) == subject and scope in (token.get("requestedPermissions") or [])
        )
        if hit:
            warnings.append(
                "%s: revoking %s of %s:%s leaves the managed tokens it created without that permission, and KSeF"
                " revokes them: %s" % (", ".join(sorted(grants)), scope, subject[0], subject[1], ", ".join(hit))
            )
    return warnings


def to_grant(plan: p.Plan) -> list:
    """The declared permissions no row that stays carries: what the plan's issue grants (in one request)."""
    decl = plan.declared
    stays = {step.reference_number for step in plan.steps if step.action in (p.KEEP, p.RETAIN)}
    held = {row.scope for row in plan.live if row.reference_number in stays}
    return [scope for scope in decl.permissions if scope not in held]


def grant_request(decl: Declared, scopes: list, context_nip: str | None = None) -> dict:
    """The body of the grant of `scopes` to `decl`'s subject (POST GRANT_ENDPOINT[decl.kind]); `context_nip` is
    the NIP of the context granting it (the NipVatUe context of an EU administrator starts with it)."""
    details = dict(decl.request_details)
    body: dict = {
        "subjectIdentifier": {"type": decl.subject_type, "value": decl.subject_value},
        "description": decl.full_description,
        "subjectDetails": details,
    }
    if decl.kind == "entity":
        body["permissions"] = [{"type": scope, "canDelegate": decl.can_delegate} for scope in scopes]
    elif decl.kind == "authorization":
        (body["permission"],) = scopes
    elif decl.kind == "eu_administrator":  # every permission comes with it
        entity = dict(decl.eu_entity)
        body["contextIdentifier"] = {"type": "NipVatUe", "value": "%s-%s" % (context_nip, decl.target[1])}
        body["euEntityName"] = entity["euEntityName"]
        body["euEntityDetails"] = {"fullName": entity["fullName"], "address": entity["address"]}
    elif decl.kind == "subunit":  # CredentialsManage comes with it
        body["contextIdentifier"] = {"type": decl.target[0], "value": decl.target[1]}
        if decl.subunit_name:
            body["subunitName"] = decl.subunit_name
    else:
        body["permissions"] = list(scopes)
    if decl.kind == "indirect":
        body["targetIdentifier"] = (
            {"type": ALL_PARTNERS} if decl.target[0] == ALL_PARTNERS else {"type": "Nip", "value": decl.target[1]}
        )
    return body


def budget(cplan: p.ContextPlan) -> tuple:
    """(line for people, warnings): the permission calls the plan needs, per operation, against KSeF's 120 an
    hour per operation."""
    calls: dict = {}
    for plan in cplan.declared.values():
        if plan.issue is not None:
            key = "POST " + GRANT_ENDPOINT[plan.declared.kind]
            calls[key] = calls.get(key, 0) + 1
    kinds = {row.reference_number: row.kind for plan in cplan.plans() for row in plan.live}
    kinds.update({row.reference_number: row.kind for row, _step in cplan.unmanaged})
    for ref in revokes(cplan):
        key = "DELETE " + (REVOKE_AUTHORIZATION_ENDPOINT if kinds.get(ref) == "authorization" else REVOKE_ENDPOINT)
        calls[key] = calls.get(key, 0) + 1
    operations = sum(calls.values())
    if not operations:
        return "", []
    parts = ["%s %d" % (key, count) for key, count in sorted(calls.items())]
    parts.append("GET %s at least %d" % (STATUS_ENDPOINT, operations))
    line = "Calls: %s (KSeF allows %d an hour per operation and context)." % (", ".join(parts), HOURLY_LIMIT)
    over = [key for key, count in calls.items() if count > HOURLY_LIMIT]
    warnings = [
        "%s: the plan needs %d calls, more than the %d an hour KSeF allows; the run waits when KSeF answers 429, or"
        " split the grants over several runs" % (key, calls[key], HOURLY_LIMIT)
        for key in over
    ]
    return line, warnings
