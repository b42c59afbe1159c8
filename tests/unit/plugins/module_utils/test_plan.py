"""The planner, branch by branch: each case is (declared, tokens, store holdings, now) -> expected steps."""
from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _identity as identity
from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p

NOW = datetime(2025, 10, 1, 12, 0, tzinfo=timezone.utc)
RW = ("InvoiceRead", "InvoiceWrite")


def token(ref, age, status="Active", perms=RW, name="erp", text="ERP sender"):
    description = identity.compose(name, text) if name else text
    return p.ActualToken(ref, status, tuple(perms), description, NOW - age)


def declared(**kw):
    kw.setdefault("name", "erp")
    kw.setdefault("description", "ERP sender")
    kw.setdefault("permissions", RW)
    return p.Declared(**kw)


def stores(*refs):
    return [p.Holding("file:/s%d" % i, ref) for i, ref in enumerate(refs)]


D, H, M = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)

CASES = {
    "nothing exists -> create": dict(
        decl=declared(), tokens=[], holdings=stores(None),
        steps=[("create", None)]),
    "no stores, nothing exists -> create": dict(
        decl=declared(), tokens=[], holdings=[],
        steps=[("create", None)]),
    "held and matching -> keep": dict(
        decl=declared(), tokens=[token("A", D)], holdings=stores("A"),
        steps=[("keep", "A")]),
    "no stores, newest active is current -> keep, older revoked": dict(
        decl=declared(), tokens=[token("A", 2 * D), token("B", D)], holdings=[],
        steps=[("keep", "B"), ("revoke", "A")]),
    "permissions changed -> replace, old revoked": dict(
        decl=declared(permissions=("InvoiceRead",)), tokens=[token("A", D)], holdings=stores("A"),
        steps=[("replace", "A"), ("revoke", "A")]),
    "rotate: true -> rotate": dict(
        decl=declared(rotate=True), tokens=[token("A", M)], holdings=stores("A"),
        steps=[("rotate", "A"), ("revoke", "A")]),
    "age reached rotate_after -> rotate": dict(
        decl=declared(rotate_after=90 * D), tokens=[token("A", 91 * D)], holdings=stores("A"),
        steps=[("rotate", "A"), ("revoke", "A")]),
    "age below rotate_after -> keep": dict(
        decl=declared(rotate_after=90 * D), tokens=[token("A", 89 * D)], holdings=stores("A"),
        steps=[("keep", "A")]),
    "rotate with grace -> old retained": dict(
        decl=declared(rotate=True, revoke_previous_after=H), tokens=[token("A", D)], holdings=stores("A"),
        steps=[("rotate", "A"), ("retain", "A")]),
    "previous within grace -> retained": dict(
        decl=declared(revoke_previous_after=H), tokens=[token("A", D), token("B", 30 * M)],
        holdings=stores("B"), steps=[("keep", "B"), ("retain", "A")]),
    "previous past grace -> revoked": dict(
        decl=declared(revoke_previous_after=H), tokens=[token("A", D), token("B", 2 * H)],
        holdings=stores("B"), steps=[("keep", "B"), ("revoke", "A")]),
    "store empty, another store holds current -> copy": dict(
        decl=declared(), tokens=[token("A", D)], holdings=stores("A", None),
        steps=[("copy", "A"), ("keep", "A")]),
    "store holds a revoked token, another holds current -> copy": dict(
        decl=declared(), tokens=[token("A", D)], holdings=stores("GONE", "A"),
        steps=[("copy", "A"), ("keep", "A")]),
    "store holds the previous token -> copy current, revoke previous": dict(
        decl=declared(), tokens=[token("A", 2 * D), token("B", D)], holdings=stores("A", "B"),
        steps=[("copy", "B"), ("keep", "B"), ("revoke", "A")]),
    "every store lost the value -> rotate (store drift), lost token revoked": dict(
        decl=declared(), tokens=[token("A", D)], holdings=stores(None, None),
        steps=[("rotate", "A"), ("revoke", "A")]),
    "store holds an unknown token only -> rotate with drift": dict(
        decl=declared(), tokens=[token("A", D)], holdings=stores("GONE"),
        steps=[("rotate", "A"), ("revoke", "A")]),
    "value lost with grace -> lost token retained": dict(
        decl=declared(revoke_previous_after=H), tokens=[token("A", D)], holdings=stores(None),
        steps=[("rotate", "A"), ("retain", "A")]),
    "store holds unknown token, no live token -> create": dict(
        decl=declared(), tokens=[], holdings=stores("GONE"),
        steps=[("create", None)]),
    "orphan newer than current, older than margin -> revoked": dict(
        decl=declared(), tokens=[token("A", D), token("O", 11 * M)], holdings=stores("A"),
        steps=[("keep", "A"), ("revoke", "O")]),
    "orphan younger than margin -> retained (rotation in progress)": dict(
        decl=declared(), tokens=[token("A", D), token("O", 2 * M)], holdings=stores("A"),
        steps=[("keep", "A"), ("retain", "O")]),
    "young unheld token while issuing -> retained": dict(
        decl=declared(), tokens=[token("O", 2 * M, status="Pending")], holdings=stores(None),
        steps=[("create", None), ("retain", "O")]),
    "pending current -> wait then keep": dict(
        decl=declared(), tokens=[token("A", 5 * M, status="Pending")], holdings=[],
        steps=[("wait", "A"), ("keep", "A")]),
    "pending current held by a store -> wait then keep": dict(
        decl=declared(), tokens=[token("P", M, status="Pending"), token("A", D)], holdings=stores("P"),
        steps=[("wait", "P"), ("keep", "P"), ("revoke", "A")]),
    "dead statuses, other names and unmanaged tokens are ignored": dict(
        decl=declared(), tokens=[token("R", D, status="Revoked"), token("F", D, status="Failed"),
                                 token("G", D, status="Revoking"), token("X", D, name="other"),
                                 token("U", D, name=None, text="erp by hand")],
        holdings=stores(None), steps=[("create", None)]),
    "absent -> revoke every live token": dict(
        decl=declared(state="absent"), tokens=[token("A", D), token("B", H)], holdings=stores("B"),
        steps=[("revoke", "B"), ("revoke", "A")]),
    "absent, pending -> wait then revoke": dict(
        decl=declared(state="absent"), tokens=[token("A", M, status="Pending")], holdings=[],
        steps=[("wait", "A"), ("revoke", "A")]),
    "absent, nothing there -> nothing": dict(
        decl=declared(state="absent"), tokens=[token("R", D, status="Revoked")], holdings=[], steps=[]),
    "absent, the token this run logged in with -> retained": dict(
        decl=declared(state="absent"), tokens=[token("A", D)], holdings=[], protected={"A"},
        steps=[("retain", "A")]),
    "absent with force -> even the login token is revoked": dict(
        decl=declared(state="absent", force=True), tokens=[token("A", D)], holdings=[], protected={"A"},
        steps=[("revoke", "A")]),
    "absent with purge -> stores emptied": dict(
        decl=declared(state="absent", purge=True), tokens=[token("A", D)], holdings=stores("A", None),
        steps=[("revoke", "A"), ("purge", None)]),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_plan(case):
    result = p.plan(case["decl"], case["tokens"], case["holdings"], NOW, protected=case.get("protected", set()))
    assert [(s.action, s.reference_number) for s in result.steps] == case["steps"]
    assert result.changed == any(a in p.CHANGING for a, _reason in case["steps"])
    for step in result.steps:
        assert step.reason


def test_issue_writes_every_store_and_copy_names_source_and_targets():
    result = p.plan(declared(rotate=True), [token("A", D)], stores("A", None), NOW)
    assert result.issue.stores == ("file:/s0", "file:/s1")
    result = p.plan(declared(), [token("A", D)], stores(None, "A", "GONE"), NOW)
    copy = result.of(p.COPY)[0]
    assert copy.source == "file:/s1" and copy.stores == ("file:/s0", "file:/s2")
    assert "file:/s0 holds nothing" in copy.reason and "GONE, which is revoked or unknown" in copy.reason


def test_reasons_explain_age_and_grace():
    result = p.plan(declared(rotate_after=90 * D), [token("A", 91 * D)], stores("A"), NOW)
    assert result.issue.reason == "age 91d reached rotate_after 90d"
    result = p.plan(declared(rotate=True, revoke_previous_after=H), [token("A", D)], stores("A"), NOW)
    assert "2025-10-01T13:00:00+00:00" in result.of(p.RETAIN)[0].reason


def test_before_and_after_never_hold_a_value_and_describe_the_change():
    result = p.plan(declared(permissions=("InvoiceRead",)), [token("A", D)], stores("A"), NOW)
    assert result.before() == {"name": "erp", "reference_number": "A", "status": "Active",
                               "permissions": list(RW), "description": "ERP sender",
                               "created": (NOW - D).isoformat()}
    assert result.after()["permissions"] == ["InvoiceRead"] and result.after()["reference_number"] is None
    kept = p.plan(declared(), [token("A", D)], stores("A"), NOW)
    assert kept.before() == kept.after() and not kept.changed


def test_description_change_alone_keeps_the_token_and_warns():
    result = p.plan(declared(description="New text"), [token("A", D)], stores("A"), NOW)
    assert [s.action for s in result.steps] == ["keep"]
    assert "description" in result.warnings[0]


def test_api_items_are_accepted_and_timestamps_with_seven_digits_parse():
    item = {"referenceNumber": "20251001-EC-2DD3AFF000-A6B7F19A95-11", "status": "Active",
            "requestedPermissions": ["InvoiceWrite", "InvoiceRead"],
            "description": identity.compose("erp", "ERP sender"),
            "dateCreated": "2025-09-30T12:00:00.9919681+00:00"}
    result = p.plan(declared(), [item], stores(item["referenceNumber"]), NOW)
    assert [s.action for s in result.steps] == ["keep"]
    assert result.current.created == datetime(2025, 9, 30, 12, 0, 0, 991968, tzinfo=timezone.utc)


def test_timestamps_without_offset_are_refused():
    with pytest.raises(ValueError):
        p.parse_timestamp("2025-09-30T12:00:00")
    assert p.parse_timestamp("2025-09-30T12:00:00Z") == datetime(2025, 9, 30, 12, tzinfo=timezone.utc)
