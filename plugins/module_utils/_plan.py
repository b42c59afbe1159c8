# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vocabulary of plans, the same for every credential kind: actions, steps, the plan of one declared
credential and the plan of a whole context (or subject).

A kind's planner (for example `_kinds/token_plan.py`) builds these from the declared and the live state; the
engine (`_engine.py`) carries them out and reports them. Pure data: no I/O, no clock, no secrets.

What the engine needs of a kind's objects:
- a declared credential: `name`, `state` ("present" or "absent") and `predicted()`, the metadata it will have
  once issued (reference number unknown);
- a live credential: `reference_number`, `status`, `created` and `metadata()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

PENDING = "Pending"
ACTIVE = "Active"

# Actions. The first seven change something; the others only report.
CREATE = "create"  # nothing live: issue one
REPLACE = "replace"  # an immutable property differs: issue a new credential, revoke the old
ROTATE = "rotate"  # age, on demand, or no store holds a live credential: issue a new one
RENEW = "renew"  # a certificate nears its end of validity (or renewal is asked for): issue its successor
COPY = "copy"  # a store lost the value (or holds another one) and another store holds the current one
REVOKE = "revoke"
PURGE = "purge"  # state: absent with purge: remove the value from the stores
KEEP = "keep"
WAIT = "wait"  # Pending: wait until it is usable
RETAIN = "retain"  # stays for now (grace period, run in progress, protected)

ISSUING = (CREATE, REPLACE, ROTATE, RENEW)
# A live credential no store holds that is younger than this may belong to a change in progress on another host.
ORPHAN_MARGIN = timedelta(minutes=10)
CHANGING = ISSUING + (COPY, REVOKE, PURGE)

UNMANAGED = None  # the `name` of a plan row about a credential the collection does not manage


@dataclass(frozen=True)
class Holding:
    """What one store holds: its label and the reference number of the value in it (None: empty)."""

    label: str
    reference_number: str | None


@dataclass(frozen=True)
class Step:
    """One action of a plan on one credential, with the reason people read."""

    action: str
    reason: str
    reference_number: str | None = None
    stores: tuple = ()  # labels the step writes (issue, copy) or empties (purge)
    source: str | None = None  # COPY: label of a store that holds the current value
    until: str | None = None  # RETAIN of a superseded credential: when it is due for revocation (ISO 8601)
    shown: bool = False  # a RETAIN people must see in the plan: a change held back (lockout guard, inactive row)
    breaks: tuple = ()  # names of the managed credentials KSeF revokes as a consequence of this step

    def as_result(self) -> dict:
        return {"action": self.action, "reason": self.reason, "reference_number": self.reference_number}


@dataclass
class Plan:
    """The steps for one declared credential; `current` is the live credential its stores hold (or None)."""

    declared: Any
    steps: list
    current: Any = None
    live: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(s.action in CHANGING for s in self.steps)

    @property
    def issue(self) -> Step | None:
        return next((s for s in self.steps if s.action in ISSUING), None)

    def of(self, *actions: str) -> list:
        return [s for s in self.steps if s.action in actions]

    def before(self) -> dict:
        return self.current.metadata() if self.current else {}

    def after(self) -> dict:
        """The metadata once the plan is applied (reference number unknown for a new credential)."""
        if self.declared.state == "absent":
            return {}
        if self.issue:
            return self.declared.predicted()
        meta = self.before()
        if meta and meta["status"] == PENDING:
            meta["status"] = ACTIVE
        return meta


def supersede(reference: str, successor: str, due, now, grace: str | None, noun: str) -> Step:
    """The step for a credential a newer one supersedes: REVOKE once `due` (its successor's start plus the grace
    period) has passed, RETAIN until then, so consumers that cached the old value keep working."""
    if now >= due:
        return Step(REVOKE, "superseded by %s" % successor, reference)
    return Step(
        RETAIN,
        "previous %s kept until %s (revoke_previous_after %s)" % (noun, due.isoformat(), grace),
        reference,
        until=due.isoformat(),
    )


@dataclass(frozen=True)
class Wording:
    """How a value kind's planner speaks of its credentials in the steps every value kind shares."""

    noun: str  # "token"
    value: str  # what the stores keep of one: "value", "private key"
    issued: str  # "created", "requested"
    change: str  # "rotation", "renewal"
    age: Callable[[timedelta], str]  # a duration in the kind's precision
    describe: Callable[[timedelta], str | None]  # revoke_previous_after and the orphan margin, as written


def current_of(live: list, holdings: list):
    """The current live credential: the newest live one a store holds; with no stores, the newest live one."""
    if not holdings:
        return live[0] if live else None
    held = {h.reference_number for h in holdings if h.reference_number}
    return next((c for c in live if c.reference_number in held), None)


def first_issue(unheld: list, name: str, labels: tuple, words: Wording, action: str) -> Step:
    """What to issue when no store holds a live credential of `name`: a successor of the newest one in `unheld`
    (its value, which only its stores kept, is lost: store drift), or the first one."""
    if unheld:
        lost = unheld[0].reference_number
        return Step(
            action,
            "store drift: no store holds the %s of active %s %s and KSeF never gives it again, so a new %s is issued"
            % (words.value, words.noun, lost, words.noun),
            lost,
            stores=labels,
        )
    return Step(CREATE, "no active %s named %r" % (words.noun, name), stores=labels)


def copy_step(current, holdings: list, why: Callable[[Holding], str], what: str) -> Step | None:
    """COPY the current value into every store that lost it (or holds another one), from a store that holds it."""
    missing = [h for h in holdings if h.reference_number != current.reference_number]
    if not missing:
        return None
    source = next(h.label for h in holdings if h.reference_number == current.reference_number)
    return Step(
        COPY,
        "store drift: %s; copying the current %s from %s" % ("; ".join(why(h) for h in missing), what, source),
        current.reference_number,
        stores=tuple(h.label for h in missing),
        source=source,
    )


def previous_steps(
    live: list, current, issue, now, grace: timedelta, margin: timedelta, words: Wording, successor_from=None
) -> list:
    """The steps for every live credential of a name but the current one it keeps: superseded ones (by the one
    issued now, or by the current one) are revoked once `grace` has passed, lost ones (no store holds any) with the
    new one, young unheld ones are left to a change in progress elsewhere, older ones are orphans and revoked.
    `successor_from`: when the credential issued now starts to work, if later than now."""
    steps = []
    for item in live:
        if item is current and issue is None:
            continue
        ref, age = item.reference_number, words.age(now - item.created)
        if item is current or (current is not None and item.created < current.created):
            successor_at = now if item is current else current.created
            if item is current and successor_from is not None:
                successor_at = max(now, successor_from)
            successor = (
                "the new %s" % words.noun
                if item is current
                else "current %s %s" % (words.noun, current.reference_number)
            )
            steps.append(supersede(ref, successor, successor_at + grace, now, words.describe(grace), words.noun))
        elif current is None and issue is not None and issue.reference_number == ref:
            # The one the issue names as lost is superseded now whatever its age: the next run sees it as the
            # previous one of the new credential, so the margin below would hold only until then.
            steps.append(_lost(ref, now, grace, words))
        elif now - item.created < margin:
            steps.append(
                Step(
                    RETAIN,
                    "no store holds it but it was %s %s ago; it may belong to a %s in progress, revoked by a later "
                    "run once older than %s" % (words.issued, age, words.change, words.describe(margin)),
                    ref,
                )
            )
        elif issue is not None and current is None:
            steps.append(_lost(ref, now, grace, words))
        else:
            steps.append(
                Step(
                    REVOKE,
                    "orphan: newer than the current %s, no store holds its %s, %s %s ago"
                    % (words.noun, words.value, words.issued, age),
                    ref,
                )
            )
    return steps


def _lost(reference: str, now, grace: timedelta, words: Wording) -> Step:
    """No store holds any live credential of the name: this one's value is lost, the new one supersedes it
    (after the grace period, for consumers that still hold the value)."""
    if not grace:
        return Step(REVOKE, "no store holds its %s; superseded by the new %s" % (words.value, words.noun), reference)
    due = now + grace
    return Step(
        RETAIN,
        "%s lost from the stores; kept until %s (revoke_previous_after %s)"
        % (words.value, due.isoformat(), words.describe(grace)),
        reference,
        until=due.isoformat(),
    )


def row(name: str | None, step: Step) -> dict:
    found: dict = {
        "name": name,
        "action": step.action,
        "reference_number": step.reference_number,
        "reason": step.reason,
    }
    if step.breaks:  # only a step with consequences says so: the rows of other steps stay as they were
        found["breaks"] = list(step.breaks)
    return found


@dataclass
class ContextPlan:
    """Plans of the declared credentials (by name, in declared order), of undeclared managed names (exclusive)
    and the steps for unmanaged credentials (exclusive: all). `adopted` maps a declared name to the unmanaged
    credential it adopts."""

    declared: dict
    undeclared: list = field(default_factory=list)
    unmanaged: list = field(default_factory=list)  # (live credential, Step)
    adopted: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # lines for people after the summary (a kind's call budget)

    def plans(self) -> list:
        return list(self.declared.values()) + list(self.undeclared)

    @property
    def changed(self) -> bool:
        return any(plan.changed for plan in self.plans()) or any(
            step.action in CHANGING for _live, step in self.unmanaged
        )

    def rows(self) -> list:
        """The plan as {name, action, reference_number, reason}; `name` is null for unmanaged credentials."""
        rows = [row(plan.declared.name, step) for plan in self.plans() for step in plan.steps]
        rows += [row(UNMANAGED, step) for _live, step in self.unmanaged]
        return rows

    def summary(self) -> dict:
        counts: dict = {}
        for entry in self.rows():
            counts[entry["action"]] = counts.get(entry["action"], 0) + 1
        return dict(sorted(counts.items()))
