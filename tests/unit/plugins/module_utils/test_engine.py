"""The engine's sequence with a kind shaped like permission grants: no value, break-before-make, one declaration
as several live rows, issues and revokes that KSeF finishes later, and the journal that resumes them.

KSeF is an in-memory stand-in that keeps only what the protocol depends on: every grant and revoke answers the
reference of an operation that stays at status 100 for a number of status reads, then ends.
"""
import itertools
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _engine
from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._declarations import RunOptions, validate
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefError, KsefTimeoutError
from ansible_collections.ksef.credentials.plugins.module_utils._journal import Journal
from ansible_collections.ksef.credentials.plugins.module_utils._kind import BREAK_BEFORE_MAKE, Kind
from ansible_collections.ksef.credentials.plugins.module_utils._results import result

CONTEXT = "Nip:5265877635"
FOREVER = None


class Operations:
    """Rows by id; grant(name, scopes, note) and revoke(row) answer an operation that ends after `polls` status
    reads (FOREVER: never), with `fail` as its code for the names listed there."""

    def __init__(self, polls=1, fail=()):
        self.rows, self.ops, self.calls = {}, {}, []
        self.polls, self.fail = polls, dict(fail)
        self._ids = itertools.count(1)

    def add(self, name, scope, note):
        row = "row-%d" % next(self._ids)
        self.rows[row] = {"id": row, "name": name, "scope": scope, "note": note}
        return row

    def grant(self, name, scopes, note):
        self.calls.append(("grant", name, tuple(scopes)))
        return self._operation(("grant", name, tuple(scopes), note))

    def revoke(self, row):
        self.calls.append(("revoke", row))
        return self._operation(("revoke", row))

    def _operation(self, what):
        ref = "op-%d" % next(self._ids)
        self.ops[ref] = {"what": what, "reads": 0, "code": 100}
        return ref

    def status(self, ref):
        self.calls.append(("status", ref))
        op = self.ops[ref]
        op["reads"] += 1
        if op["code"] == 100 and self.polls is not FOREVER and op["reads"] >= self.polls:
            what = op["what"]
            name = what[1] if what[0] == "grant" else self.rows[what[1]]["name"]
            op["code"] = self.fail.get(name, 200)
            if op["code"] == 200 and what[0] == "grant":
                for scope in what[2]:
                    self.add(what[1], scope, what[3])
            elif op["code"] == 200:
                del self.rows[what[1]]
        return op["code"]

    def mutations(self):
        return [call for call in self.calls if call[0] != "status"]


@dataclass(frozen=True)
class Declared:
    name: str
    scopes: tuple = ()
    note: str = ""
    state: str = "present"

    def predicted(self):
        return {"name": self.name, "scopes": list(self.scopes), "note": self.note, "rows": []}

    def absent(self):
        return {"name": self.name, "scopes": [], "note": None, "rows": []}


@dataclass(frozen=True)
class Row:
    reference_number: str
    name: str
    scope: str
    note: str
    status: str = p.ACTIVE
    created: datetime = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def metadata(self):
        return {"name": self.name, "scopes": [self.scope], "note": self.note, "rows": [self.reference_number]}


@dataclass(frozen=True)
class Granted:
    """The live view of one declaration: its rows."""

    reference_number: str
    rows: tuple
    status: str = p.ACTIVE

    def metadata(self):
        return {
            "name": self.reference_number,
            "scopes": sorted(row.scope for row in self.rows),
            "note": self.rows[0].note if self.rows else None,
            "rows": sorted(row.reference_number for row in self.rows),
        }


def _wait(api, operations, poller, ended):
    waiting, done = dict(operations), {}
    while waiting:
        for ref in list(waiting):
            code = api.status(ref)
            if code != 100:
                done[ref] = ended(ref) if code == 200 else KsefError("operation %s ended with %s" % (ref, code))
                del waiting[ref]
        if waiting and not poller.wait():
            done.update({ref: KsefTimeoutError("operation %s is still at 100" % ref) for ref in waiting})
            break
    return done


class GrantLike(Kind):
    noun, plural = "grant", "grants"
    holds_value = False
    change_order = BREAK_BEFORE_MAKE
    journaled = True

    def declare(self, options):
        return Declared(options["name"], tuple(options.get("scopes") or ()), options.get("note") or "",
                        options.get("state") or "present")

    def read_live(self, api, declared, options):
        return [Row(r["id"], r["name"], r["scope"], r["note"]) for r in api.rows.values()]

    def plan(self, declared, live, holdings, now, options, protected, auth_token_unknown):
        cplan = p.ContextPlan(declared={})
        for decl in declared:
            rows = [row for row in live if row.name == decl.name]
            current = Granted(decl.name, tuple(rows)) if rows else None
            if decl.state == "absent":
                steps = [p.Step(p.REVOKE, "state is absent", row.reference_number) for row in rows]
            else:
                kept = [row for row in rows if row.scope in decl.scopes and row.note == decl.note]
                stale = [row for row in rows if row not in kept]
                steps = [p.Step(p.REVOKE, "changed", row.reference_number) for row in stale]
                if set(decl.scopes) - {row.scope for row in kept}:
                    steps.append(p.Step(p.REPLACE if rows else p.CREATE, "scopes missing", decl.name))
                steps += [p.Step(p.KEEP, "as declared", row.reference_number) for row in kept]
            cplan.declared[decl.name] = p.Plan(decl, steps, current, rows)
        return cplan

    def issue(self, api, plan):
        kept = {row.scope for row in plan.live if row.note == plan.declared.note}
        missing = [scope for scope in plan.declared.scopes if scope not in kept]
        return api.grant(plan.declared.name, missing, plan.declared.note), None

    def activate(self, api, pending, poller):
        def granted(ref):
            name = api.ops[ref]["what"][1]
            rows = [Row(r["id"], r["name"], r["scope"], r["note"]) for r in api.rows.values() if r["name"] == name]
            return Granted(name, tuple(rows))

        return _wait(api, pending, poller, granted)

    def revoke(self, api, reference):
        return api.revoke(reference)

    def wait_revoked(self, api, operations, poller):
        return _wait(api, operations, poller, lambda ref: None)


class Module:
    check_mode = False
    _diff = False

    class ksef_auth:  # noqa: N801 - the attribute the engine reads
        method = "certificate"

    def __init__(self, api):
        self.api, self.no_log_values, self.warnings = api, set(), []
        self.ksef_context = CONTEXT

    @contextmanager
    def ksef_session(self):
        yield self.api

    def warn(self, message):
        self.warnings.append(message)


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("KSEF_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setenv("KSEF_JOURNAL_DIR", str(tmp_path / "journal"))


def run(api, *grants, wait_timeout=5.0, check_mode=False):
    module, kind = Module(api), GrantLike()
    module.check_mode = check_mode
    entries = validate(module, kind, [dict(g) for g in grants], "grants")
    report = _engine.converge(module, kind, entries, RunOptions(wait_timeout=wait_timeout))
    return module, report, result(report, kind)


def journal():
    return Journal(CONTEXT, "grants").in_flight()


# -- break-before-make ----------------------------------------------------------------------------------------------

def test_a_changed_attribute_revokes_every_row_and_waits_for_both_before_granting_again():
    api = Operations(polls=2)
    old = [api.add("ops", "InvoiceRead", "old"), api.add("ops", "InvoiceWrite", "old")]
    _module, report, outcome = run(api, {"name": "ops", "scopes": ["InvoiceRead", "InvoiceWrite"], "note": "new"})
    assert not report.done.failures
    calls = api.calls
    grant_at = calls.index(("grant", "ops", ("InvoiceRead", "InvoiceWrite")))
    # Both revokes were sent before their statuses were read: they are waited for together.
    assert calls[:2] == [("revoke", old[0]), ("revoke", old[1])]
    revoke_ops = [ref for ref, op in api.ops.items() if op["what"][0] == "revoke"]
    last_revoke_read = max(i for i, c in enumerate(calls) if c[0] == "status" and c[1] in revoke_ops)
    assert last_revoke_read < grant_at, "a grant was sent before the revokes ended"
    assert all(api.ops[ref]["code"] == 200 for ref in revoke_ops)
    assert sorted(r["scope"] for r in api.rows.values()) == ["InvoiceRead", "InvoiceWrite"]
    assert all(r["note"] == "new" for r in api.rows.values())
    actions = outcome["grants"]["ops"]["actions"]
    assert [a["action"] for a in actions] == ["revoke", "revoke", "replace"]
    assert all(a["status"] == "done" and a["operation"].startswith("op-") for a in actions)
    assert journal() == {}


def test_an_added_scope_grants_only_that_scope_and_touches_no_live_row():
    api = Operations()
    kept = api.add("ops", "InvoiceRead", "n")
    _module, _report, outcome = run(api, {"name": "ops", "scopes": ["InvoiceRead", "InvoiceWrite"], "note": "n"})
    assert api.mutations() == [("grant", "ops", ("InvoiceWrite",))]
    assert kept in api.rows
    # One declaration, several live rows: the result lists them all.
    assert outcome["grants"]["ops"]["scopes"] == ["InvoiceRead", "InvoiceWrite"]
    assert len(outcome["grants"]["ops"]["rows"]) == 2


def test_a_revoke_that_ends_badly_issues_nothing_and_fails_that_declaration_alone():
    api = Operations(fail={"ops": 420})
    api.add("ops", "InvoiceRead", "old")
    _module, report, outcome = run(
        api, {"name": "ops", "scopes": ["InvoiceRead"], "note": "new"}, {"name": "other", "scopes": ["InvoiceRead"]}
    )
    assert ("grant", "ops", ("InvoiceRead",)) not in api.calls
    assert ("grant", "other", ("InvoiceRead",)) in api.calls
    failure = report.done.failures["ops"]
    assert "did not end well" in str(failure) and "420" in str(failure)
    assert failure.actions[0]["status"] == "failed"
    assert "other" not in report.done.failures and outcome["grants"]["other"]["actions"][0]["status"] == "done"


# -- a kind without a value ---------------------------------------------------------------------------------------

def test_a_kind_without_a_value_registers_no_secret_and_has_no_stores_or_store_warnings():
    api = Operations()
    module, _report, outcome = run(api, {"name": "ops", "scopes": ["InvoiceRead"]})
    assert module.no_log_values == set()
    assert "stores" not in outcome["grants"]["ops"]
    assert not [w for w in module.warnings if "store" in w]


def test_a_kind_without_a_value_refuses_a_store():
    module, kind = Module(Operations()), GrantLike()
    with pytest.raises(KsefError, match=r"grants\[0\].store\[0\].*has no value to store"):
        validate(module, kind, [{"name": "ops", "store": [{"type": "file", "path": "/tmp/x"}]}], "grants")


# -- operations in flight -----------------------------------------------------------------------------------------

def test_an_operation_still_at_100_is_journaled_and_the_next_run_resumes_it_instead_of_granting_again():
    api = Operations(polls=FOREVER)
    _module, report, _outcome = run(api, {"name": "ops", "scopes": ["InvoiceRead"]}, wait_timeout=0.1)
    assert isinstance(report.done.failures["ops"].cause, KsefTimeoutError)
    (op, entry), = journal().items()
    assert entry["name"] == "ops" and entry["action"] == "create"

    # Still in progress: the next run waits for it, sends nothing, and says why.
    module, report, outcome = run(api, {"name": "ops", "scopes": ["InvoiceRead"]}, wait_timeout=0.1)
    assert api.mutations() == [("grant", "ops", ("InvoiceRead",))]
    (step,) = report.plan.declared["ops"].steps
    assert step.action == p.RETAIN and op in step.reason and "a later run resumes it" in step.reason
    assert any("still in progress" in w for w in module.warnings)
    assert not outcome["changed"] and list(journal()) == [op]

    # It ends meanwhile: the run that resumes it sees the row and keeps it.
    api.polls = 1
    _module, report, outcome = run(api, {"name": "ops", "scopes": ["InvoiceRead"]}, wait_timeout=0.1)
    assert api.mutations() == [("grant", "ops", ("InvoiceRead",))]
    assert [s.action for s in report.plan.declared["ops"].steps] == [p.KEEP]
    assert journal() == {}


def test_check_mode_reads_what_is_in_flight_but_leaves_the_journal_alone():
    api = Operations(polls=FOREVER)
    run(api, {"name": "ops", "scopes": ["InvoiceRead"]}, wait_timeout=0.1)
    before = journal()
    api.polls = 1
    _module, report, _outcome = run(api, {"name": "ops", "scopes": ["InvoiceRead"]}, wait_timeout=0.1, check_mode=True)
    assert journal() == before
    assert [s.action for s in report.plan.declared["ops"].steps] == [p.KEEP]


def test_a_revoke_left_in_flight_is_resumed_too():
    api = Operations(polls=FOREVER)
    row = api.add("ops", "InvoiceRead", "n")
    run(api, {"name": "ops", "state": "absent"}, wait_timeout=0.1)
    (entry,) = journal().values()
    assert entry == dict(entry, action="revoke", target=row)
    api.polls = 1
    _module, report, _outcome = run(api, {"name": "ops", "state": "absent"}, wait_timeout=0.1)
    assert api.mutations() == [("revoke", row)] and row not in api.rows
    assert report.plan.declared["ops"].steps == [] and journal() == {}
