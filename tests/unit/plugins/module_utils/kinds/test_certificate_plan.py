"""The certificate planner, branch by branch: (declared, certificates, store holdings, now) -> expected steps."""
from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import certificate_plan as c
from ansible_collections.ksef.credentials.plugins.module_utils._plan import Holding

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
D, H, M = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)


def cert(serial, age, left=700 * D, kind="Authentication", name="login", status="Active"):
    return c.ActualCertificate(serial, status, kind, c.ksef_name(name) if name else "someone's own",
                               NOW - age, NOW + left, NOW - age)


def stores(*serials):
    return [Holding("file:/s%d" % i, serial) for i, serial in enumerate(serials)]


def steps(decl, certificates, holdings, now=NOW):
    return [(s.action, s.reference_number) for s in c.plan(decl, certificates, holdings, now).steps]


CASES = {
    "nothing exists -> create": (c.Declared("login"), [], stores(None), [("create", None)]),
    "held, far from expiry -> keep": (c.Declared("login"), [cert("A", D)], stores("A"), [("keep", "A")]),
    "renew_before reached -> renew and revoke": (
        c.Declared("login"), [cert("A", 700 * D, left=29 * D)], stores("A"), [("renew", "A"), ("revoke", "A")]),
    "one second outside renew_before -> keep": (
        c.Declared("login"), [cert("A", D, left=30 * D + timedelta(seconds=1))], stores("A"), [("keep", "A")]),
    "exactly at renew_before -> renew": (
        c.Declared("login"), [cert("A", D, left=30 * D)], stores("A"), [("renew", "A"), ("revoke", "A")]),
    "renew with grace -> renew and retain": (
        c.Declared("login", revoke_previous_after=D), [cert("A", D, left=D)], stores("A"),
        [("renew", "A"), ("retain", "A")]),
    "type differs -> replace": (
        c.Declared("login", certificate_type="Offline"), [cert("A", D)], stores("A"),
        [("replace", "A"), ("revoke", "A")]),
    "no store holds the active one -> renew (the key is lost)": (
        c.Declared("login"), [cert("A", D)], stores(None), [("renew", "A"), ("revoke", "A")]),
    "the key is lost, with grace -> renew, the lost one kept like a token": (
        c.Declared("login", revoke_previous_after=D), [cert("A", D)], stores(None), [("renew", "A"), ("retain", "A")]),
    "a store lost it, another holds it -> copy": (
        c.Declared("login"), [cert("A", D)], stores("A", None), [("copy", "A"), ("keep", "A")]),
    "previous certificate past its grace -> revoke": (
        c.Declared("login"), [cert("B", H), cert("A", 2 * D)], stores("B"), [("keep", "B"), ("revoke", "A")]),
    "young orphan -> retain; old orphan -> revoke": (
        c.Declared("login"), [cert("C", M), cert("B", 2 * H), cert("A", D)], stores("A"),
        [("keep", "A"), ("retain", "C"), ("revoke", "B")]),
    "other names and revoked or expired ones are not ours": (
        c.Declared("login"), [cert("X", D, name="other"), cert("Y", D, name=None), cert("R", D, status="Revoked"),
                              cert("E", 800 * D, left=-D)], stores(None), [("create", None)]),
    "absent -> revoke every live one and purge": (
        c.Declared("login", state="absent"), [cert("B", H), cert("A", D)], stores("B"),
        [("revoke", "B"), ("revoke", "A"), ("purge", None)]),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_plan(case):
    decl, certificates, holdings, expected = CASES[case]
    assert steps(decl, certificates, holdings) == expected


def test_exclusive_managed_revokes_undeclared_managed_names_only():
    live = [cert("A", D), cert("B", D, name="old-one"), cert("U", D, name=None)]
    cplan = c.plan_subject([c.Declared("login")], live, {"login": stores("A")}, NOW, exclusive="managed")
    assert [(p.declared.name, [(s.action, s.reference_number) for s in p.steps]) for p in cplan.undeclared] == [
        ("old-one", [("revoke", "B")])]


def test_valid_from_in_the_future_keeps_the_predecessor_until_then():
    decl = c.Declared("login", renew=True, valid_from=NOW + 2 * D)
    assert steps(decl, [cert("A", D)], stores("A")) == [("renew", "A"), ("retain", "A")]


@pytest.mark.parametrize("options,option", [
    ({"name": "with.dot"}, "name"),
    ({"name": "ok\n"}, "name"),
    ({"name": "ok", "certificate_type": "Signing"}, "certificate_type"),
    ({"name": "ok", "key_type": "dsa"}, "key_type"),
    ({"name": "ok", "key_type": "rsa", "key_size": 4096}, "key_size"),
    ({"name": "ok", "key_type": "ec", "key_size": 384}, "key_size"),
    ({"name": "ok", "renew_before": "soon"}, "renew_before"),
    ({"name": "ok", "valid_from": "tomorrow"}, "valid_from"),
])
def test_declare_names_the_option_at_fault(options, option):
    with pytest.raises(KsefConfigError) as caught:
        c.declare(options)
    assert caught.value.option == option


def test_names_round_trip_through_the_ksef_name():
    assert c.name_of(c.ksef_name("automation-login")) == "automation-login"
    assert c.name_of("ksef-credentials Not Ours") is None and c.name_of("automation-login") is None


def test_absent_refuses_to_revoke_the_certificate_the_run_logs_in_with_unless_forced():
    live, held = [cert("B", H), cert("A", D)], stores("A")
    with pytest.raises(c.LockoutError) as caught:
        c.plan(c.Declared("login", state="absent"), live, held, NOW, protected={"A"})
    assert caught.value.option == "force"
    assert "certificate A, which this run logs in with" in str(caught.value) and "set force: true" in str(caught.value)
    forced = c.plan(c.Declared("login", state="absent", force=True), live, held, NOW, protected={"A"})
    assert [(s.action, s.reference_number) for s in forced.steps] == [("revoke", "B"), ("revoke", "A"), ("purge", None)]
    # Another certificate of the name is no lockout; neither is a login with none of them.
    assert c.plan(c.Declared("other", state="absent"), [cert("X", D, name="other")], [], NOW, protected={"A"}).steps


def test_exclusive_refuses_to_prune_the_certificate_the_run_logs_in_with():
    live = [cert("A", D), cert("L", D, name="old-login")]
    with pytest.raises(c.LockoutError) as caught:
        c.plan_subject([c.Declared("login")], live, {"login": stores("A")}, NOW, exclusive="managed", protected={"L"})
    assert caught.value.option == "exclusive"
    assert "'old-login' is no longer declared" in str(caught.value) and "declare 'old-login' again" in str(caught.value)
    # Declared, the login certificate is kept; without exclusive nothing is pruned at all.
    kept = c.plan_subject([c.Declared("login"), c.Declared("old-login")], live, {"login": stores("A"),
                          "old-login": stores("L")}, NOW, exclusive="managed", protected={"L"})
    assert [s.action for s in kept.declared["old-login"].steps] == ["keep"]
    assert c.plan_subject([c.Declared("login")], live, {"login": stores("A")}, NOW, protected={"L"}).undeclared == []


def test_a_validity_not_longer_than_renew_before_warns_naming_both():
    short = cert("A", 10 * D, left=5 * D)  # valid 15 days, renew_before 30 days: due at every run
    cplan = c.plan_subject([c.Declared("login")], [short], {"login": stores("A")}, NOW)
    assert [s.action for s in cplan.declared["login"].steps] == ["renew", "revoke"]
    (warning,) = cplan.warnings
    assert "valid for 15d" in warning and "renew_before 30d" in warning and "every run renews it" in warning
    long = cert("A", 700 * D, left=29 * D)  # due now, but a renewal lasts: no warning
    assert c.plan_subject([c.Declared("login")], [long], {"login": stores("A")}, NOW).warnings == []


def test_a_live_certificate_this_host_neither_holds_nor_enrolled_is_another_hosts_and_refuses_the_run():
    live = [cert("B", H), cert("A", D)]
    with pytest.raises(c.ForeignCertificateError) as refused:
        c.plan_subject([c.Declared("login")], live, {"login": stores("B")}, NOW, owned=frozenset())
    message = str(refused.value)
    assert refused.value.option == "certificates"
    for said in ("login: active certificate A ", "ksef_certificates", c.LAYOUT, "force: true", "nothing was changed"):
        assert said in message, said
    # Enrolled here (the journal) or held: this host's, planned as before; force: true supersedes another's.
    for owned, decl in ((frozenset({"A"}), c.Declared("login")), (frozenset(), c.Declared("login", force=True))):
        plan = c.plan_subject([decl], live, {"login": stores("B")}, NOW, owned=owned).declared["login"]
        assert [(s.action, s.reference_number) for s in plan.steps] == [("keep", "B"), ("revoke", "A")]
    # Without the journal (None) there is no guard: the planner alone cannot tell.
    assert c.plan_subject([c.Declared("login")], live, {"login": stores("B")}, NOW).declared["login"].steps


def test_exclusive_managed_never_prunes_another_hosts_certificate():
    live = [cert("A", D, name="person-login"), cert("O", D, name="old-login"), cert("P", D, name="old-login")]
    cplan = c.plan_subject([], live, {}, NOW, exclusive="managed", owned=frozenset({"O"}))
    assert [(p.declared.name, [(s.action, s.reference_number) for s in p.steps]) for p in cplan.undeclared] == [
        ("old-login", [("revoke", "O")])]
    assert len(cplan.warnings) == 2 and all("another host" in w for w in cplan.warnings)
    assert "A" in cplan.warnings[1] and "P" in cplan.warnings[0]
