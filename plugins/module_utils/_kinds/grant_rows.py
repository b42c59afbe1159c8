# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The live rows of a context's grants, read from the four listings (persons, authorizations, subunits, EU
entities): one `GrantRow` per listed permission, and `Granted`, the live view of one declared grant (its rows)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone

from ansible_collections.ksef.credentials.plugins.module_utils import _identity
from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_declared import (
    PERMISSIONS_OF,
    SYSTEM,
    subject_result,
    target_result,
)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ACTIVE = "Active"  # permissionState of a row that works; Inactive: an indirect grant whose delegation was withdrawn
INACTIVE = "Inactive"


def ident(item) -> tuple:
    if not isinstance(item, dict):
        return (None, None)
    return (item.get("type"), item.get("value"))


def _started(item: dict) -> datetime:
    """When a listed permission was granted (its startDate); the epoch when KSeF does not say."""
    try:
        return datetime.fromisoformat(str(item.get("startDate")).replace("Z", "+00:00"))
    except ValueError:
        return EPOCH


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
    created: datetime = EPOCH
    status: str = p.ACTIVE

    @property
    def name(self) -> str | None:
        return _identity.name_of(self.description)

    @property
    def subject(self) -> tuple:
        return (self.subject_type, self.subject_value)

    @property
    def plan_label(self) -> str:
        """How the plan for people names a row no declaration manages: what it gives to whom, and its id."""
        target = " for %s" % target_result(self.target) if self.target[0] else ""
        return "unmanaged %s %s of %s:%s%s (%s)" % (
            self.kind,
            self.scope,
            self.subject_type,
            self.subject_value,
            target,
            self.reference_number,
        )

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
        subject_type, subject_value = ident(item.get("authorizedIdentifier"))
        return cls(
            reference_number=str(item.get("id")),
            kind=kind,
            scope=str(item.get("permissionScope")),
            subject_type=subject_type,
            subject_value=subject_value.upper() if subject_type == "Fingerprint" and subject_value else subject_value,
            description=item.get("description") or "",
            can_delegate=bool(item.get("canDelegate")),
            details=tuple(sorted((k, v) for k, v in details.items() if isinstance(v, str))),
            author=ident(item.get("authorIdentifier")),
            context=ident(item.get("contextIdentifier")),
            target=ident(item.get("targetIdentifier")),
            state=item.get("permissionState") or ACTIVE,
            created=_started(item),
        )

    @classmethod
    def from_subunit(cls, item: dict) -> GrantRow:
        """A row of POST /permissions/query/subunits/grants (SubunitPermission): an administrator of a subunit
        granted from this context. It works in the subunit, so it has no context here."""
        row = cls.from_api(dict(item, contextIdentifier=None, targetIdentifier=None))
        return replace(
            row,
            kind="subunit",
            target=ident(item.get("subunitIdentifier")),
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
        subject_type, subject_value = ident(item.get("authorizedEntityIdentifier"))
        details = item.get("subjectEntityDetails") or {}
        return cls(
            reference_number=str(item.get("id")),
            kind="authorization",
            scope=str(item.get("authorizationScope")),
            subject_type=subject_type,
            subject_value=subject_value,
            description=item.get("description") or "",
            details=tuple(sorted((k, v) for k, v in details.items() if isinstance(v, str))),
            author=ident(item.get("authorIdentifier")) if item.get("authorIdentifier") else (SYSTEM, None),
            context=ident(item.get("authorizingEntityIdentifier")),
            created=_started(item),
        )

    def metadata(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "target": target_result(self.target),
            "permission": self.scope,
            "subject": subject_result(self.subject_type, self.subject_value, dict(self.details)),
            "description": self.description,
            "can_delegate": self.can_delegate,
            "author": "%s:%s" % self.author if self.author[1] else self.author[0],
            "state": self.state,
            "status": self.status,
        }


@dataclass(frozen=True)
class Granted:
    """The live view of one declared grant: its rows, the rows of other grants through which its subject already
    holds a declared permission (`elsewhere`), and the permissions KSeF lists no row of after a grant ended well
    (`unlisted`)."""

    name: str | None
    rows: tuple = ()
    status: str = p.ACTIVE
    elsewhere: tuple = ()
    unlisted: tuple = ()

    @property
    def reference_number(self) -> str | None:
        return self.name

    @property
    def created(self) -> datetime:
        return min((row.created for row in self.rows), default=EPOCH)

    def metadata(self) -> dict:
        first = self.rows[0] if self.rows else (self.elsewhere[0] if self.elsewhere else None)
        order = PERMISSIONS_OF.get(first.kind, ()) if first else ()
        rows = sorted(self.rows, key=lambda r: (order.index(r.scope) if r.scope in order else len(order), r.scope))
        return {
            "kind": first.kind if first else None,
            "target": target_result(first.target) if first else None,
            "subject": subject_result(first.subject_type, first.subject_value, dict(first.details)) if first else None,
            "permissions": [row.scope for row in rows],
            "permission_ids": [row.reference_number for row in rows],  # in the order of `permissions`
            "can_delegate": first.can_delegate if first else False,
            "description": self.rows[0].description if self.rows else None,
            # Inactive when KSeF lists any of its rows so (`inactive` names them): the grant does not give all it says
            "status": INACTIVE if any(row.state != ACTIVE for row in rows) else self.status,
            "inactive": [row.scope for row in rows if row.state != ACTIVE],
            # a declared permission held through another grant's row, which this grant does not give again
            "held_elsewhere": [
                {
                    "permission": row.scope,
                    "permission_id": row.reference_number,
                    "author": "%s:%s" % row.author if row.author[1] else row.author[0],
                    "name": row.name,
                }
                for row in self.elsewhere
            ],
        }
