"""Composite identifiers the permission API creates: InternalId (`{nip}-{5 digits}`) and NipVatUe (`{nip}-{VAT UE}`).

The InternalId's last digit is a check digit (open-api.json, POST /permissions/subunits/grants): weights 1, 3, 1,
3, ... over the 14 digits of `{nip}{4 digits}`, summed, modulo 10.
"""

from __future__ import annotations

import re

# EuEntityPermissionsQueryRequest.vatUeIdentifier (open-api.json)
VAT_UE = re.compile(
    r"^(ATU\d{8}|BE[01]{1}\d{9}|BG\d{9,10}|CY\d{8}[A-Z]|CZ\d{8,10}|DE\d{9}|DK\d{8}|EE\d{9}|EL\d{9}"
    r"|ES([A-Z]\d{8}|\d{8}[A-Z]|[A-Z]\d{7}[A-Z])|FI\d{8}|FR[A-Z0-9]{2}\d{9}|HR\d{11}|HU\d{8}"
    r"|IE(\d{7}[A-Z]{2}|\d[A-Z0-9+*]\d{5}[A-Z])|IT\d{11}|LT(\d{9}|\d{12})|LU\d{8}|LV\d{11}|MT\d{8}"
    r"|NL[A-Z0-9+*]{12}|PT\d{9}|RO\d{2,10}|SE\d{12}|SI\d{8}|SK\d{10}|XI((\d{9}|\d{12})|(GD|HA)\d{3}))$"
)
NIP_VAT_UE = re.compile(r"^(?P<nip>[1-9]((\d[1-9])|([1-9]\d))\d{7})-(?P<vat_ue>[A-Z]{2}[A-Z0-9+*]{2,13})$")


def internal_id_check_digit(body: str) -> int:
    """The check digit of `{nip}-{4 digits}` (the dash is ignored)."""
    digits = [int(c) for c in body if c.isdigit()]
    return sum(d * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits)) % 10


def internal_id(nip: str, unit: int) -> str:
    """The InternalId of unit number `unit` (0-9999) of `nip`, check digit included."""
    body = f"{nip}-{unit:04d}"
    return f"{body}{internal_id_check_digit(body)}"


def internal_id_valid(value: str) -> bool:
    """True when `{nip}-{5 digits}` ends with its check digit."""
    if not re.fullmatch(r"\d{10}-\d{5}", value or ""):
        return False
    return internal_id_check_digit(value[:-1]) == int(value[-1])


def nip_vat_ue(value: str) -> tuple[str, str] | None:
    """(nip, VAT UE number) of a NipVatUe identifier, or None when it is not one."""
    match = NIP_VAT_UE.match(value or "")
    if not match or not VAT_UE.match(match["vat_ue"]):
        return None
    return match["nip"], match["vat_ue"]
