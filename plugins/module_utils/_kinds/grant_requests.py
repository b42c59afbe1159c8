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


def budget(cplan: p.ContextPlan) -> tuple:
    """(line for people, warnings): the permission calls the plan needs, per operation, against KSeF's 120 an
    hour per operation."""
    calls: dict = {}
    for plan in cplan.declared.values():
        if plan.issue is not None:
            key = "POST " + GRANT_ENDPOINT[plan.declared.kind]
            calls[key] = calls.get(key, 0) + 1
    kinds = {row.reference_number: row.kind for plan in cplan.plans() for row in plan.live}
    kinds.update({row.reference_number: row.kind for row, _step in cplan.unmanaged})
    for ref in revokes(cplan):
        key = "DELETE " + (REVOKE_AUTHORIZATION_ENDPOINT if kinds.get(ref) == "authorization" else REVOKE_ENDPOINT)
        calls[key] = calls.get(key, 0) + 1
    operations = sum(calls.values())
    if not operations:
        return "", []
    parts = ["%s %d" % (key, count) for key, count in sorted(calls.items())]
    parts.append("GET %s at least %d" % (STATUS_ENDPOINT, operations))
    line = "Calls: %s (KSeF allows %d an hour per operation and context)." % (", ".join(parts), HOURLY_LIMIT)
    over = [key for key, count in calls.items() if count > HOURLY_LIMIT]
    warnings = [
        "%s: the plan needs %d calls, more than the %d an hour KSeF allows; the run waits when KSeF answers 429, or"
        " split the grants over several runs" % (key, calls[key], HOURLY_LIMIT)
        for key in over
    ]
    return line, warnings
