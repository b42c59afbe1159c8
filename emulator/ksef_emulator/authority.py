"""Who holds which permission in a context (uprawnienia.md, dane-testowe-scenariusze.md).

- The owner: a subject whose NIP equals the context NIP, or the PESEL linked to that NIP through
  /testdata/person (the NIP-PESEL link). The owner holds every permission except EnforcementOperations.
- EnforcementOperations: only the owner registered as a bailiff (/testdata/person with isBailiff=true).
- InternalId (`{nip}-{5 digits}`) and NipVatUe (`{nip}-{VAT UE number}`) contexts: the owner of `{nip}` is
  treated as their owner (an emulator simplification: /testdata/permissions only takes Nip contexts).
- Everyone else holds what the permission API (permissions.py) granted to their identifier (Nip, Pesel or
  Fingerprint) in that context, /testdata/permissions included (mirrored there with the author System); an indirect
  grant counts in a client's context only while its intermediary holds the scope with canDelegate from that client.
"""

from __future__ import annotations

from .permissions import PermissionRegistry
from .store import Store

ALL_PERMISSIONS = (
    "InvoiceRead",
    "InvoiceWrite",
    "CredentialsRead",
    "CredentialsManage",
    "SubunitManage",
    "EnforcementOperations",
    "Introspection",
    "CollectiveIdentifierManage",
)
OWNER_PERMISSIONS = tuple(p for p in ALL_PERMISSIONS if p != "EnforcementOperations")
# Held through grants only, never put in a KSeF token: VatUeManage (EU administrators, PersonalPermissionType).
# CollectiveIdentifierManage is in TokenPermissionType since 2.7.0, so it is one of ALL_PERMISSIONS.
GRANT_ONLY_PERMISSIONS = ("VatUeManage",)


def ordered(permissions) -> list[str]:
    """Permissions in the contract's enum order, without duplicates."""
    held = set(permissions)
    return [p for p in ALL_PERMISSIONS + GRANT_ONLY_PERMISSIONS if p in held]


def owner_nip(context_type: str, context_value: str) -> str | None:
    if context_type == "Nip":
        return context_value
    if context_type in ("InternalId", "NipVatUe"):
        return context_value.split("-", 1)[0]
    return None


class Authority:
    def __init__(self, store: Store, grants: PermissionRegistry):
        self._store = store
        self._grants = grants

    def linked_identifiers(self, subject_type: str, subject_value: str) -> set[tuple[str, str]]:
        """The subject itself plus its NIP-PESEL twin, if /testdata/person registered one."""
        ids = {(subject_type, subject_value)}
        if subject_type == "Nip":
            row = self._store.one("SELECT pesel FROM persons WHERE nip = ?", (subject_value,))
            if row:
                ids.add(("Pesel", row["pesel"]))
        elif subject_type == "Pesel":
            for row in self._store.all("SELECT nip FROM persons WHERE pesel = ?", (subject_value,)):
                ids.add(("Nip", row["nip"]))
        return ids

    def permissions(
        self, context_type: str, context_value: str, subject_type: str, subject_value: str, settle: bool = True
    ) -> list[str]:
        if settle:
            self._grants.settle()
        held: set[str] = set()
        identities = {
            (t, v.upper() if t == "Fingerprint" else v) for t, v in self.linked_identifiers(subject_type, subject_value)
        }
        nip = owner_nip(context_type, context_value)
        if nip is not None and ("Nip", nip) in identities:
            held.update(OWNER_PERMISSIONS)
            person = self._store.one("SELECT is_bailiff FROM persons WHERE nip = ?", (nip,))
            if person and person["is_bailiff"]:
                held.add("EnforcementOperations")
        held |= self._grants.held_in(context_type, context_value, identities)
        return ordered(held)

    def is_owner(self, context_type: str, context_value: str, subject_type: str, subject_value: str) -> bool:
        nip = owner_nip(context_type, context_value)
        return nip is not None and ("Nip", nip) in self.linked_identifiers(subject_type, subject_value)

    def is_deceased(self, subject_type: str, subject_value: str) -> bool:
        column = {"Nip": "nip", "Pesel": "pesel"}.get(subject_type)
        if column is None:
            return False
        row = self._store.one(f"SELECT is_deceased FROM persons WHERE {column} = ?", (subject_value,))
        return bool(row and row["is_deceased"])
