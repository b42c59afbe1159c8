# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an auditor should know about a subject's KSeF certificates: one row per certificate, and the findings.

Pure: no I/O, no clock, no secrets. Input is what POST /certificates/query lists (every status), the declared
certificates, what each declared certificate's stores hold (serial numbers) and `now`.

Finding kinds:
- missing: a certificate declared present has no Active certificate.
- expiring: an Active managed certificate ends within its `renew_before` (the declaration's, else the policy's);
  the next run renews it. Already expired, it is no longer Active and its stores are `revoked_stored`.
- revoked_stored: a store holds a certificate that is revoked, expired or unknown to KSeF.
- store_missing: a store of a declared certificate holds nothing.
- undeclared: an Active managed certificate whose name is not declared present (with a declared list only).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ansible_collections.ksef.credentials.plugins.module_utils import _durations
from ansible_collections.ksef.credentials.plugins.module_utils._findings import Catalogue
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import certificate_plan as c

MISSING = "missing"
EXPIRING = "expiring"
REVOKED_STORED = "revoked_stored"
STORE_MISSING = "store_missing"
UNDECLARED = "undeclared"

KINDS = (MISSING, REVOKED_STORED, STORE_MISSING, EXPIRING, UNDECLARED)
SEVERITY = {
    MISSING: "error",
    REVOKED_STORED: "error",
    STORE_MISSING: "error",
    EXPIRING: "warning",
    UNDECLARED: "warning",
}


CATALOGUE = Catalogue(KINDS, SEVERITY, "serial_number")
Finding = CATALOGUE.finding  # Finding(kind, message, name, serial number, store)


def days_left(certificate: c.ActualCertificate, now: datetime) -> int:
    """Whole days until the end of validity (negative once expired)."""
    return (certificate.valid_to - now) // timedelta(days=1)


def row(certificate: c.ActualCertificate, now: datetime) -> dict:
    return {
        "serial_number": certificate.reference_number,
        "name": certificate.name,
        "certificate_name": certificate.certificate_name,
        "managed": certificate.name is not None,
        "certificate_type": certificate.certificate_type,
        "status": certificate.status,
        "subject": certificate.subject,
        "valid_from": certificate.valid_from.isoformat(),
        "valid_to": certificate.valid_to.isoformat(),
        "days_to_expiry": days_left(certificate, now),
        "requested": certificate.created.isoformat(),
        "last_used": certificate.last_used.isoformat() if certificate.last_used else None,
    }


def findings(declared, certificates, holdings: dict, now: datetime, renew_before: timedelta | None) -> list:
    """declared: certificate_plan.Declared (None: no declared list, so nothing is `undeclared`);
    holdings: name -> [Holding]."""
    found: list = []
    by_serial = {cert.reference_number: cert for cert in certificates}
    active = [cert for cert in certificates if cert.status == c.ACTIVE and cert.valid_to > now]
    declared_by_name = {d.name: d for d in declared or []}
    for decl in declared or []:
        if decl.state != "present":
            continue
        if not any(cert.name == decl.name for cert in active):
            found.append(Finding(MISSING, "no Active certificate named %r" % decl.name, decl.name))
        for holding in holdings.get(decl.name, []):
            held = by_serial.get(holding.reference_number) if holding.reference_number else None
            if holding.reference_number is None:
                found.append(Finding(STORE_MISSING, "%s holds nothing" % holding.label, decl.name, store=holding.label))
            elif held is None or held.status != c.ACTIVE or held.valid_to <= now:
                status = "unknown to KSeF" if held is None else ("Expired" if held.valid_to <= now else held.status)
                found.append(
                    Finding(
                        REVOKED_STORED,
                        "%s holds certificate %s, which is %s" % (holding.label, holding.reference_number, status),
                        decl.name,
                        holding.reference_number,
                        holding.label,
                    )
                )
    for cert in active:
        if cert.name is None:
            continue
        decl = declared_by_name.get(cert.name)
        window = decl.renew_before if decl is not None else renew_before
        if window is not None and cert.valid_to - now <= window:
            found.append(
                Finding(
                    EXPIRING,
                    "valid to %s (%d days); renewed from %s before"
                    % (cert.valid_to.isoformat(), days_left(cert, now), _describe(window)),
                    cert.name,
                    cert.reference_number,
                )
            )
        if declared is not None and (decl is None or decl.state != "present"):
            found.append(
                Finding(
                    UNDECLARED,
                    "managed certificate %r is Active but not declared" % cert.name,
                    cert.name,
                    cert.reference_number,
                )
            )
    return found


summary = CATALOGUE.summary


def _describe(delta: timedelta) -> str:
    return _durations.describe(delta) or "0s"
