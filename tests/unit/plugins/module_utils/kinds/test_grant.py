"""The grant kind's waiting for permission operations (the rest is proven through playbooks)."""
import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefApiError, KsefTimeoutError
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant import (
    GRANT, OperationError, wait_operations)
from ansible_collections.ksef.credentials.plugins.module_utils._poll import Poller


class Statuses:
    """GET /permissions/operations/{ref}: a script of answers per reference (a dict, or an HTTP status to raise)."""

    def __init__(self, **script):
        self.script = {ref: list(answers) for ref, answers in script.items()}
        self.reads = []

    def permission_operation(self, ref):
        self.reads.append(ref)
        answer = self.script[ref].pop(0) if len(self.script[ref]) > 1 else self.script[ref][0]
        if isinstance(answer, int):
            raise KsefApiError("HTTP %d" % answer, status=answer)
        return answer


def poller(timeout=5.0):
    clock = {"now": 0.0}

    def sleep(seconds):
        clock["now"] += seconds

    return Poller(timeout, sleep=sleep, monotonic=lambda: clock["now"])


def test_operations_are_read_together_until_each_ends_with_its_own_outcome():
    api = Statuses(a=[{"code": 100}, {"code": 200}],
                   b=[{"code": 440, "description": "Operacja niedozwolona", "details": ["Klient nie nadał"]}])
    done = wait_operations(api, ["a", "b"], poller())
    assert done["a"] is None
    assert isinstance(done["b"], OperationError) and "status 440 (Operacja niedozwolona: Klient nie nadał)" in str(
        done["b"])
    assert api.reads == ["a", "b", "a"]


def test_an_operation_still_at_100_at_the_deadline_is_a_timeout_the_journal_keeps():
    done = wait_operations(Statuses(a=[{"code": 100}]), ["a"], poller(timeout=1.0))
    assert isinstance(done["a"], KsefTimeoutError) and "the next run waits for it" in str(done["a"])


@pytest.mark.parametrize("status", [410, 400])
def test_an_operation_ksef_no_longer_knows_ends_instead_of_failing_every_later_run(status):
    done = wait_operations(Statuses(old=[status], new=[{"code": 200}]), ["old", "new"], poller())
    assert "can no longer be read (HTTP %d)" % status in str(done["old"]) and done["new"] is None


def test_other_api_errors_stop_the_wait():
    with pytest.raises(KsefApiError):
        wait_operations(Statuses(a=[503]), ["a"], poller())


def operations_poller(timeout):
    """The grant kind's schedule on a fake clock; returns (poller, the delays slept)."""
    clock, slept = {"now": 0.0}, []

    def sleep(seconds):
        slept.append(seconds)
        clock["now"] += seconds

    return Poller(timeout, sleep=sleep, monotonic=lambda: clock["now"], **GRANT.poll_schedule), slept


def test_an_operation_of_15_seconds_is_read_five_times_not_twelve():
    api = Statuses(a=[{"code": 100}] * 4 + [{"code": 200}])
    poller_, slept = operations_poller(120)
    assert wait_operations(api, ["a"], poller_) == {"a": None}
    assert slept == [1.0, 2.0, 4.0, 8.0] and len(api.reads) == 5  # read at 0, 1, 3, 7 and 15 s
    # A long operation is read once a minute: about half of the endpoint's 120 an hour.
    long_one, slept = operations_poller(3600)
    wait_operations(Statuses(a=[{"code": 100}]), ["a"], long_one)
    assert max(slept) == 60.0 and len(slept) <= 65


class Paced(Statuses):
    """Statuses behind a limiter whose windows leave room for the next reads only in `room` seconds."""

    def __init__(self, room, **script):
        super().__init__(**script)
        self.http = type("Http", (), {"limiter": self})()
        self._room, self.asked = room, []

    def room(self, operation, count=1):
        self.asked.append((operation, count))
        return self._room


def test_a_round_waits_until_its_status_reads_fit_and_stops_when_they_would_not_fit_before_the_deadline():
    api = Paced(10.0, a=[{"code": 100}, {"code": 200}], b=[{"code": 100}, {"code": 200}])
    poller_, slept = operations_poller(60)
    assert wait_operations(api, ["a", "b"], poller_) == {"a": None, "b": None}
    assert slept == [10.0] and api.asked == [("GET /permissions/operations/{referenceNumber}", 2)]
    stopped = Paced(3000.0, a=[{"code": 100}])
    done = wait_operations(stopped, ["a"], operations_poller(120)[0])
    assert isinstance(done["a"], KsefTimeoutError) and "leave room for the next status reads in 3000s" in str(
        done["a"]) and stopped.reads == ["a"]  # not read again: no wait for the rest of the hour


# -- what a task that converges several kinds asks of the grants ------------------------------------------------

def _person(name, pesel, permissions=("InvoiceWrite",)):
    from ansible_collections.ksef.credentials.plugins.module_utils._kinds import grant_plan

    return grant_plan.declare({"name": name, "kind": "person", "description": "Automation",
                               "subject": {"pesel": pesel, "first_name": "Jan", "last_name": "Kowalski"},
                               "permissions": list(permissions)})


def test_withheld_names_only_the_permissions_a_grant_to_the_login_was_to_give_and_did_not():
    from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
    from ansible_collections.ksef.credentials.plugins.module_utils._executor import ApplyError, Done
    from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant import GrantKind

    kind = GrantKind()
    kind._identities = {("Pesel", "85011512342")}
    mine, other = _person("mine", "85011512342"), _person("other", "92071314764", ("InvoiceRead",))
    cplan = p.ContextPlan(declared={d.name: p.Plan(d, [p.Step(p.CREATE, "missing")]) for d in (mine, other)})
    done = Done(failures={name: ApplyError("KSeF answered 400", []) for name in ("mine", "other")})
    assert kind.withheld([mine, other], cplan, done) == {"InvoiceWrite": "grant mine failed: KSeF answered 400"}
    assert kind.withheld([mine, other], cplan, Done()) == {}
    assert kind.withheld([mine, other], None, None) == {"InvoiceWrite": "grant mine was not converged"}
    held = p.ContextPlan(declared={"mine": p.Plan(mine, [p.Step(p.RETAIN, "create operation X still in progress")])})
    assert kind.withheld([mine], held, Done()) == {"InvoiceWrite": "grant mine is still in progress at KSeF"}


def test_the_lockout_guard_names_the_option_as_the_task_spells_it():
    from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
    from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant import _rename_force

    mine = _person("mine", "85011512342")
    cplan = p.ContextPlan(declared={"mine": p.Plan(mine, [p.Step(p.RETAIN, "lockout guard: ...; force: true revokes it", "id-1")])})
    cplan.warnings.append("mine: lockout guard; force: true revokes it")
    _rename_force(cplan, "grants_force")
    assert cplan.declared["mine"].steps[0].reason == "lockout guard: ...; grants_force: true revokes it"
    assert cplan.warnings == ["mine: lockout guard; grants_force: true revokes it"]


def test_the_lockout_guard_knows_the_author_of_the_login_token_of_a_handed_over_session():
    """A session handed over with auth.ksef_token_reference: the token's author is an identity the run acts as."""
    from types import SimpleNamespace

    from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant import GrantKind

    class Api:
        def __init__(self):
            self.asked = []

        def get_token(self, reference):
            self.asked.append(reference)
            return {"authorIdentifier": {"type": "Nip", "value": "8733557145"}}

        def query_person_grants(self):
            return []

    module = SimpleNamespace(ksef_context=SimpleNamespace(type="Nip", value="5265877635"), params={},
                             ksef_auth=SimpleNamespace(method="session", ksef_token=None),
                             login_token_reference="20251010-EC-1DCE3E3000-12ECB5B36E-45")
    kind, api = GrantKind(), Api()
    kind.check_auth(module)
    kind.read_live(api, [], SimpleNamespace(exclusive="false", revoke_auth_token=False))
    assert api.asked == ["20251010-EC-1DCE3E3000-12ECB5B36E-45"]
    assert ("Nip", "8733557145") in kind._identities


class Ignored(Statuses):
    """A grant KSeF ends with 200 and never lists (it ignores a duplicate), and one it lists on the second read."""

    def __init__(self):
        super().__init__(dup=[{"code": 200}], lag=[{"code": 200}])
        self.listings = 0

    def query_person_grants(self):
        self.listings += 1
        row = {"id": "r1", "permissionScope": "InvoiceWrite", "description": "x [ksef.credentials:lag]",
               "authorizedIdentifier": {"type": "Pesel", "value": "85011512342"}}
        return [row] if self.listings > 1 else []


class Module:
    def __init__(self):
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def test_the_rows_of_a_grant_that_ended_200_are_listed_a_few_times_at_most_then_it_says_so():
    from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant import GrantKind, _PendingGrant
    from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_requests import LISTINGS_AFTER_GRANT

    kind, api = GrantKind(), Ignored()
    pending = {"dup": _PendingGrant("dup", "dup", ("InvoiceRead",), "person"),
               "lag": _PendingGrant("lag", "lag", ("InvoiceWrite",), "person")}
    done = kind.activate(api, pending, poller(timeout=3600.0))
    assert api.listings == LISTINGS_AFTER_GRANT == 3  # not until the hour-long deadline
    assert done["lag"].unlisted == () and [r.scope for r in done["lag"].rows] == ["InvoiceWrite"]
    assert done["dup"].unlisted == ("InvoiceRead",) and done["dup"].rows == ()
    module = Module()
    kind.issued(module, type("Plan", (), {"declared": type("D", (), {"name": "dup"})})(), done["dup"])
    (warning,) = module.warnings
    assert warning.startswith("dup: KSeF finished the grant operation (status 200) but lists no row of InvoiceRead")
    assert "ignores a grant of a permission the subject already holds" in warning
    kind.issued(module, None, done["lag"])
    assert len(module.warnings) == 1
