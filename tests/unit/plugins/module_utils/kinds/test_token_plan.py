"""The planner, branch by branch: each case is (declared, tokens, store holdings, now) -> expected steps."""
from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _identity as identity
from ansible_collections.ksef.credentials.plugins.module_utils import _timestamps
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import token_plan as p

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
    "age exactly rotate_after -> rotate (the boundary is inclusive)": dict(
        decl=declared(rotate_after=90 * D), tokens=[token("A", 90 * D)], holdings=stores("A"),
        steps=[("rotate", "A"), ("revoke", "A")]),
    "age one second below rotate_after -> keep": dict(
        decl=declared(rotate_after=90 * D), tokens=[token("A", 90 * D - timedelta(seconds=1))], holdings=stores("A"),
        steps=[("keep", "A")]),
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
    "value lost right after the token was made -> rotate, the lost token revoked in the same run": dict(
        decl=declared(), tokens=[token("A", 2 * M)], holdings=stores(None),
        steps=[("rotate", "A"), ("revoke", "A")]),
    "value lost right after the token was made, with grace -> lost token retained for the grace": dict(
        decl=declared(revoke_previous_after=H), tokens=[token("A", 2 * M)], holdings=stores(None),
        steps=[("rotate", "A"), ("retain", "A")]),
    "value lost, an older and a young unheld token -> rotate the newest, both superseded": dict(
        decl=declared(), tokens=[token("A", D), token("B", 2 * M)], holdings=stores(None),
        steps=[("rotate", "B"), ("revoke", "B"), ("revoke", "A")]),
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
    "absent -> revoke every live token, and the stores keep none of them": dict(
        decl=declared(state="absent"), tokens=[token("A", D), token("B", H)], holdings=stores("B"),
        steps=[("revoke", "B"), ("revoke", "A"), ("purge", None)]),
    "absent with purge false -> the stores are left as they are": dict(
        decl=declared(state="absent", purge=False), tokens=[token("A", D), token("B", H)], holdings=stores("B"),
        steps=[("revoke", "B"), ("revoke", "A")]),
    "absent, a store holds the login token -> retained, and so is its value": dict(
        decl=declared(state="absent"), tokens=[token("A", D), token("B", H)], holdings=stores("A", "B"),
        protected={"A"}, steps=[("revoke", "B"), ("retain", "A"), ("purge", None)]),
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
        _timestamps.parse("2025-09-30T12:00:00")
    assert _timestamps.parse("2025-09-30T12:00:00Z") == datetime(2025, 9, 30, 12, tzinfo=timezone.utc)


# -- one context: every declared name from one list ------------------------------------------------------------

MANAGER = ("CredentialsManage", "CredentialsRead")


def ctoken(ref, name=None, text="ERP sender", perms=RW, status="Active", age=D):
    description = identity.compose(name, text) if name else text
    return p.ActualToken(ref, status, tuple(perms), description, NOW - age)


def cdeclared(name, **kw):
    kw.setdefault("description", "%s text" % name)
    kw.setdefault("permissions", RW)
    return p.Declared(name=name, **kw)


def held(ref=None, label="file:/s"):
    return [p.Holding(label, ref)]


def rows(cplan):
    return [(row["name"], row["action"], row["reference_number"]) for row in cplan.rows()]


def test_each_declared_name_is_planned_from_one_shared_list():
    tokens = [ctoken("A", "erp", "erp text"), ctoken("B", "arch", "arch text", age=H), ctoken("X", "other", "x")]
    cplan = p.plan_context([cdeclared("erp"), cdeclared("arch", permissions=("InvoiceRead",)), cdeclared("new")],
                           tokens, {"erp": held("A"), "arch": held("B"), "new": held()}, NOW)
    assert rows(cplan) == [("erp", "keep", "A"), ("arch", "replace", "B"), ("arch", "revoke", "B"),
                           ("new", "create", None)]
    assert cplan.changed and cplan.summary() == {"create": 1, "keep": 1, "replace": 1, "revoke": 1}
    assert set(cplan.rows()[0]) == {"name", "action", "reference_number", "reason"}


def test_nothing_outside_the_declared_names_is_touched_without_exclusive():
    tokens = [ctoken("A", "erp", "erp text"), ctoken("X", "other", "x"), ctoken("U")]
    cplan = p.plan_context([cdeclared("erp")], tokens, {"erp": held("A")}, NOW)
    assert rows(cplan) == [("erp", "keep", "A")] and not cplan.changed


def test_exclusive_managed_revokes_undeclared_names_only():
    tokens = [ctoken("A", "erp", "erp text"), ctoken("X", "other", "x"), ctoken("P", "late", "y", status="Pending"),
              ctoken("U")]
    cplan = p.plan_context([cdeclared("erp")], tokens, {"erp": held("A")}, NOW, exclusive="managed")
    assert rows(cplan) == [("erp", "keep", "A"), ("late", "wait", "P"), ("late", "revoke", "P"),
                           ("other", "revoke", "X")]
    assert cplan.rows()[-1]["reason"] == "not declared (exclusive: managed)"


def test_exclusive_all_revokes_unmanaged_tokens_but_keeps_the_login_token():
    tokens = [ctoken("A", "erp", "erp text"), ctoken("U", text="web app"), ctoken("M", text="manager", perms=MANAGER)]
    cplan = p.plan_context([cdeclared("erp")], tokens, {"erp": held("A")}, NOW, exclusive="all", protected={"M"})
    assert rows(cplan) == [("erp", "keep", "A"), (None, "revoke", "U"), (None, "retain", "M")]
    assert "revoke_auth_token: true" in cplan.rows()[-1]["reason"]
    forced = p.plan_context([cdeclared("erp")], tokens, {"erp": held("A")}, NOW, exclusive="all", protected={"M"},
                            revoke_auth_token=True)
    assert (None, "revoke", "M") in rows(forced)


def test_a_declared_absent_name_keeps_the_login_token_unless_revoke_auth_token():
    tokens = [ctoken("M", "manager", "manager", perms=MANAGER)]
    cplan = p.plan_context([cdeclared("manager", state="absent")], tokens, {"manager": []}, NOW, protected={"M"})
    assert rows(cplan) == [("manager", "retain", "M")]
    assert "revoke_auth_token" in cplan.rows()[0]["reason"]
    forced = p.plan_context([cdeclared("manager", state="absent")], tokens, {"manager": []}, NOW, protected={"M"},
                            revoke_auth_token=True)
    assert rows(forced) == [("manager", "revoke", "M")]


def test_a_reused_session_keeps_every_token_that_could_have_opened_it():
    tokens = [ctoken("U", text="web app"), ctoken("M", text="manager", perms=MANAGER),
              ctoken("N", "ops", "ops", perms=MANAGER)]
    cplan = p.plan_context([], tokens, {}, NOW, exclusive="all", auth_token_unknown=True)
    assert rows(cplan) == [("ops", "retain", "N"), (None, "revoke", "U"), (None, "retain", "M")]
    assert all("auth.access_token" in row["reason"] for row in cplan.rows() if row["action"] == "retain")


def test_adopt_keeps_an_unmanaged_token_whose_value_a_store_holds():
    tokens = [ctoken("U", text="erp text")]
    cplan = p.plan_context([cdeclared("erp")], tokens, {"erp": held("U")}, NOW, adopt=True, exclusive="all")
    assert rows(cplan) == [("erp", "keep", "U")]
    assert cplan.rows()[0]["reason"].startswith("adopted:")
    assert cplan.adopted == {"erp": "U"} and not cplan.changed
    assert cplan.declared["erp"].before()["name"] == "erp"


def test_adopt_without_the_value_in_a_store_creates_and_says_why():
    tokens = [ctoken("U", text="erp text")]
    cplan = p.plan_context([cdeclared("erp")], tokens, {"erp": held()}, NOW, adopt=True)
    assert rows(cplan) == [("erp", "create", None)]
    assert "unmanaged token U" in cplan.rows()[0]["reason"] and "adopting needs the value" in cplan.rows()[0]["reason"]
    assert cplan.adopted == {} and any("U" in w for w in cplan.warnings)


@pytest.mark.parametrize("other", [
    ctoken("U", text="other text"),                       # description differs
    ctoken("U", text="erp text", perms=("InvoiceRead",)),  # permissions differ
    ctoken("U", text="erp text", status="Pending"),       # not Active yet
])
def test_adopt_needs_equal_description_and_permissions_of_an_active_token(other):
    cplan = p.plan_context([cdeclared("erp")], [other], {"erp": held("U")}, NOW, adopt=True)
    assert rows(cplan)[0][:2] == ("erp", "create") and cplan.adopted == {}


def test_an_adopted_token_is_superseded_by_a_managed_one_at_its_rotation():
    tokens = [ctoken("U", text="erp text", age=100 * D)]
    cplan = p.plan_context([cdeclared("erp", rotate_after=90 * D)], tokens, {"erp": held("U")}, NOW, adopt=True)
    assert rows(cplan) == [("erp", "rotate", "U"), ("erp", "revoke", "U")]


def test_one_unmanaged_token_is_adopted_by_one_name_only():
    tokens = [ctoken("U", text="same text")]
    both = [cdeclared("a", description="same text"), cdeclared("b", description="same text")]
    cplan = p.plan_context(both, tokens, {"a": held("U", "file:/a"), "b": held("U", "file:/b")}, NOW, adopt=True)
    assert cplan.adopted == {"a": "U"}
    assert rows(cplan)[0] == ("a", "keep", "U") and rows(cplan)[1][:2] == ("b", "create")


def test_unknown_exclusive_value_is_refused():
    with pytest.raises(ValueError):
        p.plan_context([], [], {}, NOW, exclusive="everything")


def test_absent_purges_only_the_stores_whose_token_is_revoked_or_dead():
    holdings = stores("A", "B", "R", None)  # A: the login token (retained), B: revoked now, R: long revoked
    result = p.plan(declared(state="absent"), [token("A", D), token("B", H)], holdings, NOW, protected={"A"})
    purge = next(step for step in result.steps if step.action == "purge")
    assert purge.stores == ("file:/s1", "file:/s2")


@pytest.mark.parametrize("grace", [timedelta(0), H], ids=["no grace", "grace 1h"])
def test_a_lost_young_token_is_planned_as_the_run_after_plans_it(grace):
    """The plan of the run that rotates a token whose value was lost says what the next run does with the old
    token: revoked now without a grace, kept until the same moment with one; the run after changes nothing."""
    decl = declared(revoke_previous_after=grace)
    first = p.plan(decl, [token("A", 2 * M)], stores(None), NOW)
    old = first.of(p.REVOKE, p.RETAIN)
    assert [(s.action, s.reference_number) for s in old] == [("revoke" if not grace else "retain", "A")]
    if grace:
        assert old[0].until == (NOW + grace).isoformat()
        assert old[0].reason == "value lost from the stores; kept until %s (revoke_previous_after 1h)" % old[0].until
    else:
        assert old[0].reason == "no store holds its value; superseded by the new token"
    assert "in progress" not in " ".join(s.reason for s in first.steps)

    # The next run, seconds later: the new token B (made at NOW) is in the store; A is revoked or retained.
    later = NOW + timedelta(seconds=30)
    a_now = p.ActualToken("A", "Revoking" if not grace else "Active", RW, identity.compose("erp", "ERP sender"),
                          NOW - 2 * M)
    b = p.ActualToken("B", "Active", RW, identity.compose("erp", "ERP sender"), NOW)
    second = p.plan(decl, [a_now, b], stores("B"), later)
    assert second.changed is False
    expected = [("keep", "B")] + ([("retain", "A")] if grace else [])
    assert [(s.action, s.reference_number) for s in second.steps] == expected
    if grace:
        assert second.of(p.RETAIN)[0].until == old[0].until, "kept until the moment the first run announced"
