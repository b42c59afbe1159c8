# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit report: token_info results of many contexts, certificate_info results of the subjects they log in as,
and permission_info results of their permission grants -> one report (docs/report.schema.json) -> JSON, CSV, HTML.

Pure apart from the clock the caller passes in. A report holds reference numbers and metadata only; `check_clean`
refuses any text that looks like a KSeF token value, as a last line of defence.
"""

from __future__ import annotations

import csv
import io
import json
import re

try:
    import jinja2
except ImportError as exc:  # ansible-core depends on Jinja2; reported by audit_report through missing_required_lib
    JINJA2_IMPORT_ERROR: ImportError | None = exc
else:
    JINJA2_IMPORT_ERROR = None

from ansible_collections.ksef.credentials.plugins.module_utils import _drift
from ansible_collections.ksef.credentials.plugins.module_utils._connection import ENVIRONMENTS
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefError
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import certificate_drift, grant_drift
from ansible_collections.ksef.credentials.plugins.module_utils._report_template import HTML_TEMPLATE

SCHEMA_VERSION = 1
LIVE = ("Pending", "Active")
# `{referenceNumber}|{contextType}-{contextValue}|{64 hex}`: what a token value looks like anywhere in a text.
_TOKEN_VALUE = re.compile(r"[^|\s\"',;]+\|[^|\s\"',;]+\|[0-9a-fA-F]{64}")
# One row per token, per KSeF certificate and per permission grant of every context; `credential` says which. A
# certificate row fills serial_number, certificate_type, certificate_name (its name in KSeF), subject, valid_from,
# valid_to and days_to_expiry, and `created` with the time it was requested; a token row fills reference_number,
# permissions, author and the token clocks; a grant row (one per permission) fills permission_id, grant_kind,
# permissions (its one permission), can_delegate, subject, author, status (Active or Inactive) and `created` with
# the time it was granted.
CSV_COLUMNS = (
    "environment",
    "host",
    "context",
    "credential",
    "reference_number",
    "serial_number",
    "name",
    "managed",
    "declared",
    "status",
    "permissions",
    "certificate_type",
    "certificate_name",
    "author",
    "subject",
    "created",
    "valid_from",
    "valid_to",
    "days_to_expiry",
    "last_used",
    "age_days",
    "unused_days",
    "rotate_after",
    "rotation_due",
    "unused",
    "stores",
    "findings",
    "description",
    "permission_id",
    "grant_kind",
    "can_delegate",
)
# Spreadsheets run cells that start with these as formulas (CSV injection through a token description).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
KIND_TITLES = {
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


CERTIFICATE_KIND_TITLES = {
    certificate_drift.MISSING: "Missing",
    certificate_drift.REVOKED_STORED: "Revoked, still stored",
    certificate_drift.STORE_MISSING: "Store empty",
    certificate_drift.EXPIRING: "Expiring",
    certificate_drift.UNDECLARED: "Undeclared",
}


GRANT_KIND_TITLES = {
    grant_drift.UNDECLARED_MANAGER: "Undeclared manager",
    grant_drift.MISSING: "Missing",
    grant_drift.DIFFERS: "Differs",
    grant_drift.UNDECLARED: "Undeclared",
    grant_drift.INACTIVE: "Inactive",
    grant_drift.SYSTEM_AUTHORED: "System authored",
}


class UnsafeReportError(KsefError, ValueError):
    """A rendered report contains something shaped like a token value; nothing is written."""


def environment_of(api_url: str | None) -> str:
    """test, demo or prod for a public KSeF URL; any other URL (an emulator, a proxy) names itself."""
    for name, url in ENVIRONMENTS.items():
        if api_url and api_url.rstrip("/") == url:
            return name
    return api_url.rstrip("/") if api_url else "unknown"


def environment_name(given: str | None, api_url: str | None) -> str:
    """The environment a context is reported under: the name the play gave (a URL given as the name is treated as
    the URL), else the one of the URL it was scanned at."""
    if given:
        return environment_of(given) if "://" in given else given
    return environment_of(api_url)


def _certificate_part(scan) -> tuple[list, list, str | None]:
    """(certificates, findings, error) of a certificate_info result; nothing when no scan was given."""
    if scan is None:
        return [], [], None
    if scan.get("failed") or scan.get("skipped") or "certificates" not in scan:
        return [], [], str(scan.get("msg") or ("skipped" if scan.get("skipped") else "no certificate_info result"))
    return [dict(c) for c in scan["certificates"]], [dict(f) for f in scan.get("findings") or []], None


def _certificate_summary(certificates, findings) -> dict:
    counts = dict.fromkeys(certificate_drift.KINDS, 0)
    for f in findings:
        counts[f["kind"]] = counts.get(f["kind"], 0) + 1
    return {
        "certificates": len(certificates),
        "certificate_findings": counts,
        "certificate_errors": sum(1 for f in findings if f.get("severity") == "error"),
    }


def _grant_part(scan) -> tuple[list, list, str | None]:
    """(grants, findings, error) of a permission_info result; nothing when no scan was given. The finding about the
    KSeF token the scan logged in with (token_auth_end) is left to the tokens, where token_info reports it."""
    if scan is None:
        return [], [], None
    if scan.get("failed") or scan.get("skipped") or "grants" not in scan:
        return [], [], str(scan.get("msg") or ("skipped" if scan.get("skipped") else "no permission_info result"))
    findings = [dict(f) for f in scan.get("findings") or [] if f.get("kind") in grant_drift.KINDS]
    grants = []
    for item in scan["grants"]:
        grant = dict(item)
        grant["findings"] = [k for k in grant.get("findings") or [] if k in grant_drift.KINDS]
        grants.append(grant)
    return grants, findings, None


def _grant_summary(grants, findings) -> dict:
    counts = dict.fromkeys(grant_drift.KINDS, 0)
    for f in findings:
        counts[f["kind"]] += 1
    return {
        "grants": len(grants),
        "grant_findings": counts,
        "grant_errors": sum(1 for f in findings if f.get("severity") == "error"),
    }


def _context_entry(
    host: str, scan: dict, certificate_scan=None, environment: str | None = None, grant_scan=None
) -> dict:
    entry = _token_entry(host, scan)
    entry["environment"] = environment_name(environment, entry["api_url"])
    certificates, findings, error = _certificate_part(certificate_scan)
    entry.update(certificates=certificates, certificate_findings=findings, certificate_error=error)
    entry["summary"].update(_certificate_summary(certificates, findings))
    grants, found, error = _grant_part(grant_scan)
    entry.update(grants=grants, grant_findings=found, grant_error=error)
    entry["summary"].update(_grant_summary(grants, found))
    return entry


def _token_entry(host: str, scan: dict) -> dict:
    scan = scan or {}
    failed = scan.get("failed") or scan.get("skipped") or "tokens" not in scan
    if failed:
        reason = scan.get("msg") or ("skipped" if scan.get("skipped") else "no token_info result for this host")
        return {
            "host": host,
            "context": scan.get("context"),
            "api_url": scan.get("api_url"),
            "scanned_at": scan.get("scanned_at"),
            "error": str(reason),
            "summary": _context_summary([], [], []),
            "tokens": [],
            "findings": [],
            "declared_tokens": [],
        }
    tokens = [dict(t) for t in scan.get("tokens") or []]
    findings = [dict(f) for f in scan.get("findings") or []]
    declared = [dict(d) for d in scan.get("declared_tokens") or []]
    return {
        "host": host,
        "context": scan.get("context"),
        "api_url": scan.get("api_url"),
        "scanned_at": scan.get("scanned_at"),
        "error": None,
        "summary": _context_summary(tokens, findings, declared),
        "tokens": tokens,
        "findings": findings,
        "declared_tokens": declared,
    }


def _context_summary(tokens, findings, declared) -> dict:
    counts = dict.fromkeys(_drift.KINDS, 0)
    for f in findings:
        counts[f["kind"]] = counts.get(f["kind"], 0) + 1
    return {
        "tokens": len(tokens),
        "live": sum(1 for t in tokens if t.get("status") in LIVE),
        "managed": sum(1 for t in tokens if t.get("managed")),
        "unmanaged": sum(1 for t in tokens if not t.get("managed")),
        "declared": sum(1 for d in declared if d.get("state") == "present"),
        "findings": counts,
        "findings_total": len(findings),
        "errors": sum(1 for f in findings if f.get("severity") == "error"),
    }


def build(
    scans: dict,
    generated_at: str,
    environment: str | None = None,
    title: str | None = None,
    certificate_scans: dict | None = None,
    environments: dict | None = None,
    grant_scans: dict | None = None,
) -> dict:
    """scans: host -> registered token_info result (failed or skipped results become an entry with `error`);
    certificate_scans: host -> registered certificate_info result of the subject that host logs in as;
    grant_scans: host -> registered permission_info result of that host's context;
    environments: host -> the environment that host is reported under (test, demo, prod, or a name or URL of one's
    own); a host not named there gets `environment`, else the environment of the URL it was scanned at."""
    certificate_scans = certificate_scans or {}
    environments = environments or {}
    grant_scans = grant_scans or {}
    contexts = [
        _context_entry(
            host, scans[host], certificate_scans.get(host), environments.get(host) or environment, grant_scans.get(host)
        )
        for host in sorted(scans)
    ]
    contexts.sort(key=lambda c: (_environment_order(c["environment"]), c["host"]))
    urls = sorted({c["api_url"] for c in contexts if c["api_url"]})
    names = sorted({c["environment"] for c in contexts}, key=_environment_order)
    if not environment:
        # A context that failed before naming its URL says nothing about where the others were scanned.
        environment = ", ".join(n for n in names if n != "unknown") or "unknown"
    totals = {kind: sum(c["summary"]["findings"][kind] for c in contexts) for kind in _drift.KINDS}
    return {
        "schema_version": SCHEMA_VERSION,
        "title": title or "KSeF token audit",
        "generated_at": generated_at,
        "environment": environment,
        "environments": names,
        "api_urls": urls,
        "summary": {
            "contexts": len(contexts),
            "contexts_failed": sum(1 for c in contexts if c["error"]),
            "tokens": sum(c["summary"]["tokens"] for c in contexts),
            "live": sum(c["summary"]["live"] for c in contexts),
            "managed": sum(c["summary"]["managed"] for c in contexts),
            "unmanaged": sum(c["summary"]["unmanaged"] for c in contexts),
            "declared": sum(c["summary"]["declared"] for c in contexts),
            "findings": totals,
            "findings_total": sum(totals.values()),
            "errors": sum(c["summary"]["errors"] for c in contexts),
            "certificates": sum(c["summary"]["certificates"] for c in contexts),
            "certificate_findings": {
                kind: sum(c["summary"]["certificate_findings"][kind] for c in contexts)
                for kind in certificate_drift.KINDS
            },
            "certificate_errors": sum(c["summary"]["certificate_errors"] for c in contexts),
            "grants": sum(c["summary"]["grants"] for c in contexts),
            "grant_findings": {
                kind: sum(c["summary"]["grant_findings"][kind] for c in contexts) for kind in grant_drift.KINDS
            },
            "grant_errors": sum(c["summary"]["grant_errors"] for c in contexts),
        },
        "contexts": contexts,
    }


def _environment_order(name: str) -> tuple:
    """test, demo, prod first, in the order a change travels through them; then any other name."""
    order = list(ENVIRONMENTS)
    return (order.index(name), "") if name in order else (len(order), name)


VOLATILE = ("generated_at", "scanned_at")


def _without_times(value):
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def keep_times(report: dict, previous_json: str | None) -> dict:
    """The report with the previous report's times when nothing else differs, so an unchanged inventory writes
    byte-identical files (and the module reports no change). `previous_json`: the report.json already written."""
    try:
        previous = json.loads(previous_json) if previous_json else None
    except ValueError:
        return report
    if not isinstance(previous, dict) or _without_times(previous) != _without_times(report):
        return report
    return previous


def check_clean(text: str) -> str:
    if _TOKEN_VALUE.search(text):
        raise UnsafeReportError("the report contains text shaped like a KSeF token value; refusing to write it")
    return text


def context_label(context) -> str:
    return "%s:%s" % (context.get("type"), context.get("value")) if context else "-"


# -- JSON ---------------------------------------------------------------------------------------------------


def to_json(report: dict) -> str:
    return check_clean(json.dumps(report, indent=2, sort_keys=False, ensure_ascii=False) + "\n")


# -- CSV ----------------------------------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _subject_label(subject) -> str | None:
    """`nip:5265877635 (Biuro Rachunkowe)`: a grant's subject with the name KSeF lists for it."""
    if not subject:
        return None
    ids = [(k, v) for k, v in subject.items() if k not in ("first_name", "last_name", "full_name")]
    named = " ".join(str(subject[k]) for k in ("first_name", "last_name", "full_name") if subject.get(k))
    text = " ".join("%s:%s" % pair for pair in ids)
    return "%s (%s)" % (text, named) if named else text


def to_csv(report: dict) -> str:
    """One row per token, one per KSeF certificate and one per permission grant, every context; lists are
    space-separated."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for ctx in report["contexts"]:
        where = dict(environment=ctx["environment"], host=ctx["host"], context=context_label(ctx["context"]))
        for token in ctx["tokens"]:
            author = token.get("author") or {}
            row = dict(
                token,
                **where,
                credential="token",
                author="%s:%s" % (author.get("type"), author.get("value")) if author.get("value") else None,
            )
            writer.writerow([_cell(row.get(column)) for column in CSV_COLUMNS])
        for certificate in ctx["certificates"]:
            row = dict(certificate, **where, credential="certificate", created=certificate.get("requested"))
            writer.writerow([_cell(row.get(column)) for column in CSV_COLUMNS])
        for grant in ctx.get("grants") or []:
            row = dict(
                grant,
                **where,
                credential="grant",
                grant_kind=grant.get("kind"),
                permissions=[grant.get("permission")],
                subject=_subject_label(grant.get("subject")),
                status=grant.get("state"),
                created=grant.get("start_date"),
            )
            writer.writerow([_cell(row.get(column)) for column in CSV_COLUMNS])
    return check_clean(out.getvalue())


# -- HTML ---------------------------------------------------------------------------------------------------


def _worst(kinds) -> str:
    return "error" if any(_drift.SEVERITY.get(k) == "error" for k in kinds) else "warning"


def to_html(report: dict) -> str:
    """A single self-contained page: inline CSS and JS, no external asset, works from file://. Jinja2 escapes
    every value (autoescape); the template marks nothing safe."""
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True)
    s = report["summary"]
    errors = s["errors"] + s["certificate_errors"] + s["grant_errors"]
    findings_total = s["findings_total"] + sum(s["certificate_findings"].values()) + sum(s["grant_findings"].values())
    page = environment.from_string(HTML_TEMPLATE).render(
        report=report,
        s=s,
        kinds=list(_drift.KINDS),
        titles=KIND_TITLES,
        severity=_drift.SEVERITY,
        label=context_label,
        worst=_worst,
        status_class="bad" if errors or s["contexts_failed"] else ("warn" if findings_total else "good"),
        certificate_titles=CERTIFICATE_KIND_TITLES,
        certificate_severity=certificate_drift.SEVERITY,
        findings_count=sum(len(c["findings"]) for c in report["contexts"]),
        declared_count=sum(len(c["declared_tokens"]) for c in report["contexts"]),
        grant_titles=GRANT_KIND_TITLES,
        grant_severity=grant_drift.SEVERITY,
        subject_label=_subject_label,
        grants_scanned=any(c["grants"] or c["grant_error"] for c in report["contexts"]),
    )
    return check_clean(page)
