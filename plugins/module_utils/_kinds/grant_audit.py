# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an auditor sees of the permission grants of a context (`_audit.Audit`): permission_info's inventory and
the grants' part of the audit report.

permission_info lists every permission row of the context (the four listings, or in a NipVatUe context the rows
its administrator may list) and judges them with `grant_drift.py`; a KSeF-token login adds the finding about the
end of token authentication, which the report leaves to the tokens.
"""

from __future__ import annotations

from ansible_collections.ksef.credentials.plugins.module_utils import _drift, _report_template
from ansible_collections.ksef.credentials.plugins.module_utils._audit import Audit, Part, Scan
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import grant_drift
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant import (
    APART,
    GrantKind,
    listed_apart,
    listed_in_nip_vat_ue,
)
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_rows import ACTIVE, GrantRow
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token_audit import login_token


def _subject_label(subject) -> str | None:
    """`nip:5265877635 (Biuro Rachunkowe)`: a grant's subject with the name KSeF lists for it."""
    if not subject:
        return None
    ids = [(k, v) for k, v in subject.items() if k not in ("first_name", "last_name", "full_name")]
    named = " ".join(str(subject[k]) for k in ("first_name", "last_name", "full_name") if subject.get(k))
    text = " ".join("%s:%s" % pair for pair in ids)
    return "%s (%s)" % (text, named) if named else text


class GrantAudit(Audit):
    kind = GrantKind()
    catalogue = grant_drift.CATALOGUE
    titles = {
        grant_drift.UNDECLARED_MANAGER: "Undeclared manager",
        grant_drift.MISSING: "Missing",
        grant_drift.DIFFERS: "Differs",
        grant_drift.UNDECLARED: "Undeclared",
        grant_drift.INACTIVE: "Inactive",
        grant_drift.SYSTEM_AUTHORED: "System authored",
    }
    info_module = "permission_info"
    findings_key = "grant_findings"
    error_key = "grant_error"
    count_prefix = "grant_"
    card = "permission grants listed"
    html = _report_template.GRANTS
    schema_defs = ("grant", "grant_finding", "grant_counts")
    time_key = "start_date"

    # -- the inventory (permission_info) ------------------------------------------------------------------------

    def read(self, module, api, scan: Scan) -> list:
        context = module.ksef_context
        if context.type == "NipVatUe":  # its administrator holds VatUeManage, which lists these rows only
            return listed_in_nip_vat_ue(api, (context.type, context.value))
        rows = [GrantRow.from_api(item) for item in api.query_person_grants()]
        rows += [GrantRow.from_authorization(item) for item in api.query_authorization_grants()]
        return rows + listed_apart(api, APART, (context.type, context.value))

    def findings(self, module, scan: Scan) -> list:
        context = module.ksef_context
        found = grant_drift.findings(scan.declared, scan.live, (context.type, context.value))
        # The token this task logged in with, against the end of token authentication (as token_info reports it).
        login = login_token(module)
        if login:
            found += _drift.token_auth_end([], module.token_auth_end, scan.now, login)
        return found

    def rows(self, module, scan: Scan) -> list:
        names = {d.name for d in scan.declared or [] if d.state == "present"}
        return [grant_drift.row(item, names) for item in scan.live]

    def declared_view(self, scan: Scan) -> list:
        """Each declared grant with the permission ids of the rows in force that carry its name."""
        return [
            {
                "name": entry.declared.name,
                "state": entry.declared.state,
                "references": [
                    row.reference_number for row in scan.live if row.name == entry.declared.name and row.state == ACTIVE
                ],
                "grant_kind": entry.declared.kind,
                "permissions": list(entry.declared.permissions),
            }
            for entry in scan.entries
        ]

    # -- the report part ----------------------------------------------------------------------------------------

    def part(self, result: dict) -> Part:
        """The finding about the KSeF token the scan logged in with (token_auth_end) is left to the tokens, where
        token_info reports it."""
        found = super().part(result)
        ours = set(self.catalogue.order)
        rows = [dict(row, findings=[k for k in row.get("findings") or [] if k in ours]) for row in found.rows]
        return Part(rows, [f for f in found.findings if f.get("kind") in ours], found.error)

    def csv_rows(self, part_rows: list) -> list:
        return [
            dict(
                grant,
                grant_kind=grant.get("kind"),
                permissions=[grant.get("permission")],
                subject=_subject_label(grant.get("subject")),
                status=grant.get("state"),
                created=grant.get("start_date"),
            )
            for grant in part_rows
        ]

    def html_context(self, report: dict) -> dict:
        return {
            "grant_titles": self.titles,
            "grant_severity": self.catalogue.severity,
            "subject_label": _subject_label,
            "grants_scanned": any(c["grants"] or c["grant_error"] for c in report["contexts"]),
        }


GRANT_AUDIT = GrantAudit()
