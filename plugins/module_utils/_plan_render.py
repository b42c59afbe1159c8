# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan for people: one line per change, in the manner of Terraform, and a summary line.

    + erp-sender: create (no active token named 'erp-sender')
    ~ archive: rotate (age 91d reached rotate_after 90d)
    -/+ reader: replace (permissions differ (InvoiceRead -> InvoiceRead,InvoiceWrite) ...)
    - old-tool: revoke (not declared (exclusive: managed))
    Plan: 1 to create, 1 to rotate, 1 to replace, 1 to revoke.

Steps that change nothing (keep, wait, retain) are not listed. A revoke that only completes a replace or a
rotation of the same name is part of that change and not counted twice. Pure: no secrets ever reach a plan.
"""

from __future__ import annotations

from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p

SYMBOLS = {p.CREATE: "+", p.ROTATE: "~", p.RENEW: "~", p.REPLACE: "-/+", p.COPY: "~", p.REVOKE: "-", p.PURGE: "-"}
ORDER = (p.CREATE, p.ROTATE, p.RENEW, p.REPLACE, p.COPY, p.REVOKE, p.PURGE)


def _changes(cplan: p.ContextPlan) -> list:
    """(label, step) for every change, superseded revokes folded into the issue they complete."""
    found = []
    for plan in cplan.plans():
        issue = plan.issue
        for step in plan.steps:
            if step.action not in p.CHANGING:
                continue
            if (
                step.action == p.REVOKE
                and issue is not None
                and issue.action in (p.ROTATE, p.RENEW, p.REPLACE)
                and step.reference_number == issue.reference_number
            ):
                continue
            found.append((plan.declared.name, step))
    found += [
        ("unmanaged %s" % step.reference_number, step) for _live, step in cplan.unmanaged if step.action in p.CHANGING
    ]
    return found


def lines(cplan: p.ContextPlan) -> list:
    """One line per change, then the summary line."""
    rendered = [
        "%s %s: %s (%s)" % (SYMBOLS[step.action], label, step.action, step.reason) for label, step in _changes(cplan)
    ]
    return rendered + [summary(cplan)]


def summary(cplan: p.ContextPlan) -> str:
    counts = dict.fromkeys(ORDER, 0)
    for _label, step in _changes(cplan):
        counts[step.action] += 1
    parts = ["%d to %s" % (count, action) for action, count in counts.items() if count]
    return "Plan: %s." % ", ".join(parts) if parts else "Plan: no changes."
