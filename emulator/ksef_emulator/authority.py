"""Who holds which permission in a context (uprawnienia.md, dane-testowe-scenariusze.md).

- The owner: a subject whose NIP equals the context NIP, or the PESEL linked to that NIP through
  /testdata/person (the NIP-PESEL link). The owner holds every permission except EnforcementOperations.
- EnforcementOperations: only the owner registered as a bailiff (/testdata/person with isBailiff=true).
- InternalId (`{nip}-{5 digits}`) and NipVatUe (`{nip}-{VAT UE number}`) contexts: the owner of `{nip}` is
  treated as their owner (an emulator simplification: /testdata/permissions only takes Nip contexts).
- Everyone else holds what /testdata/permissions granted to their identifier (Nip, Pesel or Fingerprint).
"""

from __future__ import annotations

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


def ordered(permissions) -> list[str]:
    """Permissions in the contract's enum order, without duplicates."""
    held = set(permissions)
    return [p for p in ALL_PERMISSIONS if p in held]


def owner_nip(context_type: str, context_value: str) -> str | None:
    if context_type == "Nip":
        return context_value
    if context_type in ("InternalId", "NipVatUe"):
        return context_value.split("-", 1)[0]
    return None


class Authority:
    def __init__(self, store: Store):
        self._store = store

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

    def permissions(self, context_type: str, context_value: str, subject_type: str, subject_value: str) -> list[str]:
        held: set[str] = set()
        identities = self.linked_identifiers(subject_type, subject_value)
        nip = owner_nip(context_type, context_value)
        if nip is not None and ("Nip", nip) in identities:
            held.update(OWNER_PERMISSIONS)
            person = self._store.one("SELECT is_bailiff FROM persons WHERE nip = ?", (nip,))
            if person and person["is_bailiff"]:
                held.add("EnforcementOperations")
        for id_type, id_value in identities:
            if id_type == "Fingerprint":
                id_value = id_value.upper()
            for row in self._store.all(
                "SELECT permission FROM permission_grants WHERE context_type = ? AND context_value = ?"
                " AND subject_type = ? AND subject_value = ?",
                (context_type, context_value, id_type, id_value),
            ):
                held.add(row["permission"])
        return ordered(held)

    def is_deceased(self, subject_type: str, subject_value: str) -> bool:
        column = {"Nip": "nip", "Pesel": "pesel"}.get(subject_type)
        if column is None:
            return False
        row = self._store.one(f"SELECT is_deceased FROM persons WHERE {column} = ?", (subject_value,))
        return bool(row and row["is_deceased"])
