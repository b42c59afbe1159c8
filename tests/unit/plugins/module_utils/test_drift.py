"""Drift, finding by finding: declared tokens + listed tokens + store holdings + now -> findings."""
from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _drift as d
from ansible_collections.ksef.credentials.plugins.module_utils import _identity as identity
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import token_plan as p

NOW = datetime(2025, 10, 1, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
RW = ("InvoiceRead", "InvoiceWrite")


def item(ref, age, name="erp", perms=RW, status="Active", text="ERP sender", used=None, author="5265877635"):
    """A GET /tokens item as KSeF returns it."""
    found = {"referenceNumber": ref, "status": status, "requestedPermissions": list(perms),
             "description": identity.compose(name, text) if name else text,
             "dateCreated": (NOW - age).isoformat().replace("+00:00", "Z"),
             "authorIdentifier": {"type": "Nip", "value": author},
             "contextIdentifier": {"type": "Nip", "value": "5265877635"}}
    if used is not None:
        found["lastUseDate"] = (NOW - used).isoformat()
    return found


def declared(name="erp", **kw):
    kw.setdefault("description", "ERP sender")
    kw.setdefault("permissions", RW)
    return p.Declared(name=name, **kw)


def held(name, *refs):
    return {name: [p.Holding("file:/etc/%s-%d" % (name, i), ref) for i, ref in enumerate(refs)]}


def kinds(findings):
    return [(f.kind, f.name, f.reference, f.store) for f in findings]


def test_in_sync_has_no_finding():
    found = d.drift([declared()], [item("A", DAY)], held("erp", "A"), NOW)
    assert found == []


def test_missing():
    found = d.drift([declared()], [item("A", DAY, status="Revoked")], held("erp", None), NOW)
    assert kinds(found) == [("missing", "erp", None, None)]
    assert found[0].severity == "error"


def test_scope_differs_names_both_sets():
    found = d.drift([declared(permissions=("InvoiceRead",))], [item("A", DAY)], held("erp", "A"), NOW)
    assert kinds(found) == [("scope_differs", "erp", "A", None)]
    assert "InvoiceRead,InvoiceWrite" in found[0].message and "declared InvoiceRead" in found[0].message


def test_store_missing_and_stale():
    tokens = [item("B", DAY), item("A", 10 * DAY)]
    holdings = {"erp": [p.Holding("file:/a", "B"), p.Holding("file:/b", None), p.Holding("file:/c", "A"),
                        p.Holding("file:/d", "GONE")]}
    found = d.drift([declared()], tokens, holdings, NOW)
    by_store = {f.store: f for f in found if f.store}
    assert by_store["file:/b"].kind == "store_missing"
    assert by_store["file:/c"].kind == "store_stale" and "older live token" in by_store["file:/c"].message
    assert by_store["file:/d"].kind == "store_stale" and "revoked or unknown" in by_store["file:/d"].message
    assert "file:/a" not in by_store
    # The older token A is superseded by B: the planner would revoke it.
    assert ("extra_managed", "erp", "A", None) in kinds(found)


def test_no_store_holds_the_live_token():
    found = d.drift([declared()], [item("A", DAY)], held("erp", None, "OLD"), NOW)
    assert [f.kind for f in found] == ["store_missing", "store_stale"]
    assert all(f.reference == "A" for f in found)


def test_rotation_overdue_from_declaration():
    found = d.drift([declared(rotate_after=90 * DAY)], [item("A", 91 * DAY)], held("erp", "A"), NOW)
    assert kinds(found) == [("rotation_overdue", "erp", "A", None)]
    assert "reached rotate_after 90d" in found[0].message
    assert d.drift([declared(rotate_after=90 * DAY)], [item("A", 89 * DAY)], held("erp", "A"), NOW) == []


def test_declared_rotate_after_wins_over_the_policy():
    policy = d.Policy(rotate_after=30 * DAY)
    found = d.drift([declared(rotate_after=90 * DAY)], [item("A", 60 * DAY)], held("erp", "A"), NOW, policy)
    assert found == []
    found = d.drift([declared()], [item("A", 60 * DAY)], held("erp", "A"), NOW, policy)
    assert kinds(found) == [("rotation_overdue", "erp", "A", None)]
    assert "policy" in found[0].message


def test_extra_managed_and_unmanaged():
    tokens = [item("A", DAY), item("X", DAY, name="forgotten"), item("H", DAY, name=None, text="made by hand")]
    found = d.drift([declared()], tokens, held("erp", "A"), NOW)
    assert kinds(found) == [("extra_managed", "forgotten", "X", None), ("unmanaged", None, "H", None)]
    assert [f.severity for f in found] == ["warning", "warning"]


def test_declared_absent_but_live_is_extra():
    found = d.drift([declared(state="absent")], [item("A", DAY)], {}, NOW)
    assert kinds(found) == [("extra_managed", "erp", "A", None)]
    assert "declared absent" in found[0].message


def test_declared_absent_with_a_store_still_holding_the_revoked_value():
    found = d.drift([declared(state="absent")], [item("R", DAY, status="Revoked")], held("erp", "R", None), NOW)
    assert kinds(found) == [("store_stale", "erp", "R", "file:/etc/erp-0")]
    assert "still holds R, a revoked or unknown token" in found[0].message


def test_unused_counts_from_last_use_or_creation():
    policy = d.Policy(unused_after=30 * DAY)
    tokens = [item("A", 100 * DAY, used=40 * DAY), item("B", 100 * DAY, name="b", used=DAY),
              item("C", 31 * DAY, name="c")]
    found = d.drift([declared(), declared("b"), declared("c")], tokens, {}, NOW, policy)
    assert kinds(found) == [("unused", "c", "C", None), ("unused", "erp", "A", None)]
    assert "never used" in found[0].message and "last used 40d ago" in found[1].message


def test_dead_tokens_are_ignored():
    tokens = [item("A", DAY), item("R", 200 * DAY, name=None, status="Revoked"),
              item("F", DAY, name="x", status="Failed")]
    found = d.drift([declared()], tokens, held("erp", "A"), NOW, d.Policy(DAY, DAY))
    assert {f.reference for f in found} == {"A"}
    assert d.drift([declared()], tokens, held("erp", "A"), NOW, d.Policy(unused_after=2 * DAY)) == []


def test_every_kind_has_a_severity_and_the_summary_lists_all():
    assert set(d.SEVERITY) == set(d.KINDS)
    counts = d.summary([d.Finding(d.UNUSED, "x"), d.Finding(d.UNUSED, "y")])
    assert list(counts) == list(d.KINDS) and counts["unused"] == 2 and counts["missing"] == 0


def test_findings_are_ordered_by_seriousness():
    tokens = [item("H", DAY, name=None, text="by hand"), item("A", DAY, perms=("InvoiceRead",))]
    found = d.drift([declared(), declared("gone")], tokens, held("erp", "A"), NOW)
    assert [f.kind for f in found] == ["missing", "scope_differs", "unmanaged"]


@pytest.mark.parametrize("rotate_after, due", [(None, None), (90 * DAY, True), (200 * DAY, False)])
def test_token_row(rotate_after, due):
    row = d.token_row(item("A", 100 * DAY, used=5 * DAY), NOW, rotate_after, 30 * DAY)
    assert row["name"] == "erp" and row["managed"] is True and row["description"] == "ERP sender"
    assert row["age_days"] == 100 and row["unused_days"] == 5 and row["unused"] is False
    assert row["rotation_due"] is due
    assert row["author"] == {"type": "Nip", "value": "5265877635"}
    assert row["last_used"] == (NOW - 5 * DAY).isoformat()


def test_token_row_of_an_unmanaged_never_used_token():
    row = d.token_row(item("H", 40 * DAY, name=None, text="made by hand"), NOW, None, 30 * DAY)
    assert row["name"] is None and row["managed"] is False and row["description"] == "made by hand"
    assert row["last_used"] is None and row["unused_days"] == 40 and row["unused"] is True


def test_revoked_token_is_never_due():
    row = d.token_row(item("R", 400 * DAY, status="Revoked"), NOW, 90 * DAY, 30 * DAY)
    assert row["rotation_due"] is False and row["unused"] is False


def test_without_a_declaration_only_the_policy_applies():
    tokens = [item("A", 100 * DAY), item("H", DAY, name=None, text="by hand")]
    found = d.drift(None, tokens, {}, NOW, d.Policy(rotate_after=90 * DAY))
    assert kinds(found) == [("rotation_overdue", "erp", "A", None)]
    # An empty declaration is a declaration: everything live is extra or unmanaged.
    assert [f.kind for f in d.drift([], tokens, {}, NOW)] == ["extra_managed", "unmanaged"]
