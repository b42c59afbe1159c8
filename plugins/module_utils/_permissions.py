# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""KSeF permission names: the official names of tokens (TokenPermissionType) and of each kind of grant
(PersonPermissionType, EntityPermissionType, IndirectPermissionType, EntityAuthorizationPermissionType), and
their snake_case spelling."""

from __future__ import annotations

import re

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError

# Order of TokenPermissionType in open-api.json; results are sorted in this order.
OFFICIAL = (
    "InvoiceRead",
    "InvoiceWrite",
    "CredentialsRead",
    "CredentialsManage",
    "SubunitManage",
    "EnforcementOperations",
    "Introspection",
    "CollectiveIdentifierManage",
)


# The permission types of grants, in the order of open-api.json (tests compare them with the contract).
PERSON = (
    "CredentialsManage",
    "CredentialsRead",
    "InvoiceWrite",
    "InvoiceRead",
    "Introspection",
    "SubunitManage",
    "EnforcementOperations",
    "CollectiveIdentifierManage",
)
# 2.8.1 added CollectiveIdentifierManage to the entity and indirect types (SOURCE.md of the docs the emulator follows).
ENTITY = ("InvoiceWrite", "InvoiceRead", "CollectiveIdentifierManage")
INDIRECT = ("InvoiceRead", "InvoiceWrite", "CollectiveIdentifierManage")
AUTHORIZATION = ("SelfInvoicing", "RRInvoicing", "TaxRepresentative", "PefInvoicing")
# What an EU entity's administrator gets (EuEntityPermissionsQueryPermissionType): all of it, with every grant.
EU_ADMINISTRATOR = ("VatUeManage", "InvoiceWrite", "InvoiceRead", "Introspection")
# What an EU entity's administrator grants a representative of the entity (EuEntityPermissionType).
EU_REPRESENTATIVE = ("InvoiceWrite", "InvoiceRead")

# Every permission enum of the API this collection knows, by its schema name in open-api.json: a unit test compares
# each with the contract, so a value KSeF adds fails a test here rather than a user's run.
CONTRACT_ENUMS = {
    "TokenPermissionType": OFFICIAL,
    "PersonPermissionType": PERSON,
    "EntityPermissionType": ENTITY,
    "IndirectPermissionType": INDIRECT,
    "EntityAuthorizationPermissionType": AUTHORIZATION,
    "EuEntityPermissionsQueryPermissionType": EU_ADMINISTRATOR,
    "EuEntityPermissionType": EU_REPRESENTATIVE,
}


def _key(name: str) -> str:
    return re.sub(r"[_\-\s]", "", name).lower()


_BY_KEY = {_key(p): p for p in OFFICIAL}


class UnknownPermissionError(KsefConfigError, ValueError):
    """An unknown permission name."""

    def __init__(self, message: str):
        super().__init__("permissions", message)


def normalise(names, allowed: tuple = OFFICIAL) -> tuple[str, ...]:
    """Official names of `allowed`, deduplicated, in canonical order; accepts InvoiceRead, invoice_read,
    invoice-read."""
    if names is None:
        return ()
    if isinstance(names, str):
        names = [names]
    by_key = _BY_KEY if allowed is OFFICIAL else {_key(p): p for p in allowed}
    found = set()
    unknown = []
    for raw in names:
        official = by_key.get(_key(str(raw)))
        if official is None:
            unknown.append(str(raw))
        else:
            found.add(official)
    if unknown:
        raise UnknownPermissionError(
            "unknown permission(s) %s; allowed: %s (or snake_case, e.g. invoice_read)"
            % (", ".join(repr(u) for u in unknown), ", ".join(allowed))
        )
    return tuple(p for p in allowed if p in found)


def canonical(names) -> tuple[str, ...]:
    """Official names as returned by the API, in canonical order; unknown future names kept, sorted last."""
    names = list(names or [])
    known = [p for p in OFFICIAL if p in names]
    return tuple(known + sorted(n for n in set(names) if n not in OFFICIAL))
