# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an auditor sees of the KSeF tokens of a context (`_audit.Audit`): token_info's inventory and the tokens'
part of the audit report.

token_info lists every token of the context (one paged GET /tokens, with the filters KSeF applies itself unless
the drift needs every token), judges them with `_drift.py` and the end of token authentication, and shows each
declared token with what its stores hold.
"""

from __future__ import annotations

from ansible_collections.ksef.credentials.plugins.module_utils import (
    _drift,
    _durations,
    _identity,
    _report_template,
    _token_auth_end,
)
from ansible_collections.ksef.credentials.plugins.module_utils._audit import Audit, Part, Scan
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import token_plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token import TOKEN
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token_schema import TOKEN_OPTIONS
from ansible_collections.ksef.credentials.plugins.module_utils._module import TOKENS_NOT_IN_NIP_VAT_UE

MIN_FILTER = 3  # KSeF's description and authorIdentifier filters need at least 3 characters
LIVE = ("Pending", "Active")


def server_filters(params: dict, whole_context: bool) -> dict:
    """Filters KSeF applies itself; none when the drift needs every token of the context."""
    if whole_context:
        return {}
    names = params.get("name") or []
    description = params.get("description")
    if not description and len(names) == 1:
        description = _identity.marker(names[0])
    author = params.get("author")
    return {
        "statuses": params.get("status"),
        "description": description if description and len(description) >= MIN_FILTER else None,
        "author_identifier": author if author and len(author) >= MIN_FILTER else None,
        "author_identifier_type": params.get("author_type") if author and len(author) >= MIN_FILTER else None,
    }


def matches(row: dict, item: dict, params: dict) -> bool:
    """Every filter, applied here too: the server applies some only, and never `name` or `managed` exactly."""
    if params.get("status") and row["status"] not in params["status"]:
        return False
    if params.get("name") and row["name"] not in params["name"]:
        return False
    if params.get("managed") is not None and row["managed"] != params["managed"]:
        return False
    text = (params.get("description") or "").lower()
    if text and text not in (item.get("description") or "").lower():
        return False
    author = (params.get("author") or "").lower()
    if author and author not in (row["author"]["value"] or "").lower():
        return False
    return not (params.get("author_type") and row["author"]["type"] != params["author_type"])


def login_token(module) -> str | None:
    """The reference number of the KSeF token this task logged in with, if it did (also through a session handed
    over by ksef.credentials.session)."""
    return module.login_token_reference


class TokenAudit(Audit):
    kind = TOKEN
    info_module = "token_info"
    catalogue = _drift.CATALOGUE
    titles = {
        _drift.MISSING: "Missing",
        _drift.SCOPE_DIFFERS: "Scope differs",
        _drift.STORE_MISSING: "Store empty",
        _drift.STORE_STALE: "Store stale",
        _drift.ROTATION_OVERDUE: "Rotation overdue",
        _drift.EXTRA_MANAGED: "Extra managed",
        _drift.UNMANAGED: "Unmanaged",
        _drift.UNUSED: "Unused",
        _drift.TOKEN_AUTH_END: "Token auth end",
    }
    findings_key = "findings"
    error_key = "error"
    count_prefix = ""
    store_option = TOKEN_OPTIONS["store"]
    card = "tokens listed"
    extra_keys = ("declared_tokens",)
    html = _report_template.TOKENS
    schema_defs = ("token", "finding", "counts")
    time_key = "created"

    # -- the inventory (token_info) -----------------------------------------------------------------------------

    def check(self, module) -> None:
        module.refuse_context_type("NipVatUe", TOKENS_NOT_IN_NIP_VAT_UE)

    def policy(self, params: dict) -> _drift.Policy:
        return _drift.Policy(
            rotate_after=_durations.parse(params.get("rotate_after"), "rotate_after"),
            unused_after=_durations.parse(params.get("unused_after"), "unused_after"),
        )

    def read(self, module, api, scan: Scan) -> list:
        return api.list_tokens(**server_filters(module.params, whole_context=bool(scan.entries)))

    def findings(self, module, scan: Scan) -> list:
        found = []
        if scan.entries or scan.policy.rotate_after or scan.policy.unused_after:
            found = _drift.drift(scan.declared, scan.live, scan.holdings, scan.now, scan.policy)
        # Every live token, and the token this task logged in with, against the end of token authentication.
        return found + _drift.token_auth_end(scan.live, module.token_auth_end, scan.now, login_token(module))

    def rows(self, module, scan: Scan) -> list:
        by_name = {entry.declared.name: entry.declared for entry in scan.entries}
        rows = []
        for item in scan.live:
            name = _identity.name_of(item.get("description"))
            declared = by_name.get(name)
            rotate_after = declared.rotate_after if declared and declared.rotate_after else scan.policy.rotate_after
            row = _drift.token_row(item, scan.now, rotate_after, scan.policy.unused_after)
            if not matches(row, item, module.params):
                continue
            row["declared"] = declared is not None and declared.state == "present"
            row["stores"] = [
                h.label for h in scan.holdings.get(name, []) if h.reference_number == row["reference_number"]
            ]
            row["token_auth_end"] = (
                _token_auth_end.describe(module.token_auth_end, scan.now) if row["status"] in p.LIVE_STATUSES else None
            )
            rows.append(row)
        return rows

    def own_summary(self, rows: list) -> dict:
        return {
            "live": sum(1 for r in rows if r["status"] in p.LIVE_STATUSES),
            "unmanaged": sum(1 for r in rows if not r["managed"]),
        }

    def declared_view(self, scan: Scan) -> list:
        return declared_view(scan)

    def extra(self, module, scan: Scan) -> dict:
        # The older view, kept as it was (the report keeps it too): `declared` without its common `references`.
        return {"declared_tokens": [{k: v for k, v in d.items() if k != "references"} for d in declared_view(scan)]}

    # -- the report part ----------------------------------------------------------------------------------------

    def part(self, result: dict) -> Part:
        found = super().part(result)
        declared = [] if found.error else [dict(d) for d in result.get("declared_tokens") or []]
        return Part(found.rows, found.findings, found.error, {"declared_tokens": declared})

    def counts(self, part: Part) -> dict:
        rows = part.rows
        return {
            "tokens": len(rows),
            "live": sum(1 for t in rows if t.get("status") in LIVE),
            "managed": sum(1 for t in rows if t.get("managed")),
            "unmanaged": sum(1 for t in rows if not t.get("managed")),
            "declared": sum(1 for d in part.extra.get("declared_tokens") or [] if d.get("state") == "present"),
            "findings": self.finding_counts(part.findings),
            "findings_total": len(part.findings),
            "errors": sum(1 for f in part.findings if f.get("severity") == "error"),
        }

    def csv_rows(self, part_rows: list) -> list:
        out = []
        for token in part_rows:
            author = token.get("author") or {}
            out.append(
                dict(token, author="%s:%s" % (author.get("type"), author.get("value")) if author.get("value") else None)
            )
        return out

    def html_context(self, report: dict) -> dict:
        severity = self.catalogue.severity
        return {
            "kinds": list(self.catalogue.order),
            "titles": self.titles,
            "severity": severity,
            "worst": lambda kinds: "error" if any(severity.get(k) == "error" for k in kinds) else "warning",
            "findings_count": sum(len(c["findings"]) for c in report["contexts"]),
            "declared_count": sum(len(c["declared_tokens"]) for c in report["contexts"]),
        }


def declared_view(scan: Scan) -> list:
    """Each declared token with its tokens in force, its current one (as the planner sees it) and what each store
    holds."""
    view = []
    for entry in scan.entries:
        declared = entry.declared
        held = scan.holdings.get(declared.name, [])
        plan = p.plan(declared, scan.live, held, scan.now)
        current = plan.current.reference_number if plan.current else None
        in_force = [
            item["referenceNumber"]
            for item in scan.live
            if item.get("status") in p.LIVE_STATUSES and _identity.name_of(item.get("description")) == declared.name
        ]
        view.append(
            {
                "name": declared.name,
                "state": declared.state,
                "references": in_force,
                "permissions": list(declared.permissions),
                "rotate_after": _durations.describe(declared.rotate_after),
                "reference_number": current,
                "stores": [
                    {
                        "label": h.label,
                        "reference_number": h.reference_number,
                        "holds_current": bool(current) and h.reference_number == current,
                    }
                    for h in held
                ],
            }
        )
    return view


TOKEN_AUDIT = TokenAudit()
