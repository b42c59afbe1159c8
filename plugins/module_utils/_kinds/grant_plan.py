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

from dataclasses import dataclass

from ansible_collections.ksef.credentials.plugins.module_utils import _identity
from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_declared import (
    EXCLUSIVE_CHOICES,
    MANAGER,
    SYSTEM,
    Declared,
    context_problem,
    declare,
    target_result,
)
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_requests import (
    budget,
    grant_request,
    revokes,
)
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_rows import Granted, GrantRow, ident

# grant.py and the drift use the grant kind's pure parts through this module, whichever file holds them.
__all__ = [
    "EXCLUSIVE_CHOICES",
    "MANAGER",
    "SYSTEM",
    "Declared",
    "GrantPlan",
    "GrantRow",
    "Granted",
    "budget",
    "context_problem",
    "declare",
    "dependencies",
    "grant_request",
    "plan_context",
    "revokes",
    "to_grant",
]


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
        why.append("target %s, declared %s" % (target_result(row.target), target_result(decl.target)))
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
            if ident(token.get("authorIdentifier")) == subject and scope in (token.get("requestedPermissions") or [])
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
