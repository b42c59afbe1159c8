"""The calls a grant plan needs against KSeF's hourly limits, and the check before the first change; the check digits
refused before any request. Pure, or on a fake limiter."""
from types import SimpleNamespace

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError, KsefTimeoutError
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import grant_plan as g
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import grant_requests as r
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant import GrantKind

STATUS = "GET /permissions/operations/{referenceNumber}"
HERE = ("Nip", "5265877635")
OFFICE = "1234563218"
JAN = {"pesel": "85011512342", "first_name": "Jan", "last_name": "Kowalski"}


def person(permissions=("InvoiceRead",), **extra):
    return g.declare(dict({"name": "erp", "kind": "person", "description": "ERP operator", "subject": JAN,
                           "permissions": list(permissions)}, **extra))


def row_of(decl, scope):
    return g.GrantRow("id-1", decl.kind, scope, decl.subject_type, decl.subject_value, decl.full_description,
                      details=decl.details, author=("Nip", HERE[1]), context=HERE)


def plan(declared, live):
    return g.plan_context(declared, live, context=HERE)


def replace_plan():
    """erp's description changed: revoke its row, grant again; office added."""
    old = person(permissions=("InvoiceRead",))
    changed = person(permissions=("InvoiceRead",), description="ERP operator of the invoices")
    office = g.declare({"name": "office", "kind": "entity", "subject": {"nip": OFFICE, "full_name": "Biuro Rachunkowe"},
                        "permissions": ["InvoiceRead"]})
    return plan([changed, office], [row_of(old, "InvoiceRead")])


def test_the_calls_count_everything_the_run_sends():
    needed = r.calls(replace_plan(), tokens_listed=True)
    assert needed == {"DELETE /permissions/common/grants/{permissionId}": 1, "POST /permissions/persons/grants": 1,
                      "POST /permissions/entities/grants": 1, STATUS: 3, "POST /permissions/query/persons/grants": 3,
                      "GET /tokens": 1}
    branch = g.declare({"name": "branch", "kind": "subunit", "subject": JAN, "subunit": "5265877635-00017",
                        "subunit_name": "Oddział Kraków"})
    assert r.calls(plan([branch], []))["POST /permissions/query/subunits/grants"] == 3  # listed apart, up to 3 times again
    assert r.calls(plan([], [])) == {}


def test_the_line_states_what_is_left_this_hour_and_warns_for_every_endpoint_that_would_run_out():
    left = {STATUS: (1, 120), "POST /permissions/persons/grants": (119, 120)}
    line, warnings = r.budget(replace_plan(), left.get, tokens_listed=True)
    assert line.startswith("Calls: DELETE /permissions/common/grants/{permissionId} 1, POST /permissions/entities/grants"
                           " 1, POST /permissions/persons/grants 1, GET /permissions/operations/{referenceNumber} at"
                           " least 3, GET /tokens 1, POST /permissions/query/persons/grants up to 3; left this hour"
                           " in this context: POST /permissions/persons/grants 119, %s 1 (KSeF allows 120" % STATUS)
    (warning,) = warnings
    assert warning.startswith(STATUS + ": the plan needs at least 3 calls, and only 1 of the 120 an hour are left")
    line, warnings = r.budget(replace_plan())  # rate_limits: off: nothing is counted, nothing is said to be left
    assert "left this hour" not in line and warnings == []


class Limiter:
    """What the shared pacing state says: seconds until `count` more requests of an operation fit."""

    max_pacing_wait = 60

    def __init__(self, rooms):
        self.rooms = rooms

    def room(self, operation, count=1):
        return self.rooms.get(operation, 0.0)

    def left(self, operation):
        return (0, 120) if self.rooms.get(operation) else (120, 120)


def api(rooms):
    return SimpleNamespace(http=SimpleNamespace(limiter=Limiter(rooms)))


def test_a_run_that_could_not_finish_is_refused_before_its_first_change_naming_endpoint_wait_and_options():
    kind, options = GrantKind(), SimpleNamespace(wait_timeout=120)
    kind._context = HERE
    kind.before_changes(api({STATUS: 59.0}), replace_plan(), options)  # fits max_retry_wait: goes on
    with pytest.raises(KsefTimeoutError) as refused:
        kind.before_changes(api({STATUS: 3000.0}), replace_plan(), options)
    message = str(refused.value)
    assert message.startswith("nothing was changed: the plan needs at least 3 calls of " + STATUS)
    assert "0 of 120 left this hour" in message and "3000s, more than max_retry_wait (60s)" in message
    assert "raise max_retry_wait and wait_timeout (up to 3600; ksef_max_retry_wait and ksef_wait_timeout in the" \
        " roles)" in message
    with pytest.raises(KsefTimeoutError, match="POST /permissions/persons/grants.*more than max_retry_wait"):
        kind.before_changes(api({"POST /permissions/persons/grants": 61.0}), replace_plan(), options)
    with pytest.raises(KsefTimeoutError, match="more than wait_timeout \\(30s\\)"):  # the status reads: wait_timeout too
        kind.before_changes(api({STATUS: 45.0}), replace_plan(), SimpleNamespace(wait_timeout=30))


@pytest.mark.parametrize("options, option, text", [
    ({"subject": dict(JAN, pesel="85011512345")}, "subject.pesel", "subject.pesel 85011512345 has a wrong check digit"),
    ({"subject": {"nip": "1234563219", "first_name": "Jan", "last_name": "Kowalski"}}, "subject.nip",
     "subject.nip 1234563219 has a wrong check digit"),
    ({"kind": "entity", "subject": {"nip": "1234563210", "full_name": "Biuro Rachunkowe"}}, "subject.nip",
     "correct the NIP"),
    ({"kind": "indirect", "target": "5213000000"}, "target", "target 5213000000 has a wrong check digit"),
    ({"kind": "subunit", "subunit": "5265877635-00012", "subunit_name": "Oddział Kraków", "permissions": None},
     "subunit", "5265877635-00017 for unit 0001"),
    ({"kind": "subunit", "subunit": "5265877636", "permissions": None}, "subunit", "subunit 5265877636 has a wrong"),
])
def test_a_wrong_check_digit_is_refused_naming_the_option_and_the_fix(options, option, text):
    base = {"name": "x", "kind": "person", "subject": JAN, "permissions": ["InvoiceRead"]}
    with pytest.raises(KsefConfigError) as refused:
        g.declare(dict(base, **options))
    assert refused.value.option == option and text in str(refused.value)


def test_the_check_digit_of_the_official_example_internal_id():
    assert g.declare({"name": "b", "kind": "subunit", "subject": JAN, "subunit": "6824515772-12343",
                      "subunit_name": "Oddział Kraków"}).target == ("InternalId", "6824515772-12343")


def test_the_refusal_names_a_shorter_window_when_the_hour_has_room():
    from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant import _binding

    assert _binding((60, 120), 3) == "60 of 120 left this hour, but a shorter window (per second or per minute) is full"
    assert _binding((2, 120), 3) == "2 of 120 left this hour"
    assert _binding(None, 3) == "rate_limits"
