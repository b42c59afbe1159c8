# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit report: the results of the info modules (token_info, certificate_info, permission_info) of many
hosts -> one report (docs/report.schema.json) -> JSON, CSV, HTML.

Built from kinds: each result says its kind, and the kind's `_audit.Audit` gives its part of a company (rows,
findings, scan error), its counts, its CSV rows and its HTML section; this module only assembles them, in the
order of AUDITS.

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

from ansible_collections.ksef.credentials.plugins.module_utils import _report_template
from ansible_collections.ksef.credentials.plugins.module_utils._audit import Audit, Part
from ansible_collections.ksef.credentials.plugins.module_utils._connection import ENVIRONMENTS
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError, KsefError
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate_audit import CERTIFICATE_AUDIT
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_audit import GRANT_AUDIT
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token_audit import TOKEN_AUDIT

SCHEMA_VERSION = 1
TITLE = "KSeF credential audit"
# The kinds of the report, in the order of its sections, JSON keys and CSV rows.
AUDITS = (TOKEN_AUDIT, CERTIFICATE_AUDIT, GRANT_AUDIT)
BY_KIND = {audit.noun: audit for audit in AUDITS}
# `{referenceNumber}|{contextType}-{contextValue}|{64 hex}`: what a token value looks like anywhere in a text.
_TOKEN_VALUE = re.compile(r"[^|\s\"',;]+\|[^|\s\"',;]+\|[0-9a-fA-F]{64}")
# The CSV layout: where (environment, host, context), the kind (`credential`: token, certificate, grant), then the
# columns of every kind's rows (`Audit.csv_rows`); a cell a kind does not fill stays empty.
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


def kind_of(result) -> Audit | None:
    """The audit of an info result: the kind it says, else the kind whose rows it holds (a result of an older
    collection); None for a result that holds none (failed, skipped, or no result at all)."""
    if not isinstance(result, dict):
        return None
    if result.get("kind") in BY_KIND:
        return BY_KIND[result["kind"]]
    return next((audit for audit in AUDITS if audit.items_key in result), None)


# What goes in each entry of `scans` (and of certificate_scans, grant_scans), in the message that refuses another.
_WANTED = "an info module's registered result (token_info, certificate_info or permission_info with register:)"


def check_scans(option: str, given, many: bool = True) -> None:
    """Refuse, naming the entry (`scans.c1[0]`), anything in `given` (host -> result, or a list of them when
    `many`) that is not a registered result of an info module: a number or a text where a task's result goes."""
    if given is None:
        return
    if not isinstance(given, dict):
        raise KsefConfigError(option, "%s must be a dict of host -> %s, got %s" % (option, _WANTED, _type(given)))
    for host, value in given.items():
        where = "%s.%s" % (option, host)
        if many and isinstance(value, list):
            for index, result in enumerate(value):
                _check_result("%s[%d]" % (where, index), result)
        else:
            _check_result(where, value, " or a list of them" if many else "")


def _check_result(where: str, result, or_list: str = "") -> None:
    if result is not None and not isinstance(result, dict):
        raise KsefConfigError(where, "%s must be %s%s, got %s" % (where, _WANTED, or_list, _type(result)))


def _type(value) -> str:
    """What a wrong value is, without its text (a misplaced value might be a secret)."""
    return {str: "a string", int: "a number", float: "a number", bool: "a boolean", list: "a list"}.get(
        type(value), type(value).__name__
    )


def _results(scans: dict, certificate_scans: dict, grant_scans: dict) -> dict:
    """host -> [(audit or None, result)]: every result of `scans` (one or a list per host) with the kind it
    says, and the results of the older options, whose kind the option names."""
    found: dict = {}
    for host, given in scans.items():
        for result in (given or [{}]) if isinstance(given, list) else [given]:
            found.setdefault(host, []).append((kind_of(result), result or {}))
    for audit, older in ((CERTIFICATE_AUDIT, certificate_scans), (GRANT_AUDIT, grant_scans)):
        for host, result in older.items():
            found.setdefault(host, []).append((audit, result or {}))
    return found


def _merged(audit: Audit, parts: list) -> Part:
    """Several results of one kind for one host (or none), as one part."""
    extra: dict = {key: [] for key in audit.extra_keys}
    for part in parts:
        for key, value in part.extra.items():
            extra[key] = extra.get(key, []) + value
    errors = [part.error for part in parts if part.error]
    return Part(
        [row for part in parts for row in part.rows],
        [finding for part in parts for finding in part.findings],
        "; ".join(errors) if errors else None,
        extra,
    )


def _context_entry(host: str, results: list, environment: str | None) -> dict:
    """One company: where it was scanned (from the first result that says so) and the part of every kind."""
    known = sorted((r for r in results if r[0] is not None), key=lambda r: AUDITS.index(r[0]))
    first: dict = next((result for _audit, result in known if result.get("context")), {})
    # A result of no known kind (failed, skipped, or none at all) says the company could not be scanned.
    unscanned = [
        str(result.get("msg") or ("skipped" if result.get("skipped") else "no info result for this host"))
        for audit, result in results
        if audit is None
    ]
    entry: dict = {
        "host": host,
        "environment": None,
        "context": first.get("context"),
        "api_url": first.get("api_url"),
        "scanned_at": first.get("scanned_at"),
        "error": "; ".join(unscanned) or None,
        "summary": {},
    }
    entry["environment"] = environment_name(environment, entry["api_url"])
    for audit in AUDITS:
        part = _merged(audit, [audit.part(result) for kind, result in known if kind is audit])
        entry[audit.items_key] = part.rows
        entry[audit.findings_key] = part.findings
        entry.update(part.extra)
        if audit.error_key == "error":  # the company's own: a failed scan of this kind fails the company
            entry["error"] = "; ".join(e for e in (entry["error"], part.error) if e) or None
        else:
            entry[audit.error_key] = part.error
        entry["summary"].update(audit.counts(part))
    entry["summary"].update(headline(entry["summary"]))
    return entry


def headline(summary: dict) -> dict:
    """The counts the report leads with, over the findings of every kind (tokens, certificates, grants): the
    token audit's own `errors` and `findings_total` become those of every kind, and its findings per kind stay in
    `findings`."""
    return {
        "findings_total": sum(sum(summary[audit.count_prefix + "findings"].values()) for audit in AUDITS),
        "errors": sum(summary[audit.count_prefix + "errors"] for audit in AUDITS),
    }


def _totals(contexts: list) -> dict:
    """The counts of every context added up: numbers, and counts per finding kind."""
    totals: dict = {}
    for audit in AUDITS:
        totals.update(audit.counts(Part([], [])))
    for ctx in contexts:
        for key, value in ctx["summary"].items():
            if isinstance(value, dict):
                for kind, count in value.items():
                    totals[key][kind] = totals[key].get(kind, 0) + count
            else:
                totals[key] += value
    return totals


def build(
    scans: dict,
    generated_at: str,
    environment: str | None = None,
    title: str | None = None,
    certificate_scans: dict | None = None,
    environments: dict | None = None,
    grant_scans: dict | None = None,
) -> dict:
    """scans: host -> the registered result of an info module, or a list of them (token_info, certificate_info,
    permission_info: each says its kind); a result of no kind (failed, skipped, none) becomes an entry with `error`;
    certificate_scans, grant_scans: host -> a certificate_info, permission_info result (the older spelling);
    environments: host -> the environment that host is reported under (test, demo, prod, or a name or URL of one's
    own); a host not named there gets `environment`, else the environment of the URL it was scanned at."""
    environments = environments or {}
    found = _results(scans or {}, certificate_scans or {}, grant_scans or {})
    contexts = [_context_entry(host, found[host], environments.get(host) or environment) for host in sorted(found)]
    contexts.sort(key=lambda c: (_environment_order(c["environment"]), c["host"]))
    urls = sorted({c["api_url"] for c in contexts if c["api_url"]})
    names = sorted({c["environment"] for c in contexts}, key=_environment_order)
    if not environment:
        # A context that failed before naming its URL says nothing about where the others were scanned.
        environment = ", ".join(n for n in names if n != "unknown") or "unknown"
    summary = {"contexts": len(contexts), "contexts_failed": sum(1 for c in contexts if c["error"])}
    summary.update(_totals(contexts))
    return {
        "schema_version": SCHEMA_VERSION,
        "title": title or TITLE,
        "generated_at": generated_at,
        "environment": environment,
        "environments": names,
        "api_urls": urls,
        "summary": summary,
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


def to_csv(report: dict) -> str:
    """One row per object of every kind (a token, a KSeF certificate, a permission grant), every context; lists are
    space-separated."""
    columns = CSV_COLUMNS
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for ctx in report["contexts"]:
        where = dict(environment=ctx["environment"], host=ctx["host"], context=context_label(ctx["context"]))
        for audit in AUDITS:
            for item in audit.csv_rows(ctx.get(audit.items_key) or []):
                row = dict(item, **where, credential=audit.noun)
                writer.writerow([_cell(row.get(column)) for column in columns])
    return check_clean(out.getvalue())


# -- HTML ---------------------------------------------------------------------------------------------------


def to_html(report: dict) -> str:
    """A single self-contained page: inline CSS and JS, no external asset, works from file://. Jinja2 escapes
    every value (autoescape); the template marks nothing safe. The page is the head, each kind's section, the tail."""
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True)
    s = report["summary"]
    errors, findings_total = s["errors"], s["findings_total"]  # of every kind (`headline`)
    template = _report_template.PAGE_HEAD + "".join(audit.html for audit in AUDITS) + _report_template.PAGE_TAIL
    context = dict(
        report=report,
        s=s,
        audits=AUDITS,
        label=context_label,
        status_class="bad" if errors or s["contexts_failed"] else ("warn" if findings_total else "good"),
    )
    for audit in AUDITS:
        context.update(audit.html_context(report))
    return check_clean(environment.from_string(template).render(**context))
