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

from dataclasses import dataclass, replace

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
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_rows import (
    ACTIVE,
    Granted,
    GrantRow,
    ident,
)

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
        if self.everything and (self.everything.rows or self.everything.elsewhere):
            return self.everything.metadata()
        return {}

    def after(self) -> dict:
        if self.declared.state == "absent":
            return {}
        if self.issue:
            predicted = self.declared.predicted()
            elsewhere = self.current.elsewhere if self.current else ()
            if elsewhere:  # what this grant will not give itself, and through which rows it is held
                held = {row.scope for row in elsewhere}
                predicted["permissions"] = [scope for scope in predicted["permissions"] if scope not in held]
                predicted["held_elsewhere"] = Granted(self.declared.name, (), elsewhere=elsewhere).metadata()[
                    "held_elsewhere"
                ]
            return predicted
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
            elif row.state != ACTIVE:
                seen.add(row.scope)
                verdict[row.reference_number] = (p.RETAIN, _inactive(row))
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
    warnings: list = []
    _delegations(here, verdict, {decl.name: decl for decl in declared}, warnings)
    # Pass 2: the lockout guard.
    _guard(here, verdict, protected, warnings, force)
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
        elsewhere: list = []
        if decl.state == "present":
            missing = [scope for scope in decl.permissions if scope not in {row.scope for row in stays}]
            elsewhere = _held_elsewhere(decl, missing, here, verdict)
            held = {row.scope for row in elsewhere}
            missing = [scope for scope in missing if scope not in held]
            if missing:
                again = [scope for scope in missing if scope in {row.scope for row in rows}]
                if not rows:
                    steps.append(p.Step(p.CREATE, "grant %s (no grant named '%s')" % (", ".join(missing), decl.name)))
                elif again:
                    steps.append(p.Step(p.REPLACE, "grant %s again as declared" % ", ".join(missing)))
                else:
                    steps.append(p.Step(p.CREATE, "grant %s (added)" % ", ".join(missing)))
        steps += [_step(verdict, r) for r in stays]
        steps += [p.Step(p.RETAIN, _elsewhere(row, decl), row.reference_number, shown=True) for row in elsewhere]
        current = Granted(decl.name, tuple(stays), elsewhere=tuple(elsewhere)) if stays or elsewhere else None
        cplan.declared[decl.name] = GrantPlan(
            decl,
            steps,
            current,
            list(rows) + elsewhere,
            everything=Granted(decl.name, tuple(rows), elsewhere=tuple(elsewhere)),
        )
        warnings.extend(_inactive_warnings(decl, rows, here, verdict))
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


def _held_elsewhere(decl: Declared, missing: list, here: list, verdict: dict) -> list:
    """The rows of other grants (unmanaged, System's, or another name's) that stay and already give `decl`'s
    subject a permission of `missing` in the same way (kind, target): KSeF ignores a second grant of a permission
    (or refuses it; uprawnienia.md), so granting it again would never converge. can_delegate is no part of that
    key (the emulator follows it), so an entity row that differs only there is held too, and its line says so.
    The first listed row per permission."""
    found: dict = {}
    for row in sorted(here, key=lambda r: (r.created, r.reference_number)):
        if (
            row.name != decl.name
            and row.scope in missing
            and row.scope not in found
            and row.state == ACTIVE
            and row.kind == decl.kind
            and row.subject == decl.subject
            and row.target == decl.target
            and verdict.get(row.reference_number, (p.KEEP,))[0] != p.REVOKE
        ):
            found[row.scope] = row
    return [found[scope] for scope in missing if scope in found]


def _elsewhere(row: GrantRow, decl: Declared) -> str:
    author = "%s:%s" % row.author if row.author[1] else str(row.author[0] or "an unknown author")
    whose = "grant %s" % row.name if row.name else "a row this collection does not manage"
    differs = ""
    if decl.kind == "entity" and row.can_delegate != decl.can_delegate:
        differs = " with can_delegate %s, declared %s" % (
            str(row.can_delegate).lower(),
            str(decl.can_delegate).lower(),
        )
    return (
        "held elsewhere: %s is already held through row %s authored by %s (%s)%s, so it is not granted again: KSeF"
        " ignores a second grant of it; this grant gives it once that row is revoked"
        % (row.scope, row.reference_number, author, whose, differs)
    )


def _step(verdict: dict, row: GrantRow) -> p.Step:
    """The step of a listed row; a RETAIN of the grant kind is a change held back (lockout guard, inactive row),
    which the plan for people shows."""
    action, reason = verdict[row.reference_number]
    return p.Step(action, reason, row.reference_number, shown=action == p.RETAIN)


def _client(row: GrantRow) -> str:
    return "client %s" % row.target[1] if row.target[1] else "its client"


def _inactive(row: GrantRow) -> str:
    """Why a row as declared that KSeF lists as Inactive is kept: revoking it and granting it again gives nothing
    back (KSeF refuses an indirect grant for a client that does not delegate), and it works again, as it is, once
    the delegation is back."""
    if row.kind == "indirect":
        return (
            "inactive: %s no longer delegates %s to this context (can_delegate), so it gives nothing; kept: it"
            " works again once the client grants %s with can_delegate: true, and a new grant is refused until then"
            % (_client(row), row.scope, row.scope)
        )
    return "inactive: KSeF lists it as %s, so it gives nothing; kept, as granting it again would not differ" % row.state


def _inactive_warnings(decl: Declared, rows: list, here: list, verdict: dict) -> list:
    """What a reviewer must know of a declared grant whose rows KSeF lists as Inactive: they give nothing, and
    what makes them work; and a grant this run would send for a client whose delegation is withdrawn is refused."""
    if decl.state != "present":
        return []
    warnings = []
    kept = [row for row in rows if row.state != ACTIVE and verdict[row.reference_number][0] == p.RETAIN]
    if kept:
        scopes = ", ".join(row.scope for row in kept)
        if decl.kind == "indirect":
            warnings.append(
                "%s: %s for %s %s Inactive: the client withdrew its delegation (can_delegate) to this context, so"
                " the grant gives nothing; it works again once the client delegates again (can_delegate: true), and"
                " a new grant is refused until then; state: absent revokes it"
                % (decl.name, scopes, _client(kept[0]), "is" if len(kept) == 1 else "are")
            )
        else:
            warnings.append("%s: %s is Inactive at KSeF and gives nothing" % (decl.name, scopes))
    if decl.kind == "indirect" and decl.target[0] == "Nip":
        sent = set(decl.permissions) - {row.scope for row in rows if verdict[row.reference_number][0] != p.REVOKE}
        withdrawn = sorted(
            {row.scope for row in here if row.kind == "indirect" and row.target == decl.target and row.state != ACTIVE}
            & sent
        )
        if withdrawn:
            warnings.append(
                "%s: client %s no longer delegates %s to this context (its other indirect grants are Inactive):"
                " KSeF refuses this grant until the client grants it with can_delegate: true"
                % (decl.name, decl.target[1], ", ".join(withdrawn))
            )
    return warnings


def _delegations(rows: list, verdict: dict, declared: dict, warnings: list) -> None:
    """A revoke of an entity row with can_delegate that no row of this run delegates again switches off the indirect
    grants its subject (an accounting office) made of that permission for this context: KSeF lists them as
    Inactive. The office's context lists them, this one does not: the plan says so, with the office."""
    lost: dict = {}  # (name, subject) -> scopes
    for row in rows:
        action, reason = verdict.get(row.reference_number, (p.KEEP, ""))
        if action != p.REVOKE or row.kind != "entity" or not row.can_delegate:
            continue
        decl = declared.get(row.name)
        if (
            decl is not None
            and decl.state == "present"
            and decl.kind == "entity"
            and decl.can_delegate
            and decl.subject == row.subject
            and row.scope in decl.permissions
        ):
            continue  # granted again with can_delegate in this run: the indirect grants work again
        verdict[row.reference_number] = (
            action,
            "%s; this switches off the indirect grants %s:%s made of %s for this context (KSeF lists them as"
            " Inactive until %s is delegated again)" % (reason, row.subject[0], row.subject[1], row.scope, row.scope),
        )
        lost.setdefault((row.name or "unmanaged %s" % row.reference_number, row.subject), []).append(row.scope)
    for (name, subject), scopes in sorted(lost.items()):
        warnings.append(
            "%s: %s:%s no longer delegates %s for this context: the indirect grants it made of them (to its staff)"
            " become Inactive and give nothing until it is delegated again (can_delegate: true)"
            % (name, subject[0], subject[1], ", ".join(scopes))
        )


def _guard(rows: list, verdict: dict, protected, warnings: list, force: bool = False) -> None:
    """Revokes of CredentialsManage that would lock the run (or everyone but the Owner) out become RETAIN; with
    `force` they stay revokes, and the plan and a warning say that the next run with this login fails."""
    managers = [row for row in rows if row.scope == MANAGER and row.kind == "person" and row.state == "Active"]
    if force:
        for row in managers:
            action, reason = verdict.get(row.reference_number, (p.KEEP, ""))
            if action == p.REVOKE and row.subject in protected:
                verdict[row.reference_number] = (
                    action,
                    "%s; lockout guard overridden: the identity this run logs in with loses CredentialsManage, and"
                    " the next run with this login fails" % reason,
                )
                warnings.append(
                    "%s: force: true revokes the CredentialsManage of %s:%s, the identity this run logs in with: the"
                    " next run with this login fails (it can no longer manage the context's credentials)"
                    % ((row.name or "unmanaged %s" % row.reference_number,) + row.subject)
                )
        revoked = [row for row in managers if verdict.get(row.reference_number, (p.KEEP,))[0] == p.REVOKE]
        if revoked and len(revoked) == len(managers):
            warnings.append(
                "force: true revokes the CredentialsManage of every listed holder in the context (%s): afterwards"
                " only the Owner can manage its credentials" % ", ".join("%s:%s" % row.subject for row in revoked)
            )
        return
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


def dependencies(cplan: p.ContextPlan, live: list, tokens: list, revoked_tokens=frozenset()) -> list:
    """Warnings for managed tokens whose author loses a permission the token carries: KSeF revokes such a token
    (uwierzytelnianie.md), even when the permission is granted again afterwards. `tokens`: the listed managed tokens
    (GET /tokens items); `revoked_tokens`: reference numbers of tokens this run revokes anyway, before its grants
    (the company task), which no revoke breaks. Each revoke step that breaks tokens names them in `breaks`, so the
    plan rows, the plan for people and a saved plan say it too."""
    revoked = set(revokes(cplan))
    rows = {row.reference_number: row for row in live}
    lost: dict = {}  # (subject, scope) -> permissionIds of the revokes that take it
    for ref in revoked:
        row = rows.get(ref)
        if row is None:
            continue
        stays = any(
            other.subject == row.subject and other.scope == row.scope and other.reference_number not in revoked
            for other in live
        )
        if not stays:
            lost.setdefault((row.subject, row.scope), set()).add(ref)
    warnings = []
    breaks: dict = {}  # permissionId -> names of the tokens its revoke breaks
    for (subject, scope), refs in sorted(lost.items()):
        hit = sorted(
            (_identity.name_of(token.get("description")) or "", str(token.get("referenceNumber")))
            for token in tokens
            if ident(token.get("authorIdentifier")) == subject
            and scope in (token.get("requestedPermissions") or [])
            and token.get("referenceNumber") not in revoked_tokens
        )
        if hit:
            grants = sorted({rows[ref].name or "unmanaged %s" % ref for ref in refs})
            warnings.append(
                "%s: revoking %s of %s:%s leaves the managed tokens it created without that permission, and KSeF"
                " revokes them: %s"
                % (", ".join(grants), scope, subject[0], subject[1], ", ".join("%s (%s)" % token for token in hit))
            )
            for ref in refs:
                breaks.setdefault(ref, set()).update(name for name, _ref in hit)
    if breaks:
        _mark_breaks(cplan, breaks)
    return warnings


def _mark_breaks(cplan: p.ContextPlan, breaks: dict) -> None:
    def marked(step: p.Step) -> p.Step:
        if step.action != p.REVOKE or step.reference_number not in breaks:
            return step
        return replace(step, breaks=tuple(sorted(breaks[step.reference_number])))

    for plan in cplan.plans():
        plan.steps = [marked(step) for step in plan.steps]
    cplan.unmanaged = [(row, marked(step)) for row, step in cplan.unmanaged]


def to_grant(plan: p.Plan) -> list:
    """The declared permissions no row that stays carries: what the plan's issue grants (in one request)."""
    decl = plan.declared
    stays = {step.reference_number for step in plan.steps if step.action in (p.KEEP, p.RETAIN)}
    held = {row.scope for row in plan.live if row.reference_number in stays}
    return [scope for scope in decl.permissions if scope not in held]
