# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan for people: one line per change, in the manner of Terraform, and a summary line.

    + erp-sender: create (no active token named 'erp-sender')
    ~ archive: rotate (age 91d reached rotate_after 90d); the old one, A, stays valid until 2025-10-02T12:00:00+00:00
    -/+ reader: replace (permissions differ ...); the old one, R, is revoked in this run once the new one is stored
    - old-tool: revoke (not declared (exclusive: managed)); KSeF then revokes the managed tokens: erp-sender
    = admin: retain (lockout guard: CredentialsManage of Pesel:..., the identity this run logs in with; ...)
    Plan: 1 to create, 1 to rotate, 1 to replace, 1 to revoke. Old ones: 1 revoked in this run, 1 kept until ...
    1 retained.

A change that issues a successor (rotate, renew, replace) says what becomes of the credential it supersedes - revoked
in this run, or kept until when - on its own line and in the summary: that is what its consumers feel, and the plan
is what people review. Steps that change nothing (keep, wait, retain) are not listed, except a retain the kind
marks as shown (a change held back: the lockout guard, an inactive grant), which is listed and counted. A step whose
consequence revokes other managed credentials (`breaks`) names them. An unmanaged credential is named by its
`plan_label` when it has one (a grant row: kind, permission, subject). A revoke that only completes a replace or a
rotation of the same name is part of that change and not counted twice. Pure: no secrets ever reach a plan.
"""

from __future__ import annotations

from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p

SYMBOLS = {
    p.CREATE: "+",
    p.ROTATE: "~",
    p.RENEW: "~",
    p.REPLACE: "-/+",
    p.COPY: "~",
    p.REVOKE: "-",
    p.PURGE: "-",
    p.RETAIN: "=",
}
ORDER = (p.CREATE, p.ROTATE, p.RENEW, p.REPLACE, p.COPY, p.REVOKE, p.PURGE)
SUCCEEDING = (p.ROTATE, p.RENEW, p.REPLACE)
REVOKED_NOW = "revoked in this run"
NO_CHANGES = "Plan: no changes."


def _fate(plan: p.Plan, issue: p.Step) -> tuple | None:
    """What becomes of the credential `issue` supersedes: (REVOKED_NOW, None), ("kept", until or None, why), or None
    when it supersedes nothing."""
    if issue.action not in SUCCEEDING or issue.reference_number is None:
        return None
    for step in plan.steps:
        if step.reference_number != issue.reference_number or step is issue:
            continue
        if step.action == p.REVOKE:
            return (REVOKED_NOW, None, None)
        if step.action == p.RETAIN:
            return ("kept", step.until, None if step.until else step.reason)
    return None


def _consequence(issue: p.Step, fate: tuple | None) -> str:
    if fate is None:
        return ""
    old = "the old one, %s," % issue.reference_number
    if fate[0] == REVOKED_NOW:
        return "; %s is revoked in this run once the new one is stored" % old
    if fate[1]:
        return "; %s stays valid until %s, then the first run after that revokes it" % (old, fate[1])
    return "; %s stays valid (%s)" % (old, fate[2])


def _changes(cplan: p.ContextPlan) -> list:
    """(label, step, fate) for every change, superseded revokes folded into the issue they complete; fate is what
    becomes of the credential an issue supersedes (None for other changes)."""
    found = []
    for plan in cplan.plans():
        issue = plan.issue
        for step in plan.steps:
            if step.action not in p.CHANGING and not step.shown:
                continue
            if (
                step.action == p.REVOKE
                and issue is not None
                and issue.action in SUCCEEDING
                and step.reference_number == issue.reference_number
            ):
                continue
            found.append((plan.declared.name, step, _fate(plan, step) if step is issue else None))
    found += [
        (getattr(live, "plan_label", None) or "unmanaged %s" % step.reference_number, step, None)
        for live, step in cplan.unmanaged
        if step.action in p.CHANGING or step.shown
    ]
    return found


def _breaks(step: p.Step) -> str:
    return "; KSeF then revokes the managed tokens: %s" % ", ".join(step.breaks) if step.breaks else ""


def lines(cplan: p.ContextPlan) -> list:
    """One line per change (and per change held back), then the summary line and the kind's notes."""
    rendered = [
        "%s %s: %s (%s)%s%s"
        % (SYMBOLS[step.action], label, step.action, step.reason, _consequence(step, fate), _breaks(step))
        for label, step, fate in _changes(cplan)
    ]
    return rendered + [summary(cplan)] + list(cplan.notes)


def _span(dates: list) -> str:
    first, last = min(dates), max(dates)
    return first if first == last else "%s to %s" % (first, last)


def summary(cplan: p.ContextPlan) -> str:
    counts = dict.fromkeys(ORDER, 0)
    fates, retained = [], 0
    for _label, step, fate in _changes(cplan):
        if step.action == p.RETAIN:
            retained += 1
            continue
        counts[step.action] += 1
        if fate is not None:
            fates.append(fate)
    parts = ["%d to %s" % (count, action) for action, count in counts.items() if count]
    held = " %d retained." % retained if retained else ""
    if not parts:
        return NO_CHANGES + held
    text = "Plan: %s." % ", ".join(parts)
    revoked = sum(1 for fate in fates if fate[0] == REVOKED_NOW)
    dated = [fate[1] for fate in fates if fate[0] != REVOKED_NOW and fate[1]]
    kept = sum(1 for fate in fates if fate[0] != REVOKED_NOW)
    old = []
    if revoked:
        old.append("%d %s" % (revoked, REVOKED_NOW))
    if kept:
        old.append("%d kept" % kept + (" until %s" % _span(dated) if len(dated) == kept else ""))
    return text + (" Old ones: %s." % ", ".join(old) if old else "") + held
