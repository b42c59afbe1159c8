# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit report: token_info results of many contexts -> one report (docs/report.schema.json) -> JSON, CSV, HTML.

Pure apart from the clock the caller passes in. A report holds reference numbers and metadata only; `check_clean`
refuses any text that looks like a KSeF token value, as a last line of defence.
"""
from __future__ import annotations

import csv
import html
import io
import json
import re
from string import Template

from ansible_collections.ksef.credentials.plugins.module_utils import _drift
from ansible_collections.ksef.credentials.plugins.module_utils._connection import ENVIRONMENTS
from ansible_collections.ksef.credentials.plugins.module_utils._report_template import HTML_TEMPLATE

SCHEMA_VERSION = 1
LIVE = ("Pending", "Active")
# `{referenceNumber}|{contextType}-{contextValue}|{64 hex}`: what a token value looks like anywhere in a text.
_TOKEN_VALUE = re.compile(r"[^|\s\"',;]+\|[^|\s\"',;]+\|[0-9a-fA-F]{64}")
CSV_COLUMNS = ("host", "context", "reference_number", "name", "managed", "declared", "status", "permissions",
               "author", "created", "last_used", "age_days", "unused_days", "rotate_after", "rotation_due", "unused",
               "stores", "findings", "description")
# Spreadsheets run cells that start with these as formulas (CSV injection through a token description).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
KIND_TITLES = {
    _drift.MISSING: "Missing", _drift.SCOPE_DIFFERS: "Scope differs", _drift.STORE_MISSING: "Store empty",
    _drift.STORE_STALE: "Store stale", _drift.ROTATION_OVERDUE: "Rotation overdue",
    _drift.EXTRA_MANAGED: "Extra managed", _drift.UNMANAGED: "Unmanaged", _drift.UNUSED: "Unused",
}


class UnsafeReportError(ValueError):
    """A rendered report contains something shaped like a token value; nothing is written."""


def environment_of(api_url: str | None) -> str:
    for name, url in ENVIRONMENTS.items():
        if api_url and api_url.rstrip("/") == url:
            return name
    return "custom" if api_url else "unknown"


def _context_entry(host: str, scan: dict) -> dict:
    scan = scan or {}
    failed = scan.get("failed") or scan.get("skipped") or "tokens" not in scan
    if failed:
        reason = scan.get("msg") or ("skipped" if scan.get("skipped") else "no token_info result for this host")
        return {"host": host, "context": scan.get("context"), "api_url": scan.get("api_url"),
                "scanned_at": scan.get("scanned_at"), "error": str(reason),
                "summary": _context_summary([], [], []), "tokens": [], "findings": [], "declared_tokens": []}
    tokens = [dict(t) for t in scan.get("tokens") or []]
    findings = [dict(f) for f in scan.get("findings") or []]
    declared = [dict(d) for d in scan.get("declared_tokens") or []]
    return {"host": host, "context": scan.get("context"), "api_url": scan.get("api_url"),
            "scanned_at": scan.get("scanned_at"), "error": None,
            "summary": _context_summary(tokens, findings, declared),
            "tokens": tokens, "findings": findings, "declared_tokens": declared}


def _context_summary(tokens, findings, declared) -> dict:
    counts = {kind: 0 for kind in _drift.KINDS}
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


def build(scans: dict, generated_at: str, environment: str | None = None, title: str | None = None) -> dict:
    """scans: host -> registered token_info result (failed or skipped results become an entry with `error`)."""
    contexts = [_context_entry(host, scans[host]) for host in sorted(scans)]
    urls = sorted({c["api_url"] for c in contexts if c["api_url"]})
    if not environment:
        names = sorted({environment_of(u) for u in urls})
        environment = ", ".join(names) if names else "unknown"
    totals = {kind: sum(c["summary"]["findings"][kind] for c in contexts) for kind in _drift.KINDS}
    return {
        "schema_version": SCHEMA_VERSION,
        "title": title or "KSeF token audit",
        "generated_at": generated_at,
        "environment": environment,
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
        },
        "contexts": contexts,
    }


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


def to_csv(report: dict) -> str:
    """One row per token, every context; lists are space-separated."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for ctx in report["contexts"]:
        for token in ctx["tokens"]:
            author = token.get("author") or {}
            row = dict(token, host=ctx["host"], context=context_label(ctx["context"]),
                       author="%s:%s" % (author.get("type"), author.get("value")) if author.get("value") else None)
            writer.writerow([_cell(row.get(column)) for column in CSV_COLUMNS])
    return check_clean(out.getvalue())


# -- HTML ---------------------------------------------------------------------------------------------------

def _e(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return html.escape(", ".join(str(v) for v in value))
    return html.escape(str(value))


def _td(value, sort=None, cls=None) -> str:
    attrs = ""
    if sort is not None:
        attrs += ' data-sort="%s"' % html.escape(str(sort))
    if cls:
        attrs += ' class="%s"' % cls
    return "<td%s>%s</td>" % (attrs, _e(value) if not isinstance(value, Markup) else value)


class Markup(str):
    """Already escaped HTML."""


def _kind_badges(kinds) -> Markup:
    return Markup(" ".join('<span class="badge %s %s">%s</span>' % (
        html.escape(k), _drift.SEVERITY.get(k, "warning"), html.escape(KIND_TITLES.get(k, k))) for k in kinds))


def _summary_rows(report) -> str:
    rows = []
    for ctx in report["contexts"]:
        s = ctx["summary"]
        cells = [_td(ctx["host"]), _td(context_label(ctx["context"])),
                 _td(ctx["error"] or "ok", cls="scan-error" if ctx["error"] else "scan-ok"),
                 _td(s["tokens"], s["tokens"]), _td(s["live"], s["live"]), _td(s["managed"], s["managed"]),
                 _td(s["unmanaged"], s["unmanaged"]), _td(s["declared"], s["declared"])]
        for kind in _drift.KINDS:
            count = s["findings"][kind]
            cells.append(_td(count, count, cls=("count-%s" % _drift.SEVERITY[kind]) if count else "count-zero"))
        cells.append(_td(s["findings_total"], s["findings_total"], cls="total"))
        cls = "company has-findings" if s["findings_total"] or ctx["error"] else "company"
        label = _e(context_label(ctx["context"]))
        rows.append('<tr class="%s" data-context="%s">%s</tr>' % (cls, label, "".join(cells)))
    return "\n".join(rows)


def _summary_foot(report) -> str:
    s = report["summary"]
    cells = ['<th colspan="3">All companies (%d)</th>' % s["contexts"]]
    cells += ["<td>%d</td>" % s[k] for k in ("tokens", "live", "managed", "unmanaged", "declared")]
    cells += ["<td>%d</td>" % s["findings"][kind] for kind in _drift.KINDS]
    cells.append('<td class="total">%d</td>' % s["findings_total"])
    return "<tr>%s</tr>" % "".join(cells)


def _findings_rows(report) -> str:
    rows = []
    for ctx in report["contexts"]:
        for f in ctx["findings"]:
            rows.append('<tr class="finding %s" data-kind="%s">%s</tr>' % (
                f["severity"], _e(f["kind"]), "".join([
                    _td(f["severity"], 0 if f["severity"] == "error" else 1),
                    _td(_kind_badges([f["kind"]]), _drift.KINDS.index(f["kind"])),
                    _td(context_label(ctx["context"])), _td(f.get("name") or "-"),
                    _td(f.get("reference_number") or "-", cls="ref"), _td(f.get("store") or "-"),
                    _td(f["message"])])))
    return "\n".join(rows) or '<tr class="empty"><td colspan="7">No findings.</td></tr>'


def _token_rows(report) -> str:
    rows = []
    for ctx in report["contexts"]:
        for t in ctx["tokens"]:
            kinds = t.get("findings") or []
            severity = "error" if any(_drift.SEVERITY.get(k) == "error" for k in kinds) else "warning"
            cls = "token has-findings %s" % severity if kinds else "token"
            author = t.get("author") or {}
            rows.append('<tr class="%s" data-ref="%s">%s</tr>' % (cls, _e(t["reference_number"]), "".join([
                _td(context_label(ctx["context"])), _td(t.get("name") or "(unmanaged)"),
                _td(t["reference_number"], cls="ref"), _td(t["status"]), _td(t.get("permissions") or []),
                _td("%s:%s" % (author.get("type"), author.get("value")) if author.get("value") else "-"),
                _td(t["created"][:19].replace("T", " "), t["created"]),
                _td((t.get("last_used") or "never")[:19].replace("T", " "), t.get("last_used") or ""),
                _td(t["age_days"], t["age_days"], cls="num"), _td(t["unused_days"], t["unused_days"], cls="num"),
                _td(t.get("rotate_after") or "-"), _td(t.get("stores") or "-"),
                _td(_kind_badges(kinds), len(kinds)), _td(t.get("description"))])))
    return "\n".join(rows) or '<tr class="empty"><td colspan="14">No tokens.</td></tr>'


def _declared_rows(report) -> str:
    rows = []
    for ctx in report["contexts"]:
        for d in ctx["declared_tokens"]:
            stores = d.get("stores") or [{"label": "(no store)", "reference_number": None, "holds_current": None}]
            for store in stores:
                holds = store["holds_current"]
                state = "-" if holds is None else ("current" if holds else (
                    "empty" if not store["reference_number"] else "stale: %s" % store["reference_number"]))
                rows.append('<tr class="%s">%s</tr>' % ("store-bad" if holds is False else "store", "".join([
                    _td(context_label(ctx["context"])), _td(d["name"]), _td(d["state"]), _td(d.get("permissions")),
                    _td(d.get("rotate_after") or "-"), _td(d.get("reference_number") or "none", cls="ref"),
                    _td(store["label"]), _td(state)])))
    return "\n".join(rows) or '<tr class="empty"><td colspan="8">Nothing declared.</td></tr>'


def to_html(report: dict) -> str:
    """A single self-contained page: inline CSS and JS, no external asset, works from file://."""
    kind_heads = "".join('<th data-type="number" title="%s">%s</th>' % (_e(k), _e(KIND_TITLES[k])) for k in _drift.KINDS)
    s = report["summary"]
    page = Template(HTML_TEMPLATE).substitute(
        title=_e(report["title"]),
        generated_at=_e(report["generated_at"]),
        generated_at_text=_e(report["generated_at"][:19].replace("T", " ") + " UTC"),
        environment=_e(report["environment"]),
        api_urls=_e(report["api_urls"]),
        contexts=s["contexts"], tokens=s["tokens"], findings_total=s["findings_total"], errors=s["errors"],
        status_class="bad" if s["errors"] or s["contexts_failed"] else ("warn" if s["findings_total"] else "good"),
        kind_heads=kind_heads,
        summary_rows=_summary_rows(report), summary_foot=_summary_foot(report),
        findings_rows=_findings_rows(report), token_rows=_token_rows(report), declared_rows=_declared_rows(report),
    )
    return check_clean(page)
