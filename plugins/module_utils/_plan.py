# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner: declared state + actual tokens + what the stores hold + now -> ordered steps with reasons.

Pure: no I/O, no clock, no secrets. Check mode, diff and the module result are built from the plan alone;
`_apply.py` is the only code that acts on it.

Vocabulary
- live token: a managed token with this name whose status is Pending or Active (Revoking, Revoked and
  Failed tokens can no longer authenticate and are not listed).
- current token: the newest live token some store holds (with no stores: the newest live token).
- previous token: a live token older than the current one; revoked once `revoke_previous_after` has
  passed since its successor was created.
- orphan: a live token newer than the current one that no store holds (a run that died between
  creating a token and storing it). Revoked once older than ORPHAN_MARGIN, so a rotation still in
  progress elsewhere is never cut short.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ansible_collections.ksef.credentials.plugins.module_utils import _durations, _identity, _permissions

PENDING = "Pending"
ACTIVE = "Active"
LIVE_STATUSES = (PENDING, ACTIVE)
ORPHAN_MARGIN = timedelta(minutes=10)

# Actions. The first five change something; the others only report.
CREATE = "create"        # no live token: issue one
REPLACE = "replace"      # permissions differ (they are immutable): issue a new token, revoke the old
ROTATE = "rotate"        # age, rotate: true, or no store holds a live token's value: issue a new token
COPY = "copy"            # a store lost the value (or holds another token) and another store holds the current one
REVOKE = "revoke"
PURGE = "purge"          # state: absent with purge: remove the value from the stores
KEEP = "keep"
WAIT = "wait"            # a Pending token: wait until it is Active
RETAIN = "retain"        # a token that stays for now (grace period, run in progress, protected)

ISSUING = (CREATE, REPLACE, ROTATE)
CHANGING = ISSUING + (COPY, REVOKE, PURGE)


@dataclass(frozen=True)
class Declared:
    name: str
    state: str = "present"
    description: str = ""
    permissions: tuple = ()
    rotate_after: timedelta | None = None
    rotate: bool = False
    revoke_previous_after: timedelta = timedelta(0)
    force: bool = False
    purge: bool = False

    @property
    def full_description(self) -> str:
        return _identity.compose(self.name, self.description)


@dataclass(frozen=True)
class ActualToken:
    reference_number: str
    status: str
    permissions: tuple
    description: str
    created: datetime

    @classmethod
    def from_api(cls, item: dict) -> "ActualToken":
        """From a QueryTokensResponseItem / TokenStatusResponse."""
        return cls(
            reference_number=item["referenceNumber"],
            status=item["status"],
            permissions=_permissions.canonical(item.get("requestedPermissions")),
            description=item.get("description") or "",
            created=parse_timestamp(item["dateCreated"]),
        )

    def metadata(self) -> dict:
        parsed = _identity.parse(self.description)
        return {
            "name": parsed[0] if parsed else None,
            "reference_number": self.reference_number,
            "status": self.status,
            "permissions": list(self.permissions),
            "description": parsed[1] if parsed else self.description,
            "created": self.created.isoformat(),
        }


@dataclass(frozen=True)
class Holding:
    """What one store holds: its label and the reference number of the token value in it (None: empty)."""
    label: str
    reference_number: str | None


@dataclass(frozen=True)
class Step:
    action: str
    reason: str
    reference_number: str | None = None
    stores: tuple = ()          # labels the step writes (issue, copy) or empties (purge)
    source: str | None = None   # COPY: label of a store that holds the current value

    def as_result(self) -> dict:
        return {"action": self.action, "reason": self.reason, "reference_number": self.reference_number}


@dataclass
class Plan:
    declared: Declared
    steps: list
    current: ActualToken | None
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
        """The token's metadata once the plan is applied (reference number unknown for a new token)."""
        if self.declared.state == "absent":
            return {}
        if self.issue:
            return {
                "name": self.declared.name,
                "reference_number": None,
                "status": ACTIVE,
                "permissions": list(self.declared.permissions),
                "description": self.declared.description,
                "created": None,
            }
        meta = self.before()
        if meta and meta["status"] == PENDING:
            meta["status"] = ACTIVE
        return meta


def parse_timestamp(value: str) -> datetime:
    """KSeF date-times carry an offset and up to 7 fractional digits."""
    text = value.strip().replace("Z", "+00:00")
    fraction = re.search(r"\.(\d+)", text)
    if fraction:
        text = text[:fraction.start(1)] + fraction.group(1)[:6].ljust(6, "0") + text[fraction.end(1):]
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("timestamp without an offset: %r" % value)
    return parsed


def _age(now: datetime, then: datetime) -> str:
    return _durations.describe(max(now - then, timedelta(0)))


def plan(declared: Declared, tokens, holdings, now: datetime, protected=frozenset(),
         margin: timedelta = ORPHAN_MARGIN) -> Plan:
    """The steps that bring KSeF and the stores to the declared state.

    tokens: ActualToken (or API dicts) from the list; unmanaged tokens, other names and dead statuses
    are ignored here, so callers may pass the raw list. holdings: one Holding per declared store.
    protected: reference numbers never revoked unless declared.force (the token this run logged in with).
    """
    tokens = [t if isinstance(t, ActualToken) else ActualToken.from_api(t) for t in tokens]
    live = sorted((t for t in tokens if t.status in LIVE_STATUSES and _identity.name_of(t.description) == declared.name),
                  key=lambda t: t.created, reverse=True)
    holdings = list(holdings)
    if declared.state == "absent":
        return _plan_absent(declared, live, holdings, protected)
    return _plan_present(declared, live, holdings, now, margin)


def _plan_absent(declared, live, holdings, protected) -> Plan:
    steps = []
    for token in live:
        if token.reference_number in protected and not declared.force:
            steps.append(Step(RETAIN, "this run authenticated with this token; set force: true to revoke it",
                              token.reference_number))
            continue
        if token.status == PENDING:
            steps.append(Step(WAIT, "token is Pending; it can be revoked once Active", token.reference_number))
        steps.append(Step(REVOKE, "state is absent", token.reference_number))
    if declared.purge:
        filled = tuple(h.label for h in holdings if h.reference_number)
        if filled:
            steps.append(Step(PURGE, "state is absent and purge is true", None, stores=filled))
    return Plan(declared, steps, live[0] if live else None, live)


def _plan_present(declared, live, holdings, now, margin) -> Plan:
    held = {h.reference_number for h in holdings if h.reference_number}
    by_ref = {t.reference_number: t for t in live}
    if holdings:
        current = next((t for t in live if t.reference_number in held), None)
    else:
        current = live[0] if live else None
    labels = tuple(h.label for h in holdings)
    steps, warnings = [], []

    if current is not None and current.status == PENDING:
        steps.append(Step(WAIT, "token is Pending (activation in progress)", current.reference_number))

    issue = None
    if current is None:
        unheld_active = [t for t in live if t.status == ACTIVE]
        if unheld_active:
            issue = Step(ROTATE, "store drift: no store holds the value of active token %s and a value cannot be "
                                 "fetched again, so a new token is issued" % unheld_active[0].reference_number,
                         unheld_active[0].reference_number, stores=labels)
        else:
            issue = Step(CREATE, "no active token named %r" % declared.name, stores=labels)
    elif current.permissions != tuple(declared.permissions):
        issue = Step(REPLACE, "permissions differ (%s -> %s) and cannot be changed on an existing token"
                     % (",".join(current.permissions) or "none", ",".join(declared.permissions) or "none"),
                     current.reference_number, stores=labels)
    elif declared.rotate:
        issue = Step(ROTATE, "rotation requested (rotate: true)", current.reference_number, stores=labels)
    elif declared.rotate_after is not None and now - current.created >= declared.rotate_after:
        issue = Step(ROTATE, "age %s reached rotate_after %s" % (_age(now, current.created),
                                                                 _durations.describe(declared.rotate_after)),
                     current.reference_number, stores=labels)

    if issue:
        steps.append(issue)
    else:
        missing = [h for h in holdings if h.reference_number != current.reference_number]
        if missing:
            source = next(h.label for h in holdings if h.reference_number == current.reference_number)
            why = "; ".join(_drift(h, by_ref) for h in missing)
            steps.append(Step(COPY, "store drift: %s; copying the current value from %s" % (why, source),
                              current.reference_number, stores=tuple(h.label for h in missing), source=source))
        keep_reason = "active with the declared permissions"
        if declared.rotate_after is not None:
            keep_reason += ", age %s below rotate_after %s" % (_age(now, current.created),
                                                               _durations.describe(declared.rotate_after))
        steps.append(Step(KEEP, keep_reason, current.reference_number))
        text = (_identity.parse(current.description) or (None, ""))[1]
        if text != declared.description.strip():
            warnings.append("the description of token %s differs from the declared one; a token's description "
                            "cannot be changed, the new text is used from the next rotation" % current.reference_number)

    grace = declared.revoke_previous_after
    for token in live:
        if token is current and not issue:
            continue
        ref = token.reference_number
        if token is current or (current is not None and token.created < current.created):
            # Superseded: by the token issued now, or by the current one.
            successor_at = now if token is current else current.created
            due = successor_at + grace
            if now >= due:
                successor = "the new token" if token is current else "current token %s" % current.reference_number
                steps.append(Step(REVOKE, "superseded by %s" % successor, ref))
            else:
                steps.append(Step(RETAIN, "previous token kept until %s (revoke_previous_after %s)"
                                  % (due.isoformat(), _durations.describe(grace)), ref))
        elif now - token.created < margin:
            steps.append(Step(RETAIN, "no store holds it but it was created %s ago; it may belong to a rotation in "
                                      "progress, revoked by a later run once older than %s"
                              % (_age(now, token.created), _durations.describe(margin)), ref))
        elif issue is not None:
            # No store holds any live token: the value is lost, the new token supersedes it.
            due = now + grace
            if grace:
                steps.append(Step(RETAIN, "value lost from the stores; kept until %s (revoke_previous_after %s)"
                                  % (due.isoformat(), _durations.describe(grace)), ref))
            else:
                steps.append(Step(REVOKE, "no store holds its value; superseded by the new token", ref))
        else:
            steps.append(Step(REVOKE, "orphan: newer than the current token, no store holds it, created %s ago"
                              % _age(now, token.created), ref))
    return Plan(declared, steps, current, live, warnings)


def _drift(holding: Holding, by_ref: dict) -> str:
    if not holding.reference_number:
        return "%s holds nothing" % holding.label
    if holding.reference_number in by_ref:
        return "%s holds older token %s" % (holding.label, holding.reference_number)
    return "%s holds %s, which is revoked or unknown" % (holding.label, holding.reference_number)
