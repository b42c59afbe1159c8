# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The requests of the seven kinds of grant: the grant request of each kind, the revoke of its rows, and the
calls a plan needs against KSeF's hourly limit (pure: bodies and counts, no I/O)."""

from __future__ import annotations

from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_declared import ALL_PARTNERS, Declared

# The grant request of each kind, and the revoke of its rows.
GRANT_ENDPOINT = {
    "person": "/permissions/persons/grants",
    "entity": "/permissions/entities/grants",
    "indirect": "/permissions/indirect/grants",
    "authorization": "/permissions/authorizations/grants",
    "subunit": "/permissions/subunits/grants",
    "eu_administrator": "/permissions/eu-entities/administration/grants",
    "eu_representative": "/permissions/eu-entities/grants",
}
REVOKE_ENDPOINT = "/permissions/common/grants/{permissionId}"
REVOKE_AUTHORIZATION_ENDPOINT = "/permissions/authorizations/grants/{permissionId}"
STATUS_ENDPOINT = "/permissions/operations/{referenceNumber}"
HOURLY_LIMIT = 120  # x-rate-limits of every /permissions operation, per context and endpoint
# The listings after the grants ended: the list can lag behind status 200, but KSeF ignores a duplicate grant and
# then never lists a new row, so the wait for the rows is bounded.
LISTINGS_AFTER_GRANT = 3


def revokes(cplan: p.ContextPlan) -> list:
    """The permissionIds the plan revokes."""
    found = [step.reference_number for plan in cplan.plans() for step in plan.steps if step.action == p.REVOKE]
    return found + [step.reference_number for _row, step in cplan.unmanaged if step.action == p.REVOKE]


def grant_request(decl: Declared, scopes: list, context_nip: str | None = None) -> dict:
    """The body of the grant of `scopes` to `decl`'s subject (POST GRANT_ENDPOINT[decl.kind]); `context_nip` is
    the NIP of the context granting it (the NipVatUe context of an EU administrator starts with it)."""
    details = dict(decl.request_details)
    body: dict = {
        "subjectIdentifier": {"type": decl.subject_type, "value": decl.subject_value},
        "description": decl.full_description,
        "subjectDetails": details,
    }
    if decl.kind == "entity":
        body["permissions"] = [{"type": scope, "canDelegate": decl.can_delegate} for scope in scopes]
    elif decl.kind == "authorization":
        (body["permission"],) = scopes
    elif decl.kind == "eu_administrator":  # every permission comes with it
        entity = dict(decl.eu_entity)
        body["contextIdentifier"] = {"type": "NipVatUe", "value": "%s-%s" % (context_nip, decl.target[1])}
        body["euEntityName"] = entity["euEntityName"]
        body["euEntityDetails"] = {"fullName": entity["fullName"], "address": entity["address"]}
    elif decl.kind == "subunit":  # CredentialsManage comes with it
        body["contextIdentifier"] = {"type": decl.target[0], "value": decl.target[1]}
        if decl.subunit_name:
            body["subunitName"] = decl.subunit_name
    else:
        body["permissions"] = list(scopes)
    if decl.kind == "indirect":
        body["targetIdentifier"] = (
            {"type": ALL_PARTNERS} if decl.target[0] == ALL_PARTNERS else {"type": "Nip", "value": decl.target[1]}
        )
    return body


def calls(cplan: p.ContextPlan, nip_vat_ue: bool = False, tokens_listed: bool = False) -> dict:
    """ "METHOD /path" -> the calls the run sends to carry the plan out (at least: a status read per operation and
    round, a listing per lagging round): each grant and revoke, a status read per operation, the rows listed again
    after the grants, and the GET /tokens of the dependency check (`tokens_listed`)."""
    needed: dict = {}

    def add(key: str, count: int = 1) -> None:
        needed[key] = needed.get(key, 0) + count

    kinds = {row.reference_number: row.kind for plan in cplan.plans() for row in plan.live}
    kinds.update({row.reference_number: row.kind for row, _step in cplan.unmanaged})
    granted = set()
    for plan in cplan.declared.values():
        if plan.issue is not None:
            add("POST " + GRANT_ENDPOINT[plan.declared.kind])
            granted.add(plan.declared.kind)
    for ref in revokes(cplan):
        add("DELETE " + (REVOKE_AUTHORIZATION_ENDPOINT if kinds.get(ref) == "authorization" else REVOKE_ENDPOINT))
    operations = sum(needed.values())
    if not operations:
        return {}
    add("GET " + STATUS_ENDPOINT, operations)
    if granted:  # activate lists the rows again once the grants ended, up to LISTINGS_AFTER_GRANT times
        add(
            "POST " + (LIST_ENDPOINT["eu_administrator"] if nip_vat_ue else LIST_ENDPOINT["person"]),
            LISTINGS_AFTER_GRANT,
        )
        for kind in sorted(granted & {"authorization", "subunit", "eu_administrator"}):
            if not (nip_vat_ue and kind == "eu_administrator"):
                add("POST " + LIST_ENDPOINT[kind], LISTINGS_AFTER_GRANT)
    if tokens_listed:
        add("GET /tokens")
    return needed


# The listings of the rows of each kind (the other kinds are listed by the persons' one).
LIST_ENDPOINT = {
    "person": "/permissions/query/persons/grants",
    "authorization": "/permissions/query/authorizations/grants",
    "subunit": "/permissions/query/subunits/grants",
    "eu_administrator": "/permissions/query/eu-entities/grants",
}


def _order(key: str) -> tuple:
    """Grants and revokes first (by name), then the status reads, then the other reads."""
    if key.startswith("GET " + STATUS_ENDPOINT):
        return (1, key)
    if key.startswith("DELETE ") or (key.startswith("POST ") and "/query/" not in key):
        return (0, key)
    return (2, key)


def budget(cplan: p.ContextPlan, left=None, nip_vat_ue: bool = False, tokens_listed: bool = False) -> tuple:
    """(line for people, warnings): the calls the run needs per operation against KSeF's hourly limit, and what is
    left of it in this context (`left`: "METHOD /path" -> (left, limit) from the shared pacing state, or None)."""
    needed = calls(cplan, nip_vat_ue, tokens_listed)
    if not needed:
        return "", []
    left = left or (lambda key: None)
    parts = []
    for key in sorted(needed, key=_order):
        bound = "at least " if key.startswith("GET " + STATUS_ENDPOINT) else "up to " if "/query/" in key else ""
        parts.append("%s %s%d" % (key, bound, needed[key]))
    line = "Calls: %s" % ", ".join(parts)
    rooms = {key: left(key) for key in sorted(needed, key=_order)}
    known = {key: room for key, room in rooms.items() if room is not None}
    if known:
        line += "; left this hour in this context: %s" % ", ".join("%s %d" % (k, r[0]) for k, r in known.items())
    line += " (KSeF allows %d an hour per operation and context)." % HOURLY_LIMIT
    warnings = []
    for key in sorted(needed, key=_order):
        limit = known[key][1] if key in known else HOURLY_LIMIT
        if needed[key] > limit:
            warnings.append(
                "%s: the plan needs %d calls, more than the %d an hour KSeF allows; split the grants over several"
                " runs" % (key, needed[key], limit)
            )
        elif key in known and needed[key] > known[key][0]:
            warnings.append(
                "%s: the plan needs %s%d calls, and only %d of the %d an hour are left in this context now; the run"
                " refuses before any change when they do not fit max_retry_wait: run it later, or split the grants"
                " over several runs"
                % (key, "at least " if key.startswith("GET ") else "", needed[key], known[key][0], limit)
            )
    return line, warnings
