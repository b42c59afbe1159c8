# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an auditor should know about the permission rows of one context: one row per permission, and the findings.

Pure: no I/O, no clock. Input is what POST /permissions/query/persons/grants lists (PermissionsInCurrentContext)
and, optionally, the declared grants.

Finding kinds:
- undeclared_manager: a row holding CredentialsManage that no declaration keeps (with a declared list only): who
  can manage every credential of the context without anyone having declared it.
- missing: a declared permission no row carries as declared (the next run of ksef.credentials.permissions grants
  it).
- differs: a row of a declared name that is not as declared (the next run revokes it, and grants it again when
  it is still declared).
- undeclared: a managed row whose name is not declared (with a declared list only).
- inactive: a row KSeF lists as Inactive (an indirect grant whose delegation was withdrawn: it gives nothing).
- system_authored: a row authored by System (ZAW-FA, test data): the collection never revokes it.
"""

from __future__ import annotations

from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._findings import Catalogue
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import grant_plan as g

UNDECLARED_MANAGER = "undeclared_manager"
MISSING = "missing"
DIFFERS = "differs"
UNDECLARED = "undeclared"
INACTIVE = "inactive"
SYSTEM_AUTHORED = "system_authored"

KINDS = (UNDECLARED_MANAGER, MISSING, DIFFERS, UNDECLARED, INACTIVE, SYSTEM_AUTHORED)
SEVERITY = {
    UNDECLARED_MANAGER: "error",
    MISSING: "warning",
    DIFFERS: "warning",
    UNDECLARED: "warning",
    INACTIVE: "warning",
    SYSTEM_AUTHORED: "info",
}
CATALOGUE = Catalogue(KINDS, SEVERITY, "permission_id")
Finding = CATALOGUE.finding


def _who(row: g.GrantRow) -> str:
    return "%s:%s" % row.subject


def _why_inactive(row: g.GrantRow) -> str:
    if row.kind != "indirect" or row.target[0] != "Nip":
        return ""
    return (
        ": client %s no longer delegates it to this context; it works again once the client grants it with"
        " can_delegate: true" % row.target[1]
    )


def findings(declared: list | None, rows: list, context: tuple = (None, None)) -> list:
    """The findings of `rows` (GrantRow) against `declared` (grant_plan.Declared; None: nothing declared to judge
    against, so only what needs no declaration is reported)."""
    found = []
    if declared is not None:
        cplan = g.plan_context(declared, rows, exclusive="managed", force=True, context=context)
        kept = set()
        for plan in cplan.declared.values():
            name = plan.declared.name
            for step in plan.steps:
                if step.action == p.KEEP:
                    kept.add(step.reference_number)
                elif step.action == p.REVOKE:
                    found.append(Finding(DIFFERS, "%s: %s" % (name, step.reason), name, step.reference_number))
            if plan.issue is not None:
                missing = ", ".join(g.to_grant(plan))
                found.append(Finding(MISSING, "%s: %s declared, not granted as declared" % (name, missing), name))
        for plan in cplan.undeclared:
            for step in plan.steps:
                found.append(
                    Finding(
                        UNDECLARED,
                        "managed grant %s is not declared" % plan.declared.name,
                        plan.declared.name,
                        step.reference_number,
                    )
                )
        for row in rows:
            if row.scope == g.MANAGER and row.reference_number not in kept:
                found.append(
                    Finding(
                        UNDECLARED_MANAGER,
                        "%s holds CredentialsManage (granted by %s) and no declaration keeps it: it can manage every"
                        " credential of the context"
                        % (_who(row), "%s:%s" % row.author if row.author[1] else row.author[0]),
                        row.name,
                        row.reference_number,
                    )
                )
    for row in rows:
        if row.state != "Active":
            found.append(
                Finding(
                    INACTIVE,
                    "%s %s is %s and gives nothing%s" % (_who(row), row.scope, row.state, _why_inactive(row)),
                    row.name,
                    row.reference_number,
                )
            )
        if row.author[0] == g.SYSTEM:
            found.append(
                Finding(
                    SYSTEM_AUTHORED,
                    "%s %s was granted by System (ZAW-FA or test data); the collection never"
                    " revokes it" % (_who(row), row.scope),
                    row.name,
                    row.reference_number,
                )
            )
    return sorted(found, key=lambda f: (KINDS.index(f.kind), f.name or "", f.reference or ""))


def row(item: g.GrantRow, declared_names: set) -> dict:
    """One row of the inventory."""
    meta = item.metadata()
    return {
        "permission_id": item.reference_number,
        "name": item.name,
        "managed": item.name is not None,
        "declared": item.name in declared_names,
        "kind": item.kind,
        "permission": item.scope,
        "subject": meta["subject"],
        "description": item.description,
        "can_delegate": item.can_delegate,
        "author": meta["author"],
        "state": item.state,
        "start_date": item.created.isoformat(),
    }
