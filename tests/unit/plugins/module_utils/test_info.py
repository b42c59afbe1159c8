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
