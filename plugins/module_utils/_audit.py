# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an auditor sees of one kind of MCU object: the interface every kind's audit implements (`Audit`).

An audit has two parts, each used by one generic layer:
- the inventory, for its info module (`_info.run`): the live objects read, the findings against the declared
  list, one row per object and the counts;
- its part of the audit report (`_report.build`): where its rows, findings and scan error go in a company of
  `report.json`, its counts, its CSV rows (the `credential` column says the kind), its HTML section and the
  `$defs` of `docs/report.schema.json` that describe them.

Every info result carries `kind` (the kind's noun), so the report tells a token_info result from a
certificate_info or permission_info result without being told, and the same common keys (docs/audit.md, "One
result shape"): `reference` and `since` in every row (COMMON_ROW_KEYS), `reference` in every finding, the counts of
`common_summary` and the `declared` view. The report keeps to its own keys (docs/report.schema.json).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ansible_collections.ksef.credentials.plugins.module_utils._findings import Catalogue
from ansible_collections.ksef.credentials.plugins.module_utils._kind import Kind

# The keys every info module's rows share, next to the kind's own: `reference` (the object's id in KSeF, as
# `id_key` names it) and `since` (when it came to be, as `time_key` names it).
COMMON_ROW_KEYS = ("reference", "since")


@dataclass
class Scan:
    """What an info module learnt before it judges: the declarations, what their stores hold, the live objects."""

    module: Any
    policy: Any
    entries: list  # [_declarations.Entry] of `declared`
    declared: list | None  # the declarations; None when `declared` was not given (nothing to call undeclared)
    holdings: dict  # name -> [Holding]; empty for a kind without a value
    live: list = field(default_factory=list)
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))  # set again once read


@dataclass(frozen=True)
class Part:
    """One kind's part of a company in the report: its rows, its findings, why it could not be scanned, and what
    else its info result carried that the report keeps (`declared_tokens`)."""

    rows: list
    findings: list
    error: str | None = None
    extra: dict = field(default_factory=dict)


class Audit(abc.ABC):
    """One kind's inventory (its info module) and its part of the audit report."""

    kind: Kind
    info_module: str  # the info module whose results it reads: "token_info"
    catalogue: Catalogue  # the kind's finding kinds, in report order, and their severities
    titles: dict  # finding kind -> its title in report.html
    # Where the kind's part goes in a company of report.json, and the prefix of its counts in a summary.
    findings_key: str  # "findings", "certificate_findings", ...
    error_key: str  # "error" (the company's), "certificate_error", ...
    count_prefix: str  # "" (tokens), "certificate_", "grant_"
    extra_keys: tuple = ()  # lists of its info result the report keeps in a company ("declared_tokens")
    card: str  # what the count on its card of report.html says: "tokens listed"
    html: str  # its section of report.html (a Jinja2 template)
    schema_defs: tuple  # the $defs of docs/report.schema.json: (row, finding, counts)
    store_option: dict = {}  # a kind with a value: the `store` option of its declarations (store_template's spec)
    time_key: str  # the row's own time key that `since` repeats: "created", "requested", "start_date"

    @property
    def noun(self) -> str:
        return self.kind.noun

    @property
    def items_key(self) -> str:
        return self.kind.plural

    # -- the inventory (info module) --------------------------------------------------------------------------

    def check(self, module) -> None:
        """Refuse, before any request, what this inventory cannot list (for example the context type)."""
        return None

    def policy(self, params: dict) -> Any:
        """The policy options parsed (durations); raises KsefConfigError naming the option."""
        return None

    @abc.abstractmethod
    def read(self, module, api, scan: Scan) -> list:
        """The live objects to judge, in as few requests as the API allows."""

    @abc.abstractmethod
    def findings(self, module, scan: Scan) -> list:
        """`_findings.Finding`s of the live objects against the declarations and the policy."""

    @abc.abstractmethod
    def rows(self, module, scan: Scan) -> list:
        """One row per live object the module lists, each with `id_key` (its identifier), without `findings`."""

    def summary(self, rows: list, found: list) -> dict:
        """The counts of the info result: the common ones, then the kind's own."""
        return dict(self.common_summary(rows, found), **self.own_summary(rows))

    def common_summary(self, rows: list, found: list) -> dict:
        """The counts every info result has: objects (under the kind's plural), managed ones, findings per kind,
        all findings, and those of severity error and warning."""
        return {
            self.items_key: len(rows),
            "managed": sum(1 for row in rows if row["managed"]),
            "findings": self.catalogue.summary(found),
            "findings_total": len(found),
            "errors": sum(1 for f in found if f.severity == "error"),
            "warnings": sum(1 for f in found if f.severity == "warning"),
        }

    def own_summary(self, rows: list) -> dict:
        """The counts of this kind alone (`live` tokens, `active` certificates)."""
        return {}

    def common_row(self, row: dict) -> dict:
        """The row with the keys every kind's rows share (COMMON_ROW_KEYS) next to its own."""
        return dict(row, reference=row[self.catalogue.id_key], since=row[self.time_key])

    @abc.abstractmethod
    def declared_view(self, scan: Scan) -> list:
        """The `declared` result: one entry per declaration, each with `name`, `state` and `references` (the ids
        of the live objects in force that carry the name), then the kind's own keys."""

    def extra(self, module, scan: Scan) -> dict:
        """The info result's keys of this kind alone."""
        return {}

    # -- the report part ----------------------------------------------------------------------------------------

    def part(self, result: dict) -> Part:
        """The kind's part of one info result (rows and findings copied); a failed or skipped result is an error."""
        if result.get("failed") or result.get("skipped") or self.items_key not in result:
            reason = "skipped" if result.get("skipped") else "no %s result for this host" % self.info_module
            return Part([], [], str(result.get("msg") or reason))
        # The report names each object by the kind's own id and time keys; the common ones are the info result's.
        return Part(
            [_without(row, COMMON_ROW_KEYS) for row in result[self.items_key] or []],
            [_without(f, ("reference",)) for f in result.get("findings") or []],
        )

    def counts(self, part: Part) -> dict:
        """The counts of the kind's part of one company: objects, findings per kind, errors."""
        prefix = self.count_prefix
        return {
            self.items_key: len(part.rows),
            prefix + "findings": self.finding_counts(part.findings),
            prefix + "errors": sum(1 for f in part.findings if f.get("severity") == "error"),
        }

    def finding_counts(self, findings: list) -> dict:
        """Finding kind -> how many of `findings` (as an info result lists them), every kind of the catalogue."""
        counts = self.catalogue.summary([])
        for finding in findings:
            counts[finding["kind"]] = counts.get(finding["kind"], 0) + 1
        return counts

    def csv_rows(self, part_rows: list) -> list:
        """The CSV rows of the kind's rows (dicts by column), without the columns of where they were found."""
        return [dict(row) for row in part_rows]

    def html_context(self, report: dict) -> dict:
        """What the kind's HTML section needs besides the report and its summary."""
        return {}


def _without(item: dict, keys: tuple) -> dict:
    return {k: v for k, v in item.items() if k not in keys}
