# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run reports: one result per declared credential, the plan (as data and for people), the revokes, the
drift, and the diff Ansible prints with --diff.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils import _plan_render
from ansible_collections.ksef.credentials.plugins.module_utils._executor import Done, Outcome


@dataclass
class Report:
    """Everything a run knows at its end: what was declared, planned and done."""

    entries: list
    plan: p.ContextPlan
    done: Done
    check_mode: bool
    drift: list | None = None  # the kind's findings, when RunOptions.drift asked for them
    document: dict | None = None  # the saved-plan document, when the run made one (_saved_plan.document)


def entry_result(declared, outcome: Outcome, holds_value: bool = True) -> dict:
    """The result of one declared credential: its metadata after the run, the actions and what each store holds."""
    meta: dict
    if declared.state == "absent":
        meta = declared.absent()
    elif outcome.current is None:  # check mode, a credential would be issued
        meta = declared.predicted()
    else:
        meta = outcome.current.metadata()
    meta["name"] = declared.name
    meta["actions"] = outcome.actions
    if holds_value:  # a kind without a value has no stores
        meta["stores"] = [{"label": label, "reference_number": ref} for label, ref in outcome.held.items()]
    return meta


def result(report: Report, kind) -> dict:
    cplan, done = report.plan, report.done
    snapshots = {entry.name: entry for entry in report.entries}
    entries, revoked, changed = {}, [], False
    for plan in cplan.plans():
        name = plan.declared.name
        outcome = done.outcomes.get(name)
        failure = done.failures.get(name)
        if outcome is None:  # failed: as it was, plus whatever the failure message says
            held = snapshots[name].held() if name in snapshots else {}
            outcome = Outcome(actions=list(failure.actions) if failure else [], current=plan.current, held=held)
        entry = entry_result(plan.declared, outcome, kind.holds_value)
        entry["actions"] = done.resumed.get(name, []) + entry["actions"]  # what an earlier run left in flight first
        entry["declared"] = name in cplan.declared
        entry["adopted"] = cplan.adopted.get(name)
        if failure is not None:
            entry["failed"] = True
            entry["msg"] = str(failure)
            if outcome.current is None and plan.declared.state != "absent" and "status" in entry:
                entry["status"] = None  # nothing of it exists at KSeF: not the status it would have had
        entries[name] = entry
        for action in outcome.actions:
            changed = changed or action["action"] in p.CHANGING
            if action["action"] == p.REVOKE:
                revoked.append({"name": name, "reference_number": action["reference_number"]})
    for row in done.unmanaged:
        changed = changed or row["action"] in p.CHANGING
        if row["action"] == p.REVOKE:
            revoked.append({"name": p.UNMANAGED, "reference_number": row["reference_number"]})
    outcome = {
        "changed": cplan.changed if report.check_mode else changed,
        "plan": cplan.rows(),
        "plan_text": _plan_render.lines(cplan),
        "summary": cplan.summary(),
        kind.plural: entries,
        "revoked": revoked,
    }
    if report.drift is not None:
        outcome["drift"] = [finding.as_dict() for finding in report.drift]
    return outcome


def diff(report: Report) -> dict:
    """Metadata only, keyed by name (unmanaged credentials by `unmanaged:REF`); what stays alike is left out.
    `prepared` is the plan for people (and the drift, when asked for), which Ansible prints with --diff."""
    cplan, done = report.plan, report.done
    before, after = {}, {}
    for plan in cplan.plans():
        name = plan.declared.name
        was, will = plan.before(), plan.after()
        outcome = done.outcomes.get(name)
        if not report.check_mode:
            if outcome is None:
                will = was
            elif plan.declared.state == "present" and outcome.current is not None:
                will = outcome.current.metadata()
        if was != will:
            before[name], after[name] = was, will
    revoked = {row["reference_number"] for row in done.unmanaged if row["action"] == p.REVOKE}
    for live, step in cplan.unmanaged:
        if step.action == p.REVOKE and (report.check_mode or live.reference_number in revoked):
            before["unmanaged:%s" % live.reference_number] = live.metadata()
    drift = ["! %s %s: %s" % (finding.kind, finding.label, finding.message) for finding in report.drift or []]
    lines = _plan_render.lines(cplan)
    summary = len(lines) - 1 - len(cplan.notes)
    lines[summary:summary] = drift  # after the changes, before the summary line and the kind's notes
    return {"before": before, "after": after, "prepared": "\n".join(lines) + "\n"}
