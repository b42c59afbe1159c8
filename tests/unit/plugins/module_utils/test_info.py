"""The info modules' one pattern: the options each kind's module gets, and the findings each row names."""
from ansible_collections.ksef.credentials.plugins.module_utils import _info
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import certificate_drift as c
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate_audit import CERTIFICATE_AUDIT
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_audit import GRANT_AUDIT
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token_audit import TOKEN_AUDIT


def test_a_kind_with_a_value_takes_a_store_template_and_a_kind_without_one_does_not():
    own = {"renew_before": {"type": "str", "default": "30d"}}
    spec = _info.argument_spec(CERTIFICATE_AUDIT, own)
    assert set(spec) == {"renew_before", "declared", "store_template"}
    assert spec["store_template"]["type"] == "list" and spec["declared"] == {"type": "list", "elements": "dict"}
    assert set(_info.argument_spec(GRANT_AUDIT, {})) == {"declared"}
    assert "store_template" in _info.argument_spec(TOKEN_AUDIT, {})


def test_each_row_names_the_kinds_of_its_findings_once_most_serious_first():
    found = [
        c.Finding(c.UNDECLARED, "not declared", "old", "A1"),
        c.Finding(c.EXPIRING, "ends soon", "old", "A1"),
        c.Finding(c.REVOKED_STORED, "a store holds it", "login", "A1", "file:/a.pem"),
        c.Finding(c.REVOKED_STORED, "another store holds it", "login", "A1", "file:/b.pem"),
        c.Finding(c.MISSING, "no certificate", "login"),  # about no live object: on no row
    ]
    assert _info.kinds_by_reference(found, c.CATALOGUE.order) == {"A1": ["revoked_stored", "expiring", "undeclared"]}


AUDITS = (TOKEN_AUDIT, CERTIFICATE_AUDIT, GRANT_AUDIT)
COMMON_SUMMARY = {"managed", "findings", "findings_total", "errors", "warnings"}


def test_every_kind_counts_the_same_common_keys_and_keeps_its_own():
    own = {TOKEN_AUDIT: {"live", "unmanaged"}, CERTIFICATE_AUDIT: {"active"}, GRANT_AUDIT: set()}
    for audit in AUDITS:
        order = audit.catalogue.order
        found = [
            audit.catalogue.finding(order[0], "one", severity="error"),
            audit.catalogue.finding(order[0], "two", severity="warning"),
            audit.catalogue.finding(order[-1], "three", severity="info"),
        ]
        rows = [{"managed": True, "status": "Active"}, {"managed": False, "status": "Revoked"}]
        summary = audit.summary(rows, found)
        assert set(summary) == COMMON_SUMMARY | {audit.items_key} | own[audit], audit.noun
        assert summary[audit.items_key] == 2 and summary["managed"] == 1
        assert (summary["findings_total"], summary["errors"], summary["warnings"]) == (3, 1, 1)
        assert set(summary["findings"]) == set(order) and sum(summary["findings"].values()) == 3


def test_every_finding_names_its_object_under_reference_next_to_the_kinds_own_key():
    for audit in AUDITS:
        finding = audit.catalogue.finding(audit.catalogue.order[0], "text", "a-name", "ID-1").as_dict()
        assert finding["reference"] == finding[audit.catalogue.id_key] == "ID-1"
        assert {"kind", "severity", "name", "reference", "store", "message"} <= set(finding)


def test_every_row_has_reference_and_since_next_to_its_own_keys_and_the_report_keeps_its_own():
    for audit in AUDITS:
        own = {audit.catalogue.id_key: "ID-1", audit.time_key: "2026-12-04T12:00:00+00:00", "managed": True}
        row = audit.common_row(own)
        assert row == dict(own, reference="ID-1", since="2026-12-04T12:00:00+00:00")
        finding = audit.catalogue.finding(audit.catalogue.order[0], "text", None, "ID-1").as_dict()
        part = audit.part({"kind": audit.noun, audit.items_key: [row], "findings": [finding]})
        (kept,) = part.rows
        assert {k: v for k, v in kept.items() if k != "findings"} == own and "reference" not in part.findings[0]
