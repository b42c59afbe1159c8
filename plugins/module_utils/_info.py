# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The info modules (token_info, certificate_info, permission_info) as one pattern: each module is its
documentation, its own options and one call of `run` with its kind's `_audit.Audit`.

    declared        validated as the module that applies them validates them (kind.declare), before any request;
                    a kind with a value also takes `store_template`, and its stores are read (which credential
                    each holds, never the value)
    read            the audit's live objects, in one session
    findings        the audit's drift against the declared list and the policy, one `_findings.Finding` type
    rows            one row per live object, each with the kinds of the findings about it, most serious first
    result          changed: false, `kind` (the kind's noun, so the audit report tells the results apart), the
                    rows under the kind's plural (`tokens`, `certificates`, `grants`), `findings`, `summary`,
                    `declared`, `context`, `api_url`, `token_auth_end`, `scanned_at` and the audit's own keys

One result shape for every kind (docs/audit.md): every row has `reference` and `since` next to the kind's own id
and time keys, every finding `kind`, `severity`, `name`, `reference`, `store`, `message`, every summary the counts
of `Audit.common_summary`, and `declared` one entry per declaration with `name`, `state` and `references`.

Read-only: nothing is created, revoked or written, in check mode or not.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ansible_collections.ksef.credentials.plugins.module_utils._audit import Audit, Scan
from ansible_collections.ksef.credentials.plugins.module_utils._declarations import declarations, read_holdings
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefError
from ansible_collections.ksef.credentials.plugins.module_utils._module import KsefModule


def argument_spec(audit: Audit, options: dict) -> dict:
    """The module's options: its own, `declared`, and for a kind with a value the `store_template` of its kind."""
    spec = dict(options, declared=dict(type="list", elements="dict"))
    if audit.kind.holds_value:
        spec["store_template"] = dict(audit.store_option)
    return spec


def run(audit: Audit, options: dict) -> None:
    """The whole info module: its options (besides `declared` and `store_template`) are `options`."""
    module = KsefModule(argument_spec=argument_spec(audit, options), supports_check_mode=True)
    audit.check(module)
    given = module.params.get("declared")
    try:
        policy = audit.policy(module.params)
        template = (module.params.get("store_template") or ()) if audit.kind.holds_value else ()
        entries = declarations(module, audit.kind, given or [], "declared", template)
        scan = Scan(module, policy, entries, [entry.declared for entry in entries] if given is not None else None, {})
        if audit.kind.holds_value:
            scan.holdings = read_holdings(module, entries)
        with module.ksef_session() as api:
            scan.live = audit.read(module, api, scan)
    except KsefError as exc:
        module.fail_from(exc)
    scan.now = datetime.now(timezone.utc)
    found = audit.findings(module, scan)
    rows = [audit.common_row(row) for row in audit.rows(module, scan)]
    about = kinds_by_reference(found, audit.catalogue.order)
    for row in rows:
        row["findings"] = about.get(row["reference"], [])
    module.exit_json(
        changed=False,
        kind=audit.kind.noun,
        findings=[f.as_dict() for f in found],
        summary=audit.summary(rows, found),
        declared=audit.declared_view(scan),
        context=module.ksef_context.as_api(),
        api_url=module.ksef_connection.base_url,
        token_auth_end=module.token_auth_end.isoformat(),
        scanned_at=scan.now.isoformat(),
        **{audit.items_key: rows},
        **audit.extra(module, scan),
    )


def kinds_by_reference(found: list, order: tuple) -> dict:
    """identifier -> the kinds of the findings about that object, each once, most serious first."""
    about: dict = {}
    for finding in found:
        if finding.reference and finding.kind not in about.setdefault(finding.reference, []):
            about[finding.reference].append(finding.kind)
    rank = {kind: index for index, kind in enumerate(order)}
    return {ref: sorted(kinds, key=lambda k: rank.get(k, len(rank))) for ref, kinds in about.items()}
