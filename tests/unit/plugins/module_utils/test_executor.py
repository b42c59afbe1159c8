"""The executor: ordering, all-or-nothing rollback, activation failures, ambiguous creates, batching, locks.

The stores are real file stores on a real filesystem. KSeF is an in-memory stand-in that keeps only what the
protocol depends on (statuses, reference numbers, values, the calls made); the same paths run over HTTP against
the emulator in tests/integration/test_token*.py.
"""
import itertools
import multiprocessing
import os
import secrets
import stat
import time
from datetime import datetime, timezone

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _declarations, _executor, _identity, _locks, _results
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefAmbiguousError, KsefAuthError
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import token_plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token import TokenKind
from ansible_collections.ksef.credentials.plugins.module_utils._poll import Poller
from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import build_stores

CONTEXT = "Nip:5265877635"
RW = ("InvoiceRead", "InvoiceWrite")


class Module:
    check_mode = False

    def __init__(self):
        self.no_log_values = set()


class Ksef:
    """Tokens by reference number. A Pending token becomes `activation` (or Failed, for a name in `fail`) at the
    `polls`-th list call after its creation; `ambiguous_creates` POSTs create a token but lose the answer."""

    def __init__(self, polls=1, activation="Active", fail=(), ambiguous_creates=0):
        self.tokens, self.values, self.calls = {}, {}, []
        self.polls, self.activation, self.fail = polls, activation, set(fail)
        self.ambiguous_creates = ambiguous_creates
        self._seq = itertools.count(1)

    def add(self, description, permissions=RW, status="Active"):
        ref = "20251001-EC-%010d-0000000000-00" % next(self._seq)
        self.tokens[ref] = {"referenceNumber": ref, "status": status, "description": description,
                            "requestedPermissions": list(permissions), "age": 0,
                            "dateCreated": datetime.now(timezone.utc).isoformat()}
        self.values[ref] = "%s|nip-5265877635|%s" % (ref, secrets.token_hex(32))
        return ref

    def create_token(self, permissions, description):
        self.calls.append(("POST", description))
        ref = self.add(description, permissions, status="Pending")
        if self.ambiguous_creates:
            self.ambiguous_creates -= 1
            raise KsefAmbiguousError("connection dropped during POST /tokens")
        return {"referenceNumber": ref, "token": self.values[ref]}

    def list_tokens(self, statuses=None, description=None, **_):
        self.calls.append(("LIST", tuple(statuses or ()), description))
        for tok in self.tokens.values():
            if tok["status"] == "Pending":
                tok["age"] += 1
                if tok["age"] >= self.polls:
                    failing = _identity.name_of(tok["description"]) in self.fail
                    tok["status"] = "Failed" if failing else self.activation
        return [dict(t) for t in self.tokens.values()
                if (not statuses or t["status"] in statuses)
                and (not description or description.lower() in t["description"].lower())]

    def revoke_token(self, ref):
        self.calls.append(("DELETE", ref))
        self.tokens[ref]["status"] = "Revoked"

    def status(self, ref):
        return self.tokens[ref]["status"]

    def mutations(self):
        return [c[:2] for c in self.calls if c[0] in ("POST", "DELETE")]


class Kind(TokenKind):
    """The token kind with the login proof replaced by a test function (None: always proven)."""

    def __init__(self, proof=None):
        self.proof = proof

    def verify(self, module, value):
        if self.proof is not None:
            self.proof(value)


def declared(name="erp", **kw):
    kw.setdefault("description", "ERP")
    kw.setdefault("permissions", ("InvoiceRead",))
    return p.Declared(name=name, **kw)


def file_stores(module, tmp_path, *names):
    return build_stores(module, [{"type": "file", "path": str(tmp_path / n)} for n in names])


def converge(ksef, module, items, proof=None, exclusive="false", wait_timeout=5.0, before_apply=lambda: None,
             monotonic=time.monotonic):
    """items: [(Declared, [Store])] -> (ContextPlan, Done), as _engine.converge does after the login."""
    kind = Kind(proof)
    options = _declarations.RunOptions(exclusive=exclusive, wait_timeout=wait_timeout)
    entries = [_declarations.Entry(decl, stores) for decl, stores in items]
    for entry in entries:
        entry.snapshot = {s.label: s.read() for s in entry.stores}
    live = kind.read_live(ksef, [e.declared for e in entries], options)
    cplan = kind.plan([e.declared for e in entries], live, {e.name: e.holdings() for e in entries},
                      datetime.now(timezone.utc), options, protected=set(), auth_token_unknown=False)
    before_apply()
    executor = _executor.Executor(kind, ksef, module, CONTEXT, entries, options, sleep=lambda s: None,
                                  monotonic=monotonic)
    return cplan, executor.run(cplan)


def one(ksef, module, stores, decl, **kw):
    """One declared token, as the token module runs it: (Plan, Outcome or ApplyError)."""
    cplan, done = converge(ksef, module, [(decl, stores)], **kw)
    return cplan.declared[decl.name], done.outcomes.get(decl.name) or done.failures[decl.name]


def break_file(path):
    """After planning, the store can no longer be written: a directory now sits where its file was."""
    if path.exists():
        path.unlink()
    path.mkdir()
    (path / "keep").write_text("x")


# -- one token ------------------------------------------------------------------------------------------------------

def test_create_writes_every_store_registers_the_value_and_reads_back(tmp_path):
    ksef, module = Ksef(polls=3), Module()
    stores = file_stores(module, tmp_path, "a.token", "b.token")
    _plan, outcome = one(ksef, module, stores, declared())
    ref = outcome.current.reference_number
    assert ksef.status(ref) == "Active"
    value = ksef.values[ref]
    assert value in module.no_log_values
    for name in ("a.token", "b.token"):
        assert (tmp_path / name).read_text().strip() == value
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600
    assert outcome.held == {s.label: ref for s in stores}
    assert [a["action"] for a in outcome.actions] == ["create"]
    # Activation was awaited with list calls only (one per poll), never GET per token.
    assert {c[0] for c in ksef.calls} == {"POST", "LIST"}


def test_rotation_revokes_the_previous_token_only_after_every_store_holds_the_new_one(tmp_path):
    ksef, module = Ksef(), Module()
    stores = file_stores(module, tmp_path, "a.token")
    _plan, first = one(ksef, module, stores, declared())
    old = first.current.reference_number
    ksef.calls.clear()
    _plan, second = one(ksef, module, stores, declared(rotate=True))
    new = second.current.reference_number
    assert new != old and ksef.status(old) == "Revoked" and ksef.status(new) == "Active"
    assert (tmp_path / "a.token").read_text().strip() == ksef.values[new]
    assert ksef.mutations() == [("POST", _identity.compose("erp", "ERP")), ("DELETE", old)]
    assert [a["action"] for a in second.actions] == ["rotate", "revoke"]


def test_store_failure_restores_written_stores_revokes_the_new_token_and_keeps_the_old(tmp_path):
    ksef, module = Ksef(), Module()
    stores = file_stores(module, tmp_path, "a.token", "b.token")
    _plan, first = one(ksef, module, stores, declared())
    old = first.current.reference_number
    old_value = ksef.values[old]
    _plan, failure = one(ksef, module, stores, declared(rotate=True),
                         before_apply=lambda: break_file(tmp_path / "b.token"))
    assert isinstance(failure, _executor.ApplyError)
    new = [r for r in ksef.tokens if r != old][0]
    message = str(failure)
    assert "writing store file:%s" % (tmp_path / "b.token") in message
    assert "restored file:%s" % (tmp_path / "a.token") in message and "revoked the new token %s" % new in message
    assert ksef.status(new) == "Revoked" and ksef.status(old) == "Active"
    assert (tmp_path / "a.token").read_text().strip() == old_value
    assert ksef.values[new] not in message and old_value not in message


def test_first_store_failure_on_create_leaves_nothing_behind(tmp_path):
    ksef, module = Ksef(), Module()
    stores = file_stores(module, tmp_path, "a.token", "b.token")
    _plan, failure = one(ksef, module, stores, declared(), before_apply=lambda: break_file(tmp_path / "b.token"))
    assert isinstance(failure, _executor.ApplyError)
    assert [t["status"] for t in ksef.tokens.values()] == ["Revoked"]
    assert not (tmp_path / "a.token").exists()


def test_a_store_that_drops_the_write_is_caught_by_the_read_back(tmp_path):
    """Without the read-back after each write, this run would report success with an empty store."""
    ksef, module = Ksef(), Module()
    stores = file_stores(module, tmp_path, "a.token")
    stores[0].write = lambda value, meta, expected_version: None  # accepts the write, keeps nothing
    _plan, failure = one(ksef, module, stores, declared())
    assert isinstance(failure, _executor.ApplyError)
    assert "reading the value back after writing returned nothing" in str(failure)
    assert [t["status"] for t in ksef.tokens.values()] == ["Revoked"]


def test_failed_activation_revokes_the_token_and_touches_no_store(tmp_path):
    ksef, module = Ksef(activation="Failed"), Module()
    stores = file_stores(module, tmp_path, "a.token")
    _plan, failure = one(ksef, module, stores, declared())
    assert "failed to activate" in str(failure)
    assert [t["status"] for t in ksef.tokens.values()] == ["Revoked"]
    assert not (tmp_path / "a.token").exists()


def test_activation_timeout_revokes_the_pending_token(tmp_path):
    ksef, module = Ksef(polls=10 ** 6), Module()
    stores = file_stores(module, tmp_path, "a.token")
    clock = itertools.count(0, 1.0)
    _plan, failure = one(ksef, module, stores, declared(), monotonic=lambda: next(clock))
    assert "wait_timeout" in str(failure)
    assert [t["status"] for t in ksef.tokens.values()] == ["Revoked"]


def test_failed_login_proof_rolls_back(tmp_path):
    ksef, module = Ksef(), Module()
    stores = file_stores(module, tmp_path, "a.token")

    def refuse(value):
        assert value in module.no_log_values  # registered before anything could print it
        raise KsefAuthError("authentication with the new token failed (status 450)")

    _plan, failure = one(ksef, module, stores, declared(), proof=refuse)
    assert "logging in with the new token" in str(failure)
    assert [t["status"] for t in ksef.tokens.values()] == ["Revoked"]
    assert not (tmp_path / "a.token").exists()


def test_ambiguous_create_revokes_the_stray_and_retries_once(tmp_path):
    ksef, module = Ksef(ambiguous_creates=1), Module()
    stores = file_stores(module, tmp_path, "a.token")
    _plan, outcome = one(ksef, module, stores, declared())
    statuses = {ref: t["status"] for ref, t in ksef.tokens.items()}
    assert sorted(statuses.values()) == ["Active", "Revoked"]
    assert statuses[outcome.current.reference_number] == "Active"


def test_twice_ambiguous_create_fails_and_leaves_nothing(tmp_path):
    ksef, module = Ksef(ambiguous_creates=2), Module()
    stores = file_stores(module, tmp_path, "a.token")
    _plan, failure = one(ksef, module, stores, declared())
    assert isinstance(failure, _executor.ApplyError)
    assert {t["status"] for t in ksef.tokens.values()} == {"Revoked"}


def test_copy_restores_a_lost_store_from_another_without_issuing(tmp_path):
    ksef, module = Ksef(), Module()
    stores = file_stores(module, tmp_path, "a.token", "b.token")
    _plan, first = one(ksef, module, stores, declared())
    (tmp_path / "b.token").unlink()
    ksef.calls.clear()
    plan, outcome = one(ksef, module, stores, declared())
    assert [s.action for s in plan.steps] == ["copy", "keep"]
    assert ksef.mutations() == []
    assert (tmp_path / "b.token").read_text() == (tmp_path / "a.token").read_text()
    assert outcome.held[stores[1].label] == first.current.reference_number


def test_second_run_changes_nothing_and_lists_only_its_marker(tmp_path):
    ksef, module = Ksef(), Module()
    stores = file_stores(module, tmp_path, "a.token")
    one(ksef, module, stores, declared())
    ksef.calls.clear()
    plan, outcome = one(ksef, module, stores, declared())
    assert not plan.changed and ksef.mutations() == []
    assert ksef.calls == [("LIST", ("Pending", "Active"), _identity.marker("erp"))]
    assert outcome.actions == [{"action": "keep", "reason": plan.steps[0].reason,
                                "reference_number": outcome.current.reference_number}]


# -- many tokens of one context ---------------------------------------------------------------------------------

def many(module, tmp_path, *names, **kw):
    return [(declared(name, description="%s text" % name, permissions=RW, **kw),
             file_stores(module, tmp_path, name + ".token")) for name in names]


def test_all_creates_come_first_then_one_list_per_poll_for_all_of_them(tmp_path):
    ksef, module = Ksef(polls=3), Module()
    _cplan, done = converge(ksef, module, many(module, tmp_path, "a", "b", "c"))
    assert not done.failures
    kinds = [c[0] for c in ksef.calls]
    assert kinds[:4] == ["LIST", "POST", "POST", "POST"], "every POST before the first poll"
    polls = [c for c in ksef.calls[4:] if c[0] == "LIST"]
    assert polls and all(c[1] == ("Pending", "Failed") for c in polls)
    assert len(polls) == 3, "as many polls as one token needs to activate, not one round per token"
    for name in ("a", "b", "c"):
        ref = done.outcomes[name].current.reference_number
        assert ksef.status(ref) == "Active"
        assert (tmp_path / (name + ".token")).read_text().strip() == ksef.values[ref]
        assert ksef.values[ref] in module.no_log_values


def test_a_failing_token_is_rolled_back_alone(tmp_path):
    ksef, module = Ksef(fail={"b"}), Module()
    _cplan, done = converge(ksef, module, many(module, tmp_path, "a", "b", "c"))
    assert sorted(done.failures) == ["b"]
    assert "failed to activate" in str(done.failures["b"]) and "revoked the new token" in str(done.failures["b"])
    assert not (tmp_path / "b.token").exists()
    for name in ("a", "c"):
        ref = done.outcomes[name].current.reference_number
        assert ksef.status(ref) == "Active" and (tmp_path / (name + ".token")).exists()


def test_a_failed_proof_keeps_the_previous_token_and_the_other_rotations(tmp_path):
    ksef, module = Ksef(), Module()
    _cplan, first = converge(ksef, module, many(module, tmp_path, "a", "b"))
    old = {name: first.outcomes[name].current.reference_number for name in ("a", "b")}
    old_b_value = (tmp_path / "b.token").read_text()
    proofs = []

    def proof(value):  # the first proof of this run (token a's) fails
        proofs.append(value)
        if len(proofs) == 1:
            raise KsefAuthError("authentication with the new token failed (status 450)")

    _cplan, done = converge(ksef, module, many(module, tmp_path, "a", "b", rotate=True), proof=proof)
    assert list(done.failures) == ["a"] and "logging in with the new token" in str(done.failures["a"])
    assert ksef.status(old["a"]) == "Active", "the previous token of the failed rotation is untouched"
    assert ksef.status(old["b"]) == "Revoked" and (tmp_path / "b.token").read_text() != old_b_value


def test_exclusive_revokes_after_the_declared_tokens_and_waits_for_pending_ones(tmp_path):
    ksef, module = Ksef(polls=2), Module()
    stray = ksef.add(_identity.compose("stray", "old"))
    pending = ksef.add("another tool", status="Pending")
    cplan, done = converge(ksef, module, many(module, tmp_path, "a"), exclusive="all")
    assert [row["action"] for row in cplan.rows()] == ["create", "revoke", "wait", "revoke"]
    assert ksef.status(stray) == "Revoked" and ksef.status(pending) == "Revoked"
    deletes = [i for i, c in enumerate(ksef.calls) if c[0] == "DELETE"]
    post = next(i for i, c in enumerate(ksef.calls) if c[0] == "POST")
    assert deletes and min(deletes) > post
    assert [e["reference_number"] for e in done.unmanaged if e["action"] == "revoke"] == [pending]


def test_a_name_declared_absent_is_revoked_in_the_break_step_after_every_make_even_when_listed_first(tmp_path):
    ksef, module = Ksef(), Module()
    gone = ksef.add(_identity.compose("aaa-gone", "ERP"))
    stores = file_stores(module, tmp_path, "z")
    _plan, first = one(ksef, module, stores, declared("zzz-rotated"))
    previous = first.current.reference_number
    ksef.calls.clear()
    items = [(declared("aaa-gone", state="absent"), []), (declared("zzz-rotated", rotate=True), stores)]
    cplan, done = converge(ksef, module, items)
    assert [plan.declared.name for plan in cplan.plans()] == ["aaa-gone", "zzz-rotated"]
    assert [_executor.only_breaks(plan) for plan in cplan.plans()] == [True, False]
    # The rotation, its own revoke included, is the make step; the name declared absent is the break step.
    assert ksef.mutations() == [("POST", _identity.compose("zzz-rotated", "ERP")), ("DELETE", previous),
                                ("DELETE", gone)]
    assert done.failures == {} and ksef.status(gone) == "Revoked"


def test_activation_times_out_per_token():
    ksef = Ksef(polls=10 ** 6)
    ref = ksef.add("slow", status="Pending")
    clock = itertools.count(0, 1.0)
    poller = Poller(3, sleep=lambda s: None, monotonic=lambda: next(clock))
    done = TokenKind().activate(ksef, {ref: p.ActualToken.from_api(ksef.tokens[ref])}, poller)
    assert isinstance(done[ref], Exception) and "wait_timeout" in str(done[ref])


def test_check_mode_outcome_is_predicted_from_the_plan_alone():
    now = datetime.now(timezone.utc)
    a = p.ActualToken("A", "Active", RW, _identity.compose("a", "a text"), now)
    entries = [_declarations.Entry(declared("a", description="a text", permissions=RW)),
               _declarations.Entry(declared("b", description="b text", permissions=RW))]
    cplan = p.plan_context([e.declared for e in entries], [a], {"a": [p.Holding("file:/s", "A")], "b": []}, now)
    report = _results.Report(entries, cplan, _executor.predict(cplan, entries), check_mode=True)
    result = _results.result(report, TokenKind())
    assert result["changed"] is True and result["tokens"]["b"]["reference_number"] is None
    assert result["tokens"]["a"]["reference_number"] == "A" and result["revoked"] == []
    diff = _results.diff(report)
    assert list(diff["before"]) == ["b"] and diff["after"]["b"]["permissions"] == list(RW)


# -- locks -----------------------------------------------------------------------------------------------------------

def _hold(path, name, started, release):
    with _locks.token_lock(CONTEXT, name, timeout=5, directory=path):
        started.set()
        release.wait(10)


def test_lock_excludes_a_second_run_until_released(tmp_path):
    started, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(str(tmp_path), "erp", started, release))
    holder.start()
    try:
        assert started.wait(10)
        with pytest.raises(_locks.LockTimeoutError) as err:
            with _locks.token_lock(CONTEXT, "erp", timeout=0.3, directory=str(tmp_path)):
                pass
        assert "another run" in str(err.value)
        with _locks.token_lock(CONTEXT, "other-name", timeout=0.3, directory=str(tmp_path)):
            pass  # other tokens are not blocked
        release.set()
        with _locks.token_lock(CONTEXT, "erp", timeout=30, directory=str(tmp_path)) as path:
            assert path.endswith("Nip-5265877635-erp.lock")
    finally:
        release.set()
        holder.join(10)


def test_lock_of_a_killed_holder_is_released(tmp_path):
    started, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(str(tmp_path), "erp", started, release))
    holder.start()
    assert started.wait(10)
    holder.kill()
    holder.join(10)
    with _locks.token_lock(CONTEXT, "erp", timeout=2, directory=str(tmp_path)):
        pass


def test_two_tokens_cannot_write_one_raw_file_or_one_file_in_two_formats(tmp_path):
    from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
    from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token import TOKEN
    from tests.support.ansible_module import make_module

    path = str(tmp_path / "shared")
    items = [{"name": "a", "permissions": ["InvoiceRead"], "store": [{"type": "file", "path": path}]},
             {"name": "b", "permissions": ["InvoiceRead"],
              "store": [{"type": "file", "path": path, "format": "env", "key": "B"}]}]
    with pytest.raises(KsefConfigError) as caught:
        _declarations.validate(make_module([]), TOKEN, items, "tokens")
    assert caught.value.option == "tokens[1].store[0]" and "clashes with tokens[0].store[0]" in str(caught.value)
    items[0]["store"] = [{"type": "file", "path": path, "format": "env", "key": "A"}]
    assert [e.name for e in _declarations.validate(make_module([]), TOKEN, items, "tokens")] == ["a", "b"]
