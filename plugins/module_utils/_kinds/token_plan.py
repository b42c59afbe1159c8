# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The token planner: declared tokens + the live tokens of one context + what the stores hold + now -> plans.

Pure: no I/O, no clock, no secrets. Check mode, diff and the module result are built from the plans alone;
the engine (`_engine.py`) is the only code that acts on them.

Vocabulary
- live token: a managed token with this name whose status is Pending or Active (Revoking, Revoked and
  Failed tokens can no longer authenticate and are not listed).
- current token: the newest live token some store holds (with no stores: the newest live token).
- previous token: a live token older than the current one; revoked once `revoke_previous_after` has
  passed since its successor was created.
- orphan: a live token newer than the current one that no store holds (a run that died between
  creating a token and storing it). Revoked once older than ORPHAN_MARGIN, so a rotation still in
  progress elsewhere is never cut short.
- context plan: every declared name planned from one list, plus revokes of undeclared tokens (exclusive)
  and adoption of unmanaged tokens whose value a store already holds (adopt). See docs/tokens.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ansible_collections.ksef.credentials.plugins.module_utils import (
    _durations,
    _identity,
    _permissions,
    _plan,
    _timestamps,
)
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._plan import (  # noqa: F401 - the vocabulary, re-exported
    ACTIVE,
    CHANGING,
    COPY,
    CREATE,
    ISSUING,
    KEEP,
    PENDING,
    PURGE,
    REPLACE,
    RETAIN,
    REVOKE,
    ROTATE,
    UNMANAGED,
    WAIT,
    ContextPlan,
    Holding,
    Plan,
    Step,
    Wording,
    copy_step,
    current_of,
    first_issue,
    previous_steps,
    row,
)

# The plan vocabulary is part of this module's interface (tests and _drift.py read it from here).
__all__ = [
    "ACTIVE",
    "CHANGING",
    "COPY",
    "CREATE",
    "ISSUING",
    "KEEP",
    "PENDING",
    "PURGE",
    "REPLACE",
    "RETAIN",
    "REVOKE",
    "ROTATE",
    "UNMANAGED",
    "WAIT",
    "ContextPlan",
    "Holding",
    "Plan",
    "Step",
    "row",
    "LIVE_STATUSES",
    "ORPHAN_MARGIN",
    "EXCLUSIVE_CHOICES",
    "MANAGER_PERMISSION",
    "Declared",
    "ActualToken",
    "plan",
    "plan_context",
    "declare",
]

LIVE_STATUSES = (PENDING, ACTIVE)
ORPHAN_MARGIN = _plan.ORPHAN_MARGIN
EXCLUSIVE_CHOICES = ("false", "managed", "all")
MANAGER_PERMISSION = "CredentialsManage"


@dataclass(frozen=True)
class Declared:
    """One declared token, from the options of its entry (`declare`)."""

    name: str
    state: str = "present"
    description: str = ""
    permissions: tuple = ()
    rotate_after: timedelta | None = None
    rotate: bool = False
    revoke_previous_after: timedelta = timedelta(0)
    force: bool = False
    purge: bool = True

    @property
    def full_description(self) -> str:
        return _identity.compose(self.name, self.description)

    def absent(self) -> dict:
        """The metadata once no token with this name is left."""
        return {"reference_number": None, "status": "absent", "permissions": [], "description": None, "created": None}

    def predicted(self) -> dict:
        """The metadata of the token a run issues for this declaration (KSeF assigns the reference number)."""
        return {
            "name": self.name,
            "reference_number": None,
            "status": ACTIVE,
            "permissions": list(self.permissions),
            "description": self.description,
            "created": None,
        }


@dataclass(frozen=True)
class ActualToken:
    """A token as KSeF lists it; its description carries the marker of a managed token's name."""

    reference_number: str
    status: str
    permissions: tuple
    description: str
    created: datetime

    @classmethod
    def from_api(cls, item: dict) -> ActualToken:
        """From a QueryTokensResponseItem / TokenStatusResponse."""
        return cls(
            reference_number=item["referenceNumber"],
            status=item["status"],
            permissions=_permissions.canonical(item.get("requestedPermissions")),
            description=item.get("description") or "",
            created=_timestamps.parse(item["dateCreated"]),
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


def _age(now: datetime, then: datetime) -> str:
    return _durations.describe(max(now - then, timedelta(0))) or "0s"


WORDING = Wording(
    "token",
    "value",
    "created",
    "rotation",
    lambda delta: _durations.describe(max(delta, timedelta(0))) or "0s",
    _durations.describe,
)


def plan(
    declared: Declared, tokens, holdings, now: datetime, protected=frozenset(), margin: timedelta = ORPHAN_MARGIN
) -> Plan:
    """The steps that bring KSeF and the stores to the declared state.

    tokens: ActualToken (or API dicts) from the list; unmanaged tokens, other names and dead statuses
    are ignored here, so callers may pass the raw list. holdings: one Holding per declared store.
    protected: reference numbers never revoked unless declared.force (the token this run logged in with).
    """
    tokens = [t if isinstance(t, ActualToken) else ActualToken.from_api(t) for t in tokens]
    live = sorted(
        (t for t in tokens if t.status in LIVE_STATUSES and _identity.name_of(t.description) == declared.name),
        key=lambda t: t.created,
        reverse=True,
    )
    holdings = list(holdings)
    if declared.state == "absent":
        return _plan_absent(declared, live, holdings, protected)
    return _plan_present(declared, live, holdings, now, margin)


def _plan_absent(declared, live, holdings, protected) -> Plan:
    steps = []
    for token in live:
        if token.reference_number in protected and not declared.force:
            steps.append(
                Step(
                    RETAIN,
                    "this run authenticated with this token; set force: true to revoke it",
                    token.reference_number,
                )
            )
            continue
        if token.status == PENDING:
            steps.append(Step(WAIT, "token is Pending; it can be revoked once Active", token.reference_number))
        steps.append(Step(REVOKE, "state is absent", token.reference_number))
    if declared.purge:
        # A store keeps a value only while its token lives on (this run logged in with it, for one).
        revoked = {step.reference_number for step in steps if step.action == REVOKE}
        alive = {token.reference_number for token in live} - revoked
        filled = tuple(h.label for h in holdings if h.reference_number and h.reference_number not in alive)
        if filled:
            steps.append(Step(PURGE, "state is absent: the stores keep no revoked token", None, stores=filled))
    return Plan(declared, steps, live[0] if live else None, live)


def _plan_present(declared, live, holdings, now, margin) -> Plan:
    by_ref = {t.reference_number: t for t in live}
    current = current_of(live, holdings)
    labels = tuple(h.label for h in holdings)
    steps, warnings = [], []

    if current is not None and current.status == PENDING:
        steps.append(Step(WAIT, "token is Pending (activation in progress)", current.reference_number))

    issue = None
    if current is None:
        issue = first_issue([t for t in live if t.status == ACTIVE], declared.name, labels, WORDING, ROTATE)
    elif current.permissions != tuple(declared.permissions):
        issue = Step(
            REPLACE,
            "permissions differ (%s -> %s) and cannot be changed on an existing token"
            % (",".join(current.permissions) or "none", ",".join(declared.permissions) or "none"),
            current.reference_number,
            stores=labels,
        )
    elif declared.rotate:
        issue = Step(ROTATE, "rotation requested (rotate: true)", current.reference_number, stores=labels)
    elif declared.rotate_after is not None and now - current.created >= declared.rotate_after:
        issue = Step(
            ROTATE,
            "age %s reached rotate_after %s" % (_age(now, current.created), _durations.describe(declared.rotate_after)),
            current.reference_number,
            stores=labels,
        )

    if issue:
        steps.append(issue)
    else:
        if current is None:  # nothing to issue means a current token exists
            raise AssertionError("no current token and nothing to issue")
        copy = copy_step(current, holdings, lambda h: _drift(h, by_ref), "value")
        if copy is not None:
            steps.append(copy)
        keep_reason = "active with the declared permissions"
        if declared.rotate_after is not None:
            keep_reason += ", age %s below rotate_after %s" % (
                _age(now, current.created),
                _durations.describe(declared.rotate_after),
            )
        steps.append(Step(KEEP, keep_reason, current.reference_number))
        text = (_identity.parse(current.description) or (None, ""))[1]
        if text != declared.description.strip():
            warnings.append(
                "the description of token %s differs from the declared one; a token's description "
                "cannot be changed, the new text is used from the next rotation" % current.reference_number
            )

    steps += previous_steps(live, current, issue, now, declared.revoke_previous_after, margin, WORDING)
    return Plan(declared, steps, current, live, warnings)


def _drift(holding: Holding, by_ref: dict) -> str:
    if not holding.reference_number:
        return "%s holds nothing" % holding.label
    if holding.reference_number in by_ref:
        return "%s holds older token %s" % (holding.label, holding.reference_number)
    return "%s holds %s, which is revoked or unknown" % (holding.label, holding.reference_number)


# -- one context ----------------------------------------------------------------------------------------------


def plan_context(
    declared,
    tokens,
    holdings: dict,
    now: datetime,
    exclusive: str = "false",
    adopt: bool = False,
    protected=frozenset(),
    auth_token_unknown: bool = False,
    revoke_auth_token: bool = False,
    margin=ORPHAN_MARGIN,
    guard_option: str = "revoke_auth_token",
) -> ContextPlan:
    """Plan every declared token of one context from one list of its tokens.

    declared: Declared in declared order (unique names). tokens: ActualToken or API items, managed or not.
    holdings: name -> [Holding] for the stores of that token. protected: reference numbers of the token this run
    logged in with. auth_token_unknown: the session was opened elsewhere (auth.access_token), so any token that
    holds CredentialsManage may be the one behind it and is kept unless revoke_auth_token. guard_option: the name
    of that option in the module's own words (`force` in ksef.credentials.token).
    """
    if exclusive not in EXCLUSIVE_CHOICES:
        raise ValueError("exclusive must be one of %s" % ", ".join(EXCLUSIVE_CHOICES))
    live = [t if isinstance(t, ActualToken) else ActualToken.from_api(t) for t in tokens]
    live = [t for t in live if t.status in LIVE_STATUSES]
    maybe_auth = set()
    if auth_token_unknown:
        maybe_auth = {t.reference_number for t in live if MANAGER_PERMISSION in t.permissions}
    guarded = set(protected) | maybe_auth
    result = ContextPlan(declared={})

    claimed: set[str] = set()
    for decl in declared:
        view, adopted, note = live, None, None
        if adopt and decl.state == "present":
            adopted, candidate = _adoptable(decl, live, holdings.get(decl.name, []), claimed)
            if adopted is not None:
                claimed.add(adopted.reference_number)
                result.adopted[decl.name] = adopted.reference_number
                view = [replace(t, description=decl.full_description) if t is adopted else t for t in live]
            elif candidate is not None:
                note = (
                    "unmanaged token %s has the declared description and permissions, but no store of this token "
                    "holds its value; adopting needs the value in a store (a value starts with its reference "
                    "number)" % candidate.reference_number
                )
        one = plan(
            replace(decl, force=decl.force or revoke_auth_token),
            view,
            holdings.get(decl.name, []),
            now,
            protected=guarded,
            margin=margin,
        )
        one.steps = [_explain(step, adopted, note, protected, maybe_auth, guard_option) for step in one.steps]
        if note and one.issue is not None and one.issue.action == CREATE:
            one.warnings.append("%s: %s, so a new token is created" % (decl.name, note))
        result.declared[decl.name] = one
        result.warnings += one.warnings

    if exclusive == "false":
        return result
    names = set(result.declared)
    undeclared = sorted({name for name in (_identity.name_of(t.description) for t in live) if name} - names)
    for name in undeclared:
        gone = Declared(name=name, state="absent", force=revoke_auth_token)
        # Its stores are known only from a store template (the engine passes their holdings under its name).
        one = plan(gone, live, holdings.get(name, []), now, protected=guarded, margin=margin)
        why = "not declared (exclusive: %s)" % exclusive
        one.steps = [
            _explain(
                replace(s, reason=why if s.action == REVOKE else "%s: the stores keep no revoked token" % why)
                if s.action in (REVOKE, PURGE)
                else s,
                None,
                None,
                protected,
                maybe_auth,
                guard_option,
            )
            for s in one.steps
        ]
        result.undeclared.append(one)
    if exclusive == "all":
        for token in live:
            if _identity.name_of(token.description) is not None or token.reference_number in claimed:
                continue
            for step in _unmanaged_steps(token, guarded, revoke_auth_token):
                result.unmanaged.append((token, _explain(step, None, None, protected, maybe_auth, guard_option)))
    return result


def _adoptable(decl, live, holdings, claimed):
    """(token to adopt, None) when a store holds its value; (None, a matching token) when none does."""
    held = {h.reference_number for h in holdings if h.reference_number}
    matching = [
        t
        for t in sorted(live, key=lambda t: t.created, reverse=True)
        if t.status == ACTIVE
        and _identity.name_of(t.description) is None
        and t.description.strip() == decl.description
        and t.permissions == tuple(decl.permissions)
        and t.reference_number not in claimed
    ]
    chosen = next((t for t in matching if t.reference_number in held), None)
    if chosen is not None:
        return chosen, None
    return None, (matching[0] if matching else None)


def _unmanaged_steps(token, guarded, revoke_auth_token) -> list:
    ref = token.reference_number
    if ref in guarded and not revoke_auth_token:
        return [Step(RETAIN, "", ref)]
    steps = [Step(WAIT, "token is Pending; it can be revoked once Active", ref)] if token.status == PENDING else []
    description = token.description.strip() or "without a description"
    return steps + [Step(REVOKE, "unmanaged token %r not declared (exclusive: all)" % description, ref)]


def _explain(step, adopted, note, protected, maybe_auth, guard_option) -> Step:
    """Reasons in the module's words: adoption, and the auth token guard (named `guard_option` there)."""
    if (
        step.action == RETAIN
        and step.reference_number in protected | maybe_auth
        and (not step.reason or step.reason.startswith("this run authenticated"))
    ):
        if step.reference_number in protected:
            return replace(
                step, reason="this run authenticated with this token; set %s: true to revoke it" % guard_option
            )
        return replace(
            step,
            reason="the session was opened elsewhere (auth.access_token) and KSeF does not say "
            "with which token; this token holds CredentialsManage, so it may be that one "
            "and is kept; set %s: true to revoke it" % guard_option,
        )
    if adopted is not None and step.action == KEEP and step.reference_number == adopted.reference_number:
        return replace(
            step,
            reason="adopted: unmanaged token with the declared description and permissions whose "
            "value a store of this token holds; " + step.reason,
        )
    if note and step.action == CREATE:
        return replace(step, reason="%s; %s" % (step.reason, note))
    return step


# -- one declaration from options ----------------------------------------------------------------------------


def declare(options: dict) -> Declared:
    """The declared token from the options of one entry; KsefConfigError naming the option before any API call."""
    name = _identity.validate_name(options.get("name"))
    permissions = _permissions.normalise(options.get("permissions"))
    rotate_after = _durations.parse(options.get("rotate_after"), "rotate_after")
    grace = _durations.parse(options.get("revoke_previous_after"), "revoke_previous_after") or timedelta(0)
    declared = Declared(
        name=name,
        state=options.get("state") or "present",
        description=(options.get("description") or "").strip(),
        permissions=permissions,
        rotate_after=rotate_after,
        rotate=bool(options.get("rotate")),
        revoke_previous_after=grace,
        force=bool(options.get("force")),
        purge=options.get("purge") is not False,
    )
    declared.full_description  # noqa: B018 - the 256-character limit, checked now
    if declared.state == "present" and not permissions:
        raise KsefConfigError("permissions", "permissions must list at least one permission when state is present")
    return declared
