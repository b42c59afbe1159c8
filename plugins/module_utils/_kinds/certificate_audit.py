# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an auditor sees of the KSeF certificates of the subject that logs in (`_audit.Audit`): certificate_info's
inventory and the certificates' part of the audit report.

certificate_info lists every certificate of the subject (one paged POST /certificates/query, every status) and
judges them with `certificate_drift.py`: the declared certificates, what their stores hold, `renew_before`.
"""

from __future__ import annotations

from ansible_collections.ksef.credentials.plugins.module_utils import _durations, _report_template
from ansible_collections.ksef.credentials.plugins.module_utils._audit import Audit, Scan
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import certificate_drift as drift
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import certificate_plan
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate import CertificateKind
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate_schema import CERTIFICATE_OPTIONS


class CertificateAudit(Audit):
    kind = CertificateKind()
    info_module = "certificate_info"
    catalogue = drift.CATALOGUE
    titles = {
        drift.MISSING: "Missing",
        drift.REVOKED_STORED: "Revoked, still stored",
        drift.STORE_MISSING: "Store empty",
        drift.EXPIRING: "Expiring",
        drift.UNDECLARED: "Undeclared",
    }
    findings_key = "certificate_findings"
    error_key = "certificate_error"
    count_prefix = "certificate_"
    store_option = CERTIFICATE_OPTIONS["store"]
    card = "certificates listed"
    html = _report_template.CERTIFICATES
    schema_defs = ("certificate", "certificate_finding", "certificate_counts")
    time_key = "requested"

    # -- the inventory (certificate_info) -----------------------------------------------------------------------

    def policy(self, params: dict):
        return _durations.parse(params.get("renew_before"), "renew_before")

    def read(self, module, api, scan: Scan) -> list:
        return [certificate_plan.ActualCertificate.from_api(item) for item in api.query_certificates()]

    def findings(self, module, scan: Scan) -> list:
        return drift.findings(scan.declared, scan.live, scan.holdings, scan.now, scan.policy)

    def rows(self, module, scan: Scan) -> list:
        names = {d.name for d in scan.declared or [] if d.state == "present"}
        rows = []
        for certificate in scan.live:
            row = drift.row(certificate, scan.now)
            row["declared"] = certificate.name in names
            row["stores"] = [
                h.label
                for h in scan.holdings.get(certificate.name, [])
                if h.reference_number == certificate.reference_number
            ]
            rows.append(row)
        return rows

    def own_summary(self, rows: list) -> dict:
        return {"active": sum(1 for r in rows if r["status"] == certificate_plan.ACTIVE)}

    def declared_view(self, scan: Scan) -> list:
        """Each declared certificate with its Active certificates (serial numbers) and what each store holds."""
        view = []
        for entry in scan.entries:
            declared = entry.declared
            active = [
                c.reference_number
                for c in scan.live
                if c.name == declared.name and c.status == certificate_plan.ACTIVE and c.valid_to > scan.now
            ]
            view.append(
                {
                    "name": declared.name,
                    "state": declared.state,
                    "references": active,
                    "certificate_type": declared.certificate_type,
                    "stores": [
                        {
                            "label": h.label,
                            "serial_number": h.reference_number,
                            "holds_active": h.reference_number in active,
                        }
                        for h in scan.holdings.get(declared.name, [])
                    ],
                }
            )
        return view

    # -- the report part ----------------------------------------------------------------------------------------

    def csv_rows(self, part_rows: list) -> list:
        return [dict(certificate, created=certificate.get("requested")) for certificate in part_rows]

    def html_context(self, report: dict) -> dict:
        return {"certificate_titles": self.titles, "certificate_severity": self.catalogue.severity}


CERTIFICATE_AUDIT = CertificateAudit()
