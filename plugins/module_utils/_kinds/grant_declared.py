# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declared grants: what one entry of `grants` says, validated into a `Declared` (pure: no I/O, no clock), and the
permissions, subjects and targets each of the seven kinds of grant accepts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.ksef.credentials.plugins.module_utils import _identity, _permissions
from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._connection import nip_checksum_ok
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
# VAT UE numbers (EuEntityPermissionsQueryRequest.vatUeIdentifier of open-api.json). Compiled at its first use
# (re's cache): only an EU administrator's grant needs it, and compiling it costs every module start 0.4 ms.
VAT_UE = (
    r"^(ATU\d{8}|BE[01]{1}\d{9}|BG\d{9,10}|CY\d{8}[A-Z]|CZ\d{8,10}|DE\d{9}|DK\d{8}|EE\d{9}|EL\d{9}"
    r"|ES([A-Z]\d{8}|\d{8}[A-Z]|[A-Z]\d{7}[A-Z])|FI\d{8}|FR[A-Z0-9]{2}\d{9}|HR\d{11}|HU\d{8}"
    r"|IE(\d{7}[A-Z]{2}|\d[A-Z0-9+*]\d{5}[A-Z])|IT\d{11}|LT(\d{9}|\d{12})|LU\d{8}|LV\d{11}|MT\d{8}"
    r"|NL[A-Z0-9+*]{12}|PT\d{9}|RO\d{2,10}|SE\d{12}|SI\d{8}|SK\d{10}|XI((\d{9}|\d{12})|(GD|HA)\d{3}))$"
)
ALL_PARTNERS = "AllPartners"


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
            "target": target_result(self.target),
            "subject": subject_result(self.subject_type, self.subject_value, dict(self.details)),
            "permissions": list(self.permissions),
            "permission_ids": [],
            "can_delegate": self.can_delegate,
            "description": self.full_description,
            "status": p.ACTIVE,
        }

    def absent(self) -> dict:
        return {"kind": self.kind, "subject": None, "permissions": [], "permission_ids": [], "description": None}


def target_result(target: tuple) -> str | None:
    return target[1] or target[0]


def subject_result(subject_type, value, details: dict) -> dict | None:
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
    """A NIP (10 digits) or PESEL (11) of the subject, its check digit verified: KSeF would refuse it only after
    the run has sent what comes before it (a replace's revokes)."""
    value = str(subject[key]).strip()
    if not (len(value) == count and value.isascii() and value.isdigit()):
        raise KsefConfigError("subject.%s" % key, "subject.%s must be %d digits, got %r" % (key, count, value))
    if key == "nip" and not nip_checksum_ok(value):
        raise KsefConfigError("subject.nip", "subject.nip %s %s" % (value, NIP_CHECK))
    if key == "pesel" and not pesel_checksum_ok(value):
        raise KsefConfigError(
            "subject.pesel",
            "subject.pesel %s has a wrong check digit (weights 1,3,7,9,1,3,7,9,1,3; the last digit is 10 minus the"
            " sum mod 10): correct the PESEL" % value,
        )
    return value


NIP_CHECK = "has a wrong check digit (weights 6,5,7,2,3,4,5,6,7; the sum mod 11 is the last digit): correct the NIP"


def pesel_checksum_ok(pesel: str) -> bool:
    """True when the last of the 11 digits of `pesel` is its check digit."""
    total = sum(int(digit) * weight for digit, weight in zip(pesel, (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)))
    return len(pesel) == 11 and (10 - total % 10) % 10 == int(pesel[10])


def internal_id_check_digit(body: str) -> int:
    """The check digit of an InternalId `{nip}-{4 digits}` (the dash left out): weights 1, 3, 1, 3, ... over its
    14 digits, summed, modulo 10 (POST /permissions/subunits/grants in open-api.json)."""
    digits = [int(c) for c in body if c.isdigit()]
    return sum(digit * (1 if index % 2 == 0 else 3) for index, digit in enumerate(digits)) % 10


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
    if not re.match(VAT_UE, vat_ue):
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
        check = internal_id_check_digit(text[:-1])
        if check != int(text[-1]):
            raise KsefConfigError(
                "subunit",
                "subunit %s has a wrong check digit: its last digit is the check digit of the 14 digits before it"
                " (weights 1,3,1,3...; the sum mod 10), %s%d for unit %s" % (text, text[:-1], check, text[11:15]),
            )
        if not nip_checksum_ok(text[:10]):
            raise KsefConfigError("subunit", "subunit %s: the NIP %s %s" % (text, text[:10], NIP_CHECK))
        return ("InternalId", text)
    if re.fullmatch(r"[0-9]{10}", text):
        if not nip_checksum_ok(text):
            raise KsefConfigError("subunit", "subunit %s %s" % (text, NIP_CHECK))
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
    if not nip_checksum_ok(text):
        raise KsefConfigError("target", "target %s %s" % (text, NIP_CHECK))
    return ("Nip", text)
