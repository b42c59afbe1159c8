# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drift: what differs between the declared tokens, the rotation/usage policy and what KSeF and the stores hold.

Pure: no I/O, no clock, no secrets. Input is the raw `GET /tokens` list of one context, the declared tokens
(`_plan.Declared`), what each declared token's stores hold (`_plan.Holding`) and `now`. The planner decides
which token is current and which ones a run would revoke; this module only names the differences.

Finding kinds (one context):
- missing: a token declared present has no live (Pending/Active) token.
- extra_managed: a live managed token that is not declared, declared absent, or superseded by the current one.
- unmanaged: a live token without a `[ksef.credentials:NAME]` marker (created by hand or by another tool).
- scope_differs: the current token's permissions are not the declared ones.
- rotation_overdue: the current token is older than its `rotate_after` (or the policy's, for other tokens).
- unused: a live token not used for `unused_after` (never used: counted from its creation).
- store_missing: a store of a declared token holds no value.
- store_stale: a store holds a token that is not the current one (older, revoked or unknown).
- token_auth_end: every live token, and the token a run logs in with: the days left until the end of token
  authentication (`_token_auth_end.py`); info before, warning within 30 days, error once past.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ansible_collections.ksef.credentials.plugins.module_utils import (
    _durations,
    _identity,
    _permissions,
    _timestamps,
    _token_auth_end,
)
from ansible_collections.ksef.credentials.plugins.module_utils._findings import Catalogue
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import token_plan as p

MISSING = "missing"
EXTRA_MANAGED = "extra_managed"
UNMANAGED = "unmanaged"
SCOPE_DIFFERS = "scope_differs"
ROTATION_OVERDUE = "rotation_overdue"
UNUSED = "unused"
STORE_MISSING = "store_missing"
STORE_STALE = "store_stale"
TOKEN_AUTH_END = "token_auth_end"

# Report order, most serious first. `error`: a consumer breaks or a secret is at risk; `warning`: housekeeping.
KINDS = (
    MISSING,
    SCOPE_DIFFERS,
    STORE_MISSING,
    STORE_STALE,
    ROTATION_OVERDUE,
    EXTRA_MANAGED,
    UNMANAGED,
    UNUSED,
    TOKEN_AUTH_END,
)
SEVERITY = {
    MISSING: "error",
    SCOPE_DIFFERS: "error",
    STORE_MISSING: "error",
    STORE_STALE: "error",
    ROTATION_OVERDUE: "error",
    EXTRA_MANAGED: "warning",
    UNMANAGED: "warning",
    UNUSED: "warning",
    TOKEN_AUTH_END: "info",  # by the days left: _token_auth_end.severity
}


CATALOGUE = Catalogue(KINDS, SEVERITY, "reference_number")
Finding = CATALOGUE.finding  # Finding(kind, message, name, reference, store)


@dataclass(frozen=True)
class Policy:
    """Rules for every live token: rotate_after applies to tokens whose declaration sets none."""

    rotate_after: timedelta | None = None
    unused_after: timedelta | None = None


def days(delta: timedelta) -> int:
    return max(int(delta.total_seconds() // 86400), 0)


def last_used(item: dict) -> datetime | None:
    value = item.get("lastUseDate")
    return _timestamps.parse(value) if value else None


def token_row(item: dict, now: datetime, rotate_after: timedelta | None, unused_after: timedelta | None) -> dict:
    """The facts an auditor reads about one listed token (API item); no finding logic beyond the two clocks."""
    token = p.ActualToken.from_api(item)
    parsed = _identity.parse(token.description)
    used = last_used(item)
    idle_since = used or token.created
    author = item.get("authorIdentifier") or {}
    live = token.status in p.LIVE_STATUSES
    return {
        "reference_number": token.reference_number,
        "name": parsed[0] if parsed else None,
        "managed": parsed is not None,
        "description": parsed[1] if parsed else token.description,
        "permissions": list(token.permissions),
        "status": token.status,
        "status_details": list(item.get("statusDetails") or []),
        "author": {"type": author.get("type"), "value": author.get("value")},
        "created": token.created.isoformat(),
        "last_used": used.isoformat() if used else None,
        "age_days": days(now - token.created),
        "unused_days": days(now - idle_since),
        "rotate_after": _durations.describe(rotate_after),
        "rotation_due": (live and now - token.created >= rotate_after) if rotate_after is not None else None,
        "rotation_due_at": (token.created + rotate_after).isoformat() if rotate_after is not None else None,
        "unused_after": _durations.describe(unused_after),
        "unused": (live and now - idle_since >= unused_after) if unused_after is not None else None,
    }


def token_auth_end(items, end, now: datetime, login: str | None = None) -> list:
    """One finding per live token (API items), and one for the token this run logged in with (`login`, its
    reference number) when it is not among them: the days left until `end`, the last day tokens authenticate."""
    found = []
    severity = _token_auth_end.severity(end, now)
    left = _token_auth_end.describe(end, now)
    listed = set()
    for item in items:
        if item.get("status") not in p.LIVE_STATUSES:
            continue
        ref = item["referenceNumber"]
        listed.add(ref)
        used = "; this run logged in with it" if ref == login else ""
        message = "%s%s" % (left, used)
        found.append(Finding(TOKEN_AUTH_END, message, _identity.name_of(item.get("description")), ref, None, severity))
    if login and login not in listed:
        found.append(Finding(TOKEN_AUTH_END, "%s; this run logged in with it" % left, None, login, None, severity))
    return found


def drift(declared, items, holdings: dict, now: datetime, policy: Policy = Policy()) -> list:
    """Findings for one context. declared: Declared list, or None when nothing is declared (then only the
    policy applies: no token is extra or unmanaged for lack of a declaration); items: raw API token dicts
    (any status); holdings: name -> [Holding] for each declared token's stores. Sorted by KINDS, then name."""
    live_items = [i for i in items if i.get("status") in p.LIVE_STATUSES]
    tokens = [p.ActualToken.from_api(i) for i in live_items]
    judged = declared is not None
    declared = list(declared or [])
    by_name = {d.name: d for d in declared}
    findings = []

    for d in declared:
        plan = p.plan(d, tokens, holdings.get(d.name, []), now)
        if d.state == "absent":
            findings += [
                Finding(EXTRA_MANAGED, "declared absent but still %s" % t.status, d.name, t.reference_number)
                for t in plan.live
            ]
            alive = {t.reference_number for t in plan.live}
            findings += [
                Finding(
                    STORE_STALE,
                    "%s still holds %s, a revoked or unknown token (declared absent)" % (h.label, h.reference_number),
                    d.name,
                    h.reference_number,
                    h.label,
                )
                for h in holdings.get(d.name, [])
                if h.reference_number and h.reference_number not in alive
            ]
            continue
        findings += _present(d, plan, holdings.get(d.name, []), now)

    for item, token in zip(live_items, tokens):
        name = _identity.name_of(token.description)
        if judged and name is None:
            findings.append(
                Finding(
                    UNMANAGED,
                    "no [ksef.credentials:NAME] marker in its description; not managed from code",
                    None,
                    token.reference_number,
                )
            )
        elif judged and name not in by_name:
            findings.append(
                Finding(
                    EXTRA_MANAGED,
                    "managed token %r is not declared for this context" % name,
                    name,
                    token.reference_number,
                )
            )
        declared_rotation = by_name[name].rotate_after if name in by_name else None
        if declared_rotation is None and policy.rotate_after is not None and now - token.created >= policy.rotate_after:
            findings.append(
                Finding(
                    ROTATION_OVERDUE,
                    "age %s reached the policy's rotate_after %s"
                    % (_durations.describe(now - token.created), _durations.describe(policy.rotate_after)),
                    name,
                    token.reference_number,
                )
            )
        if policy.unused_after is not None:
            used = last_used(item)
            idle = now - (used or token.created)
            if idle >= policy.unused_after:
                since = (
                    "last used %s ago" % _durations.describe(idle)
                    if used
                    else "never used, created %s ago" % _durations.describe(idle)
                )
                findings.append(
                    Finding(
                        UNUSED,
                        "%s (unused_after %s)" % (since, _durations.describe(policy.unused_after)),
                        name,
                        token.reference_number,
                    )
                )
    return sorted(findings, key=lambda f: (KINDS.index(f.kind), f.name or "", f.reference or "", f.store or ""))


def _present(d: p.Declared, plan: p.Plan, holdings: list, now: datetime) -> list:
    if not plan.live:
        return [Finding(MISSING, "declared but no Pending or Active token named %r exists" % d.name, d.name)]
    found = []
    # With stores, the planner's current token is the newest one a store holds; none held: judge the newest.
    current = plan.current or plan.live[0]
    if current.permissions != tuple(d.permissions):
        found.append(
            Finding(
                SCOPE_DIFFERS,
                "token %r has permissions %s, declared %s"
                % (
                    d.name,
                    ",".join(current.permissions) or "none",
                    ",".join(_permissions.canonical(d.permissions)) or "none",
                ),
                d.name,
                current.reference_number,
            )
        )
    if d.rotate_after is not None and now - current.created >= d.rotate_after:
        found.append(
            Finding(
                ROTATION_OVERDUE,
                "age %s reached rotate_after %s"
                % (_durations.describe(now - current.created), _durations.describe(d.rotate_after)),
                d.name,
                current.reference_number,
            )
        )
    for holding in holdings:
        if not holding.reference_number:
            found.append(
                Finding(
                    STORE_MISSING,
                    "%s holds no token value" % holding.label,
                    d.name,
                    current.reference_number,
                    holding.label,
                )
            )
        elif plan.current is None or holding.reference_number != plan.current.reference_number:
            state = (
                "an older live token"
                if holding.reference_number in {t.reference_number for t in plan.live}
                else "a revoked or unknown token"
            )
            found.append(
                Finding(
                    STORE_STALE,
                    "%s holds %s (%s), not the current token %s"
                    % (holding.label, holding.reference_number, state, current.reference_number),
                    d.name,
                    current.reference_number,
                    holding.label,
                )
            )
    # Tokens of this name the next run would revoke (superseded, orphans): the planner says why.
    for step in plan.of(p.REVOKE):
        if step.reference_number != current.reference_number:
            found.append(Finding(EXTRA_MANAGED, step.reason, d.name, step.reference_number))
    return found


summary = CATALOGUE.summary
