"""The grant planner: declarations and listed rows -> steps; pure, no I/O."""
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import grant_plan as g
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_requests import GRANT_ENDPOINT

HERE = ("Nip", "5265877635")
PESEL = "85011512342"
OFFICE = "1234563218"
JAN = {"pesel": PESEL, "first_name": "Jan", "last_name": "Kowalski"}
_ids = iter(range(1, 10000))


def person(name="erp", permissions=("InvoiceRead", "InvoiceWrite"), **extra):
    return g.declare(dict({"name": name, "kind": "person", "description": "ERP operator", "subject": JAN,
                           "permissions": list(permissions)}, **extra))


def entity(name="office", permissions=("InvoiceRead",), can_delegate=True, **extra):
    return g.declare(dict({"name": name, "kind": "entity", "description": "Office",
                           "subject": {"nip": OFFICE, "full_name": "Biuro Rachunkowe"},
                           "permissions": list(permissions), "can_delegate": can_delegate}, **extra))


def row_of(decl, scope, **changes):
    """A listed row exactly as `decl` grants `scope`, with `changes`."""
    fields = dict(
        reference_number="id-%d" % next(_ids), kind=decl.kind, scope=scope, subject_type=decl.subject_type,
        subject_value=decl.subject_value, description=decl.full_description, can_delegate=decl.can_delegate,
        details=decl.details, author=("Nip", HERE[1]), context=HERE,
        created=datetime(2026, 1, 1, tzinfo=timezone.utc))
    fields.update(changes)
    return g.GrantRow(**fields)


def unmanaged(scope, subject="99010112345", author=("Nip", HERE[1]), kind="person"):
    return g.GrantRow("id-%d" % next(_ids), kind, scope, "Pesel", subject, "Made in the web app", author=author,
                      context=HERE)


def steps(cplan, name):
    return [(s.action, s.reference_number) for s in cplan.declared[name].steps]


def plan(declared, live, **options):
    return g.plan_context(declared, live, context=HERE, **options)


# -- only the rows that change ---------------------------------------------------------------------------------------

def test_nothing_listed_creates_every_permission_in_one_request():
    decl = person()
    cplan = plan([decl], [])
    assert steps(cplan, "erp") == [(p.CREATE, None)]
    assert g.to_grant(cplan.declared["erp"]) == ["InvoiceWrite", "InvoiceRead"]
    body = g.grant_request(decl, g.to_grant(cplan.declared["erp"]))
    assert body == {"subjectIdentifier": {"type": "Pesel", "value": PESEL}, "permissions": ["InvoiceWrite", "InvoiceRead"],
                    "description": "ERP operator [ksef.credentials:erp]",
                    "subjectDetails": {"subjectDetailsType": "PersonByIdentifier",
                                       "personById": {"firstName": "Jan", "lastName": "Kowalski"}}}


def test_rows_as_declared_are_kept_and_the_plan_changes_nothing():
    decl = person()
    live = [row_of(decl, "InvoiceRead"), row_of(decl, "InvoiceWrite")]
    cplan = plan([decl], live)
    assert not cplan.changed and [a for a, _r in steps(cplan, "erp")] == [p.KEEP, p.KEEP]
    assert g.budget(cplan) == ("", [])


def test_an_added_permission_is_granted_alone_and_a_removed_ones_row_revoked_alone():
    old = person(permissions=["InvoiceRead", "InvoiceWrite"])
    read, write = row_of(old, "InvoiceRead"), row_of(old, "InvoiceWrite")
    cplan = plan([person(permissions=["InvoiceRead", "Introspection"])], [read, write])
    assert steps(cplan, "erp") == [(p.REVOKE, write.reference_number), (p.CREATE, None), (p.KEEP, read.reference_number)]
    assert g.to_grant(cplan.declared["erp"]) == ["Introspection"]
    assert "InvoiceWrite no longer declared" in cplan.declared["erp"].steps[0].reason


@pytest.mark.parametrize("change, reason", [
    ({"description": "Another text"}, "description changed"),
    ({"subject": dict(JAN, last_name="Nowak")}, "subject details changed (lastName)"),
])
def test_a_changed_description_or_subject_detail_revokes_and_grants_every_row_again(change, reason):
    old = person()
    live = [row_of(old, "InvoiceRead"), row_of(old, "InvoiceWrite")]
    cplan = plan([person(**change)], live)
    assert [a for a, _r in steps(cplan, "erp")] == [p.REVOKE, p.REVOKE, p.REPLACE]
    assert all(reason in s.reason for s in cplan.declared["erp"].steps[:2])
    assert g.to_grant(cplan.declared["erp"]) == ["InvoiceWrite", "InvoiceRead"]


def test_can_delegate_changed_revokes_and_grants_the_entity_rows_again_with_the_new_flag():
    old = entity(permissions=["InvoiceRead", "InvoiceWrite"], can_delegate=True)
    live = [row_of(old, "InvoiceRead"), row_of(old, "InvoiceWrite")]
    new = entity(permissions=["InvoiceRead", "InvoiceWrite"], can_delegate=False)
    cplan = plan([new], live)
    assert [a for a, _r in steps(cplan, "office")] == [p.REVOKE, p.REVOKE, p.REPLACE]
    assert "can_delegate true, declared false" in cplan.declared["office"].steps[0].reason
    body = g.grant_request(new, g.to_grant(cplan.declared["office"]))
    assert body["permissions"] == [{"type": "InvoiceWrite", "canDelegate": False},
                                   {"type": "InvoiceRead", "canDelegate": False}]
    assert body["subjectDetails"] == {"fullName": "Biuro Rachunkowe"}


def test_a_duplicate_row_of_one_permission_is_revoked_and_the_older_kept():
    decl = person(permissions=["InvoiceRead"])
    first = row_of(decl, "InvoiceRead")
    second = row_of(decl, "InvoiceRead", created=datetime(2026, 2, 1, tzinfo=timezone.utc))
    cplan = plan([decl], [second, first])
    assert steps(cplan, "erp") == [(p.REVOKE, second.reference_number), (p.KEEP, first.reference_number)]


def test_state_absent_revokes_every_row_of_the_name():
    decl = person()
    live = [row_of(decl, "InvoiceRead"), row_of(decl, "InvoiceWrite")]
    cplan = plan([g.declare({"name": "erp", "state": "absent"})], live)
    assert [a for a, _r in steps(cplan, "erp")] == [p.REVOKE, p.REVOKE]
    assert cplan.declared["erp"].after() == {}


# -- exclusive ---------------------------------------------------------------------------------------------------------

def test_exclusive_managed_revokes_undeclared_names_only_and_all_also_unmanaged_rows_of_declared_kinds():
    erp, office = person(), entity()
    gone = person(name="gone")
    web = unmanaged("InvoiceRead")
    system = unmanaged("InvoiceWrite", author=("System", None))
    foreign_entity = g.GrantRow("id-x", "entity", "InvoiceRead", "Nip", "1111111111", "other", context=HERE)
    live = [row_of(erp, "InvoiceRead"), row_of(erp, "InvoiceWrite"), row_of(gone, "InvoiceRead"), web, system,
            foreign_entity, row_of(office, "InvoiceRead")]
    assert not plan([erp], live).undeclared  # exclusive false: other names are left alone
    managed = plan([erp], live, exclusive="managed")
    assert [(pl.declared.name, [s.action for s in pl.steps]) for pl in managed.undeclared] == [
        ("gone", [p.REVOKE]), ("office", [p.REVOKE])]
    assert managed.unmanaged == []
    everything = plan([erp], live, exclusive="all")
    assert [(row.reference_number, step.action) for row, step in everything.unmanaged] == [
        (web.reference_number, p.REVOKE)]  # not System's, not an entity row (no entity declared)


# -- a declared permission held through another grant's row -------------------------------------------------------

def test_a_permission_held_through_a_system_row_is_not_granted_again_and_the_plan_names_the_row():
    decl = person(name="reader-person")
    system = unmanaged("InvoiceRead", subject=PESEL, author=("System", None))
    cplan = plan([decl], [system], exclusive="managed")
    grant = cplan.declared["reader-person"]
    assert steps(cplan, "reader-person") == [(p.CREATE, None), (p.RETAIN, system.reference_number)]
    assert g.to_grant(grant) == ["InvoiceWrite"]  # KSeF ignores a second InvoiceRead
    retained = grant.steps[1]
    assert retained.shown and "held through row %s authored by System" % system.reference_number in retained.reason
    assert grant.current.metadata()["held_elsewhere"] == [
        {"permission": "InvoiceRead", "permission_id": system.reference_number, "author": "System", "name": None}]
    assert cplan.unmanaged == [] and not cplan.undeclared  # exclusive never touches the row
    # Once the managed InvoiceWrite row is listed, nothing changes; before and after are the same.
    write = row_of(decl, "InvoiceWrite")
    again = plan([decl], [system, write], exclusive="all")
    assert not again.changed and steps(again, "reader-person") == [
        (p.KEEP, write.reference_number), (p.RETAIN, system.reference_number)]
    assert again.unmanaged == []  # System's row: not even exclusive: all revokes it
    assert again.declared["reader-person"].before() == again.declared["reader-person"].after()
    assert again.declared["reader-person"].after()["permissions"] == ["InvoiceWrite"]


def test_only_a_row_that_gives_the_same_thing_counts_as_held_elsewhere():
    decl = person(name="reader-person", permissions=["InvoiceRead"])
    other_subject = unmanaged("InvoiceRead")  # another person
    inactive = replace(unmanaged("InvoiceRead", subject=PESEL), state="Inactive")
    indirect_row = replace(unmanaged("InvoiceRead", subject=PESEL), kind="indirect", target=("Nip", OFFICE))
    cplan = plan([decl], [other_subject, inactive, indirect_row])
    assert steps(cplan, "reader-person") == [(p.CREATE, None)]
    # can_delegate is no part of what makes a grant a duplicate: the line says what differs.
    office = entity()
    plain = row_of(office, "InvoiceRead", description="by hand", can_delegate=False)
    cplan = plan([office], [plain])
    assert steps(cplan, "office") == [(p.RETAIN, plain.reference_number)] and not cplan.changed
    assert "with can_delegate false, declared true" in cplan.declared["office"].steps[0].reason
    assert "can_delegate" not in plan([entity(can_delegate=False)], [plain]).declared["office"].steps[0].reason


def test_a_hand_made_row_exclusive_all_revokes_is_granted_again_not_held_elsewhere():
    decl = person(name="reader-person", permissions=["InvoiceRead"])
    web = unmanaged("InvoiceRead", subject=PESEL)
    kept = plan([decl], [web], exclusive="managed")
    assert steps(kept, "reader-person") == [(p.RETAIN, web.reference_number)]
    assert "authored by Nip:%s (a row this collection does not manage)" % HERE[1] in kept.declared[
        "reader-person"].steps[0].reason
    replaced = plan([decl], [web], exclusive="all")
    assert steps(replaced, "reader-person") == [(p.CREATE, None)]
    assert [(row.reference_number, step.action) for row, step in replaced.unmanaged] == [(web.reference_number, p.REVOKE)]


def test_a_permission_another_declared_name_gives_is_held_through_that_grant():
    first, second = person(name="first", permissions=["InvoiceRead"]), person(name="second")
    row = row_of(first, "InvoiceRead")
    cplan = plan([first, second], [row])
    assert steps(cplan, "second") == [(p.CREATE, None), (p.RETAIN, row.reference_number)]
    assert "(grant first)" in cplan.declared["second"].steps[1].reason
    assert g.to_grant(cplan.declared["second"]) == ["InvoiceWrite"]


# -- the lockout guard -------------------------------------------------------------------------------------------------

def test_the_login_identitys_credentials_manage_is_retained_unless_forced():
    admin = person(name="admin", permissions=["CredentialsManage"])
    other = unmanaged("CredentialsManage", subject="99010112345")
    live = [row_of(admin, "CredentialsManage"), other]
    absent = g.declare({"name": "admin", "state": "absent"})
    guarded = plan([absent], live, protected={("Pesel", PESEL)})
    (step,) = guarded.declared["admin"].steps
    assert step.action == p.RETAIN and "the identity this run logs in with" in step.reason
    assert any("force: true" in w for w in guarded.warnings)
    forced = plan([absent], live, protected={("Pesel", PESEL)}, force=True)
    assert [s.action for s in forced.declared["admin"].steps] == [p.REVOKE]


def test_the_last_listed_holder_of_credentials_manage_is_retained_and_not_granted_twice():
    admin = person(name="admin", permissions=["CredentialsManage", "InvoiceRead"])
    cm, read = row_of(admin, "CredentialsManage"), row_of(admin, "InvoiceRead")
    changed = person(name="admin", permissions=["CredentialsManage", "InvoiceRead"], description="New text")
    cplan = plan([changed], [cm, read])
    actions = {s.reference_number: s.action for s in cplan.declared["admin"].steps}
    assert actions[cm.reference_number] == p.RETAIN and actions[read.reference_number] == p.REVOKE
    assert g.to_grant(cplan.declared["admin"]) == ["InvoiceRead"]  # CredentialsManage still held by the kept row
    # Another holder stays: the revoke goes ahead.
    cplan = plan([changed], [cm, read, unmanaged("CredentialsManage")])
    assert {s.action for s in cplan.declared["admin"].steps} == {p.REVOKE, p.REPLACE}


# -- budget and declarations -----------------------------------------------------------------------------------------

def test_the_budget_counts_calls_per_operation_and_warns_beyond_120_an_hour():
    declared = [person(name="p%03d" % n) for n in range(121)]
    line, warnings = g.budget(plan(declared, []))
    assert line.startswith("Calls: POST /permissions/persons/grants 121, GET /permissions/operations/"
                           "{referenceNumber} at least 121")
    # The grants and their status reads: every endpoint beyond 120 an hour is named.
    assert [w.split(":")[0] for w in warnings] == ["POST /permissions/persons/grants",
                                                   "GET /permissions/operations/{referenceNumber}"]
    assert all("more than the 120 an hour" in w for w in warnings)


@pytest.mark.parametrize("options, option, text", [
    ({"kind": "group"}, "kind", "one of person, entity"),
    ({"subject": {"pesel": "123", "first_name": "Jan", "last_name": "Kowalski"}}, "subject.pesel", "11 digits"),
    ({"subject": {"pesel": PESEL, "first_name": "Jan"}}, "subject.last_name", "required for a person"),
    ({"permissions": ["InvoiceRead", "VatUeManage"]}, "permissions", "'VatUeManage'"),
    ({"permissions": []}, "permissions", "at least one"),
    ({"can_delegate": True}, "can_delegate", "kind entity only"),
    ({"kind": "entity", "permissions": ["CredentialsManage"], "subject": {"nip": OFFICE, "full_name": "Biuro X"}},
     "permissions", "allowed: InvoiceWrite, InvoiceRead"),
    ({"kind": "entity", "subject": {"pesel": PESEL, "full_name": "Biuro X"}}, "subject.nip", "subject.nip only"),
])
def test_bad_declarations_name_the_option_and_the_fix(options, option, text):
    base = {"name": "erp", "kind": "person", "subject": JAN, "permissions": ["InvoiceRead"]}
    with pytest.raises(KsefConfigError) as err:
        g.declare(dict(base, **options))
    assert err.value.option == option and text in str(err.value)


def test_a_fingerprint_person_is_granted_with_the_identifier_it_has():
    fp = "ab" * 32
    decl = g.declare({"name": "eu", "kind": "person", "subject": {"fingerprint": fp, "nip": OFFICE,
                                                                  "first_name": "Hans", "last_name": "Muller"},
                      "permissions": ["InvoiceRead"]})
    assert decl.subject == ("Fingerprint", fp.upper())
    assert g.grant_request(decl, ["InvoiceRead"])["subjectDetails"] == {
        "subjectDetailsType": "PersonByFingerprintWithIdentifier",
        "personByFpWithId": {"firstName": "Hans", "lastName": "Muller", "identifier": {"type": "Nip", "value": OFFICE}}}


def test_a_listed_row_is_read_as_its_kind_with_its_marker_name():
    row = g.GrantRow.from_api({
        "id": "0d3f9a4e", "authorizedIdentifier": {"type": "Nip", "value": OFFICE},
        "contextIdentifier": {"type": "Nip", "value": HERE[1]}, "targetIdentifier": None,
        "authorIdentifier": {"type": "System"}, "permissionScope": "InvoiceRead",
        "description": "Office [ksef.credentials:office]", "permissionState": "Active",
        "startDate": "2026-01-01T00:00:00Z", "canDelegate": True,
        "subjectEntityDetails": {"subjectDetailsType": "EntityByIdentifier", "fullName": "Biuro Rachunkowe"}})
    assert (row.kind, row.name, row.can_delegate, row.author, row.context) == (
        "entity", "office", True, ("System", None), HERE)
    assert row.metadata()["subject"] == {"nip": OFFICE, "full_name": "Biuro Rachunkowe"}


def test_a_revoke_names_the_managed_tokens_whose_author_loses_a_permission_they_carry():
    old = person(permissions=["InvoiceRead", "InvoiceWrite"])
    read, write = row_of(old, "InvoiceRead"), row_of(old, "InvoiceWrite")
    tokens = [
        {"referenceNumber": "T1", "description": "ERP sender [ksef.credentials:erp-sender]",
         "authorIdentifier": {"type": "Pesel", "value": PESEL}, "requestedPermissions": ["InvoiceWrite"]},
        {"referenceNumber": "T2", "description": "Reader [ksef.credentials:reader]",
         "authorIdentifier": {"type": "Pesel", "value": PESEL}, "requestedPermissions": ["InvoiceRead"]},
        {"referenceNumber": "T3", "description": "Other [ksef.credentials:other]",
         "authorIdentifier": {"type": "Pesel", "value": "99010112345"}, "requestedPermissions": ["InvoiceWrite"]},
    ]
    cplan = plan([person(permissions=["InvoiceRead"])], [read, write])
    assert g.dependencies(cplan, [read, write], tokens) == [
        "erp: revoking InvoiceWrite of Pesel:%s leaves the managed tokens it created without that permission, and"
        " KSeF revokes them: erp-sender (T1)" % PESEL]
    # Another row of the same permission stays: nothing is lost.
    other = row_of(person(name="erp2", permissions=["InvoiceWrite"]), "InvoiceWrite")
    cplan = plan([person(permissions=["InvoiceRead"]), person(name="erp2", permissions=["InvoiceWrite"])],
                 [read, write, other])
    assert g.dependencies(cplan, [read, write, other], tokens) == []
    assert g.revokes(cplan) == [write.reference_number]


def test_a_revoke_that_breaks_tokens_names_them_in_its_step_and_row_and_not_those_the_run_revokes_anyway():
    old = person(permissions=["InvoiceRead", "InvoiceWrite"])
    read, write = row_of(old, "InvoiceRead"), row_of(old, "InvoiceWrite")
    sender = {"referenceNumber": "T1", "description": "ERP sender [ksef.credentials:erp-sender]",
              "authorIdentifier": {"type": "Pesel", "value": PESEL}, "requestedPermissions": ["InvoiceWrite"]}
    cplan = plan([person(permissions=["InvoiceRead"])], [read, write])
    assert g.dependencies(cplan, [read, write], [sender])
    (revoke,) = cplan.declared["erp"].of(p.REVOKE)
    assert revoke.breaks == ("erp-sender",)
    rows = cplan.rows()
    (row,) = [r for r in rows if r["action"] == p.REVOKE]
    assert row["breaks"] == ["erp-sender"] and all("breaks" not in r for r in rows if r is not row)
    # The company task revokes T1 itself, before the grants: no warning, nothing broken.
    cplan = plan([person(permissions=["InvoiceRead"])], [read, write])
    assert g.dependencies(cplan, [read, write], [sender], frozenset({"T1"})) == []
    assert all(step.breaks == () for step in cplan.declared["erp"].steps)


def test_an_inactive_indirect_row_as_declared_is_retained_with_why_and_what_makes_it_work_again():
    decl = indirect(target=OFFICE)
    read = row_of(decl, "InvoiceRead", target=("Nip", OFFICE), state="Inactive")
    cplan = plan([decl], [read])
    (step,) = cplan.declared["clerk"].steps
    assert (step.action, step.shown) == (p.RETAIN, True) and not cplan.changed
    assert "client %s no longer delegates InvoiceRead" % OFFICE in step.reason and "can_delegate: true" in step.reason
    (warning,) = cplan.warnings
    assert warning.startswith("clerk: InvoiceRead for client %s is Inactive" % OFFICE) and "state: absent" in warning
    assert g.to_grant(cplan.declared["clerk"]) == []  # not granted again: KSeF would refuse it
    meta = cplan.declared["clerk"].current.metadata()
    assert (meta["status"], meta["inactive"]) == ("Inactive", ["InvoiceRead"])
    assert g.Granted("clerk", (row_of(decl, "InvoiceRead", target=("Nip", OFFICE)),)).metadata()["status"] == "Active"


def test_a_grant_sent_for_a_client_whose_delegation_is_withdrawn_warns_that_ksef_refuses_it():
    old = indirect(target=OFFICE)
    read = row_of(old, "InvoiceRead", target=("Nip", OFFICE), state="Inactive")
    cplan = plan([indirect(target=OFFICE, description="Clerk of the office")], [read])
    assert [s.action for s in cplan.declared["clerk"].steps] == [p.REVOKE, p.REPLACE]
    assert any("KSeF refuses this grant until the client grants it with can_delegate: true" in w and
               "InvoiceRead" in w for w in cplan.warnings)


def test_withdrawing_a_delegation_says_it_switches_off_the_indirect_grants_made_of_it():
    old = entity(can_delegate=True)
    row = row_of(old, "InvoiceRead")
    cplan = plan([entity(can_delegate=False)], [row])
    (revoke,) = cplan.declared["office"].of(p.REVOKE)
    assert "switches off the indirect grants Nip:%s made of InvoiceRead" % OFFICE in revoke.reason
    assert any(w.startswith("office: Nip:%s no longer delegates InvoiceRead" % OFFICE) and "Inactive" in w
               for w in cplan.warnings)
    # Granted again with can_delegate (a changed description): the indirect grants work again, nothing to say.
    cplan = plan([entity(can_delegate=True, description="Our office")], [row])
    assert "switches off" not in cplan.declared["office"].of(p.REVOKE)[0].reason and cplan.warnings == []


def test_force_revoking_the_logins_own_credentials_manage_warns_that_the_next_run_fails():
    admin = person(name="admin", permissions=["CredentialsManage"])
    row = row_of(admin, "CredentialsManage")
    other = unmanaged("CredentialsManage")
    cplan = plan([], [row, other], exclusive="managed", protected={("Pesel", PESEL)}, force=True)
    (step,) = cplan.undeclared[0].steps
    assert step.action == p.REVOKE and "the next run with this login fails" in step.reason
    (warning,) = cplan.warnings
    assert warning.startswith("admin: force: true revokes the CredentialsManage of Pesel:%s" % PESEL)
    # The last listed holder too: only the Owner can manage the context afterwards.
    cplan = plan([], [row], exclusive="managed", protected={("Pesel", PESEL)}, force=True)
    assert cplan.warnings[-1] == ("force: true revokes the CredentialsManage of every listed holder in the context"
                                  " (Pesel:%s): afterwards only the Owner can manage its credentials" % PESEL)


def test_an_unmanaged_row_is_named_in_the_plan_by_what_it_gives_to_whom():
    row = unmanaged("InvoiceRead", subject="90010112349")
    assert row.plan_label == "unmanaged person InvoiceRead of Pesel:90010112349 (%s)" % row.reference_number
    clerk = replace(row, kind="indirect", target=("Nip", OFFICE))
    assert clerk.plan_label.startswith("unmanaged indirect InvoiceRead of Pesel:90010112349 for %s" % OFFICE)


def indirect(name="clerk", target="5213000009", **extra):
    return g.declare(dict({"name": name, "kind": "indirect", "description": "Clerk", "subject": JAN,
                           "permissions": ["InvoiceRead"], "target": target}, **extra))


def test_an_indirect_grant_names_its_client_or_every_partner_and_a_changed_target_grants_again():
    selective = indirect()
    assert g.grant_request(selective, ["InvoiceRead"])["targetIdentifier"] == {"type": "Nip", "value": "5213000009"}
    general = indirect(target="all_partners")
    assert general.target == ("AllPartners", None)
    assert g.grant_request(general, ["InvoiceRead"])["targetIdentifier"] == {"type": "AllPartners"}
    row = row_of(selective, "InvoiceRead", target=("Nip", "5213000009"))
    assert steps(plan([selective], [row]), "clerk") == [(p.KEEP, row.reference_number)]
    cplan = plan([general], [row])
    assert [a for a, _r in steps(cplan, "clerk")] == [p.REVOKE, p.REPLACE]
    assert "target 5213000009, declared AllPartners" in cplan.declared["clerk"].steps[0].reason


def test_exclusive_all_revokes_unmanaged_indirect_rows_only_when_an_indirect_grant_is_declared():
    other = g.GrantRow("id-i", "indirect", "InvoiceRead", "Pesel", "99010112345", "web app", context=HERE,
                       target=("AllPartners", None))
    assert plan([person()], [other], exclusive="all").unmanaged == []
    assert [r.reference_number for r, _s in plan([indirect()], [other], exclusive="all").unmanaged] == ["id-i"]


@pytest.mark.parametrize("options, text", [
    ({"kind": "person", "target": "5213000009"}, "target is for kind indirect only"),
    ({"kind": "indirect", "target": None}, "target is required for kind indirect"),
    ({"kind": "indirect", "target": "52130"}, "the client's NIP (10 digits) or AllPartners"),
])
def test_a_bad_target_names_the_option(options, text):
    base = {"name": "clerk", "subject": JAN, "permissions": ["InvoiceRead"]}
    with pytest.raises(KsefConfigError) as err:
        g.declare(dict(base, **options))
    assert err.value.option == "target" and text in str(err.value)


def authorization(name="self-billing", permissions=("SelfInvoicing",), **extra):
    return g.declare(dict({"name": name, "kind": "authorization", "description": "Partner",
                           "subject": {"nip": OFFICE, "full_name": "Partner sp. z o.o."},
                           "permissions": list(permissions)}, **extra))


def test_an_authorization_carries_one_permission_and_is_revoked_through_its_own_endpoint():
    decl = authorization(permissions=["self_invoicing"])
    assert g.grant_request(decl, ["SelfInvoicing"]) == {
        "subjectIdentifier": {"type": "Nip", "value": OFFICE}, "permission": "SelfInvoicing",
        "description": "Partner [ksef.credentials:self-billing]", "subjectDetails": {"fullName": "Partner sp. z o.o."}}
    with pytest.raises(KsefConfigError, match="exactly one permission"):
        authorization(permissions=["SelfInvoicing", "RRInvoicing"])
    listed = g.GrantRow.from_authorization({
        "id": "auth-1", "authorIdentifier": None, "authorizedEntityIdentifier": {"type": "Nip", "value": OFFICE},
        "authorizingEntityIdentifier": {"type": "Nip", "value": HERE[1]}, "authorizationScope": "RRInvoicing",
        "description": "Made by ZAW-FA", "subjectEntityDetails": {"fullName": "Partner sp. z o.o."},
        "startDate": "2026-01-01T00:00:00Z"})
    assert (listed.kind, listed.author, listed.context) == ("authorization", ("System", None), HERE)
    mine = row_of(decl, "SelfInvoicing")
    cplan = plan([g.declare({"name": "self-billing", "state": "absent"}), authorization(name="other")],
                 [mine, listed], exclusive="all")
    assert steps(cplan, "self-billing") == [(p.REVOKE, mine.reference_number)]
    assert cplan.unmanaged == []  # System's authorization is never revoked
    line, _warnings = g.budget(cplan)
    assert "DELETE /permissions/authorizations/grants/{permissionId} 1" in line
    assert "DELETE /permissions/common/grants" not in line


def test_a_subunit_administrator_gets_credentials_manage_in_the_subunit_it_names():
    decl = g.declare({"name": "branch", "kind": "subunit", "subject": JAN, "subunit": "5265877635-00017",
                      "subunit_name": "Oddział Kraków", "description": "Branch"})
    assert decl.permissions == ("CredentialsManage",) and decl.target == ("InternalId", "5265877635-00017")
    body = g.grant_request(decl, ["CredentialsManage"])
    assert body["contextIdentifier"] == {"type": "InternalId", "value": "5265877635-00017"}
    assert body["subunitName"] == "Oddział Kraków" and "permissions" not in body
    listed = g.GrantRow.from_subunit({
        "id": "sub-1", "authorizedIdentifier": {"type": "Pesel", "value": PESEL},
        "subunitIdentifier": {"type": "InternalId", "value": "5265877635-00017"},
        "authorIdentifier": {"type": "Nip", "value": HERE[1]}, "permissionScope": "CredentialsManage",
        "description": decl.full_description, "subunitName": "Oddział Kraków", "startDate": "2026-01-01T00:00:00Z",
        "subjectPersonDetails": {"subjectDetailsType": "PersonByIdentifier", "firstName": "Jan",
                                 "lastName": "Kowalski"}})
    assert steps(plan([decl], [listed]), "branch") == [(p.KEEP, "sub-1")]
    renamed = g.declare({"name": "branch", "kind": "subunit", "subject": JAN, "subunit": "5265877635-00017",
                         "subunit_name": "Oddział Nowy", "description": "Branch"})
    cplan = plan([renamed], [listed])
    assert [a for a, _r in steps(cplan, "branch")] == [p.REVOKE, p.REPLACE]
    assert "subunit_name changed" in cplan.declared["branch"].steps[0].reason
    # A subunit administrator's CredentialsManage works in the subunit: the guard of this context ignores it.
    absent = plan([g.declare({"name": "branch", "state": "absent"})], [listed])
    assert [a for a, _r in steps(absent, "branch")] == [p.REVOKE]


@pytest.mark.parametrize("options, option, text", [
    ({"subunit": "5265877635-123"}, "subunit", "an InternalId {nip}-{5 digits}"),
    ({"subunit": "5265877635-00017"}, "subunit_name", "required for a subunit with an InternalId"),
    ({"subunit": "5265877635", "permissions": ["InvoiceRead"]}, "permissions", "allowed: CredentialsManage"),
])
def test_a_bad_subunit_declaration_names_the_option(options, option, text):
    with pytest.raises(KsefConfigError) as err:
        g.declare(dict({"name": "branch", "kind": "subunit", "subject": JAN}, **options))
    assert err.value.option == option and text in str(err.value)


EU = {"vat_ue": "de123456789", "name": "Muller GmbH in KSeF", "full_name": "Muller GmbH", "address": "Berlin"}
HANS = {"fingerprint": "cd" * 32, "first_name": "Hans", "last_name": "Muller", "birth_date": "1980-01-31",
        "id_document": {"type": "Passport", "number": "C01X00T47", "country": "DE"}}


def test_an_eu_administrator_is_a_certificate_granted_every_permission_of_the_nip_vat_ue_context_it_creates():
    decl = g.declare({"name": "eu", "kind": "eu_administrator", "subject": HANS, "eu_entity": EU})
    assert decl.permissions == ("VatUeManage", "InvoiceWrite", "InvoiceRead", "Introspection")
    body = g.grant_request(decl, list(decl.permissions), "5265877635")
    assert body["contextIdentifier"] == {"type": "NipVatUe", "value": "5265877635-DE123456789"}
    assert body["euEntityName"] == "Muller GmbH in KSeF" and "permissions" not in body
    assert body["euEntityDetails"] == {"fullName": "Muller GmbH", "address": "Berlin"}
    assert body["subjectDetails"] == {"subjectDetailsType": "PersonByFingerprintWithoutIdentifier", "personByFpNoId": {
        "firstName": "Hans", "lastName": "Muller", "birthDate": "1980-01-31",
        "idDocument": {"type": "Passport", "number": "C01X00T47", "country": "DE"}}}
    listed = g.GrantRow.from_eu_entity({
        "id": "eu-1", "authorIdentifier": {"type": "Nip", "value": HERE[1]}, "vatUeIdentifier": "DE123456789",
        "euEntityName": "Muller GmbH in KSeF", "authorizedFingerprintIdentifier": "CD" * 32,
        "permissionScope": "VatUeManage", "description": decl.full_description,
        "euEntityDetails": {"fullName": "Muller GmbH", "address": "Berlin"}, "startDate": "2026-01-01T00:00:00Z",
        "subjectPersonDetails": {"subjectDetailsType": "PersonByFingerprintWithoutIdentifier", "firstName": "Hans",
                                 "lastName": "Muller", "birthDate": "1980-01-31"}})
    cplan = plan([decl], [listed])
    assert [a for a, _r in steps(cplan, "eu")] == [p.CREATE, p.KEEP]  # three permissions missing
    moved = g.declare({"name": "eu", "kind": "eu_administrator", "subject": HANS, "eu_entity": dict(EU, address="Köln")})
    cplan = plan([moved], [listed])
    assert "eu_entity changed (address)" in cplan.declared["eu"].steps[0].reason


@pytest.mark.parametrize("options, option, text", [
    ({"subject": JAN}, "subject.fingerprint", "granted to a certificate"),
    ({"eu_entity": dict(EU, vat_ue="XX1")}, "eu_entity.vat_ue", "country prefix"),
    ({"permissions": ["InvoiceRead"]}, "permissions", "leave permissions out"),
    ({"subject": dict(HANS, birth_date=None)}, "subject.birth_date", "YYYY-MM-DD"),
])
def test_a_bad_eu_administrator_declaration_names_the_option(options, option, text):
    with pytest.raises(KsefConfigError) as err:
        g.declare(dict({"name": "eu", "kind": "eu_administrator", "subject": HANS, "eu_entity": EU}, **options))
    assert err.value.option == option and text in str(err.value)


EU_CONTEXT = ("NipVatUe", "%s-DE123456789" % HERE[1])
ANNA = {"fingerprint": "ab" * 32, "first_name": "Anna", "last_name": "Schmidt", "pesel": "85011512342"}


def eu_item(fingerprint, scope, description, **changes):
    """A row of POST /permissions/query/eu-entities/grants as the contract lists it (EuEntityPermission)."""
    item = {
        "id": "%s-%s" % (fingerprint[:4], scope), "authorIdentifier": {"type": "Fingerprint", "value": "CD" * 32},
        "vatUeIdentifier": "DE123456789", "euEntityName": "Muller GmbH in KSeF",
        "authorizedFingerprintIdentifier": fingerprint, "permissionScope": scope, "description": description,
        "startDate": "2026-01-01T00:00:00Z",
        "subjectPersonDetails": {"subjectDetailsType": "PersonByFingerprintWithIdentifier", "firstName": "Anna",
                                 "lastName": "Schmidt"}}
    item.update(changes)
    return item


def test_an_eu_representative_is_a_certificate_granted_invoice_permissions_in_the_nip_vat_ue_context():
    decl = g.declare({"name": "rep", "kind": "eu_representative", "subject": ANNA,
                      "permissions": ["invoice_read"], "description": "Invoices of the German branch"})
    assert decl.subject == ("Fingerprint", "AB" * 32) and decl.permissions == ("InvoiceRead",)
    body = g.grant_request(decl, ["InvoiceRead"], HERE[1])
    assert body == {
        "subjectIdentifier": {"type": "Fingerprint", "value": "AB" * 32},
        "description": "Invoices of the German branch [ksef.credentials:rep]",
        "permissions": ["InvoiceRead"],
        "subjectDetails": {"subjectDetailsType": "PersonByFingerprintWithIdentifier", "personByFpWithId": {
            "firstName": "Anna", "lastName": "Schmidt", "identifier": {"type": "Pesel", "value": "85011512342"}}}}
    assert GRANT_ENDPOINT["eu_representative"] == "/permissions/eu-entities/grants"


@pytest.mark.parametrize("options, option, text", [
    ({"subject": JAN}, "subject.fingerprint", "EU representative is granted to a certificate"),
    ({"permissions": ["Introspection"]}, "permissions", "InvoiceWrite, InvoiceRead"),
    ({"permissions": ["VatUeManage"]}, "permissions", "InvoiceWrite, InvoiceRead"),
])
def test_a_bad_eu_representative_declaration_names_the_option(options, option, text):
    with pytest.raises(KsefConfigError) as err:
        g.declare(dict({"name": "rep", "kind": "eu_representative", "subject": ANNA,
                        "permissions": ["InvoiceRead"]}, **options))
    assert err.value.option == option and text in str(err.value)


def test_eu_rows_are_an_administrators_when_the_fingerprint_holds_vat_ue_manage():
    admin = [eu_item("CD" * 32, scope, "Admin [ksef.credentials:eu]") for scope in
             ("VatUeManage", "InvoiceWrite", "InvoiceRead", "Introspection")]
    rep = [eu_item("ab" * 32, "InvoiceRead", "Invoices [ksef.credentials:rep]")]
    rows = g.GrantRow.from_eu_entities(admin + rep, EU_CONTEXT)
    assert [(r.kind, r.context) for r in rows[:4]] == [("eu_administrator", ("Nip", HERE[1]))] * 4
    assert (rows[4].kind, rows[4].context, rows[4].subject, rows[4].target) == (
        "eu_representative", EU_CONTEXT, ("Fingerprint", "AB" * 32), (None, None))
    # The company's context lists its administrators as its own rows, and would leave a representative alone.
    rows = g.GrantRow.from_eu_entities(admin + rep, HERE)
    assert {r.context for r in rows[:4]} == {HERE} and rows[4].context == EU_CONTEXT


def test_a_nip_vat_ue_plan_keeps_changes_and_revokes_representatives_and_never_touches_the_administrator():
    admin = [eu_item("CD" * 32, scope, "Admin [ksef.credentials:eu]") for scope in
             ("VatUeManage", "InvoiceWrite", "InvoiceRead", "Introspection")]
    decl = g.declare({"name": "rep", "kind": "eu_representative", "subject": ANNA,
                      "permissions": ["InvoiceRead", "InvoiceWrite"], "description": "Invoices"})
    listed = admin + [eu_item("AB" * 32, "InvoiceRead", decl.full_description)]
    rows = g.GrantRow.from_eu_entities(listed, EU_CONTEXT)
    cplan = g.plan_context([decl], rows, exclusive="managed", context=EU_CONTEXT)
    assert [a for a, _r in steps(cplan, "rep")] == [p.CREATE, p.KEEP]  # InvoiceWrite added, InvoiceRead kept
    assert cplan.undeclared == [] and g.revokes(cplan) == []  # the administrator's named rows are the company's
    renamed = g.declare({"name": "rep", "kind": "eu_representative", "subject": dict(ANNA, last_name="Schmitt"),
                         "permissions": ["InvoiceRead"], "description": "Invoices"})
    cplan = g.plan_context([renamed], rows, context=EU_CONTEXT)
    assert [a for a, _r in steps(cplan, "rep")] == [p.REVOKE, p.REPLACE]
    assert "subject details changed (lastName)" in cplan.declared["rep"].steps[0].reason
    gone = g.plan_context([g.declare({"name": "rep", "state": "absent"})], rows, context=EU_CONTEXT)
    assert g.revokes(gone) == ["ABAB-InvoiceRead"]


@pytest.mark.parametrize("kind, context_type, words", [
    ("eu_representative", "Nip", "set context.nip_vat_ue"),
    ("eu_representative", "InternalId", "set context.nip_vat_ue"),
    ("person", "NipVatUe", "only an EU representative"),
    ("eu_administrator", "NipVatUe", "grant it in the company's context"),
])
def test_a_kind_outside_its_context_is_refused(kind, context_type, words):
    assert words in g.context_problem(kind, context_type)


@pytest.mark.parametrize("kind, context_type", [
    ("eu_representative", "NipVatUe"), ("person", "Nip"), ("eu_administrator", "Nip"), ("subunit", "InternalId")])
def test_a_kind_in_its_context_is_accepted(kind, context_type):
    assert g.context_problem(kind, context_type) is None


def test_the_inventory_says_why_an_indirect_row_is_inactive_and_what_makes_it_work_again():
    from ansible_collections.ksef.credentials.plugins.module_utils._kinds import grant_drift

    decl = indirect(target=OFFICE)
    read = row_of(decl, "InvoiceRead", target=("Nip", OFFICE), state="Inactive")
    (found,) = grant_drift.findings([decl], [read], HERE)
    assert (found.kind, found.reference) == ("inactive", read.reference_number)
    assert found.message == ("Pesel:%s InvoiceRead is Inactive and gives nothing: client %s no longer delegates it to"
                             " this context; it works again once the client grants it with can_delegate: true"
                             % (PESEL, OFFICE))
