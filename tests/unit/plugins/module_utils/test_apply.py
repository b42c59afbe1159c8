"""The rotation protocol's logic: ordering, all-or-nothing rollback, activation failures, ambiguous creates, locks.

The stores are real file stores on a real filesystem. KSeF is an in-memory stand-in that keeps only what the
protocol depends on (statuses, reference numbers, values); the same paths run over HTTP against the emulator
in tests/integration/test_token*.py.
"""
import itertools
import multiprocessing
import os
import secrets
import stat
import time
from datetime import datetime, timezone

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _apply, _identity, _locks
from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefAmbiguousError, KsefAuthError
from ansible_collections.ksef.credentials.plugins.module_utils._stores import build_stores

CONTEXT = "Nip:5265877635"


class Module:
    check_mode = False

    def __init__(self):
        self.no_log_values = set()


class Ksef:
    """Tokens by reference number; `activation` decides what a new token becomes after `polls_to_activate` polls."""

    def __init__(self, activation="Active", polls_to_activate=1, ambiguous_creates=0):
        self.tokens = {}
        self.values = {}
        self.activation = activation
        self.polls_to_activate = polls_to_activate
        self.ambiguous_creates = ambiguous_creates
        self.calls = []
        self._seq = itertools.count(1)

    def add(self, description, permissions=("InvoiceRead",), status="Active"):
        ref = "20251001-EC-%010d-0000000000-00" % next(self._seq)
        self.tokens[ref] = {"referenceNumber": ref, "status": status, "description": description,
                            "requestedPermissions": list(permissions), "polls": 0,
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
        self.calls.append(("LIST", description))
        for token in self.tokens.values():
            if token["status"] == "Pending":
                token["polls"] += 1
                if token["polls"] >= self.polls_to_activate:
                    token["status"] = self.activation
        return [dict(t) for t in self.tokens.values()
                if (not statuses or t["status"] in statuses)
                and (not description or description.lower() in t["description"].lower())]

    def revoke_token(self, ref):
        self.calls.append(("DELETE", ref))
        self.tokens[ref]["status"] = "Revoked"

    def status(self, ref):
        return self.tokens[ref]["status"]

    def mutations(self):
        return [c for c in self.calls if c[0] in ("POST", "DELETE")]


def file_stores(module, tmp_path, *names):
    return build_stores(module, [{"type": "file", "path": str(tmp_path / n)} for n in names])


def run(ksef, module, stores, declared, verify_token=None, wait_timeout=5.0, before_apply=lambda: None):
    snapshot = {s.label: s.read() for s in stores}
    holdings = [p.Holding(label, v.reference_number if v else None) for label, v in snapshot.items()]
    live = ksef.list_tokens(statuses=["Pending", "Active"], description=_identity.marker(declared.name))
    plan = p.plan(declared, live, holdings, datetime.now(timezone.utc))
    before_apply()
    applier = _apply.Applier(ksef, module, stores, snapshot, CONTEXT, wait_timeout=wait_timeout,
                             verify_token=verify_token, sleep=lambda s: None)
    return plan, applier.run(plan)


def break_file(path):
    """After planning, the store can no longer be written: a directory now sits where its file was."""
    if path.exists():
        path.unlink()
    path.mkdir()
    (path / "keep").write_text("x")


DECL = p.Declared(name="erp", description="ERP", permissions=("InvoiceRead",))


def test_create_writes_every_store_registers_the_value_and_reads_back(tmp_path):
    ksef, module = Ksef(polls_to_activate=3), Module()
    stores = file_stores(module, tmp_path, "a.token", "b.token")
    plan, outcome = run(ksef, module, stores, DECL)
    ref = outcome.token.reference_number
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
    _plan, first = run(ksef, module, stores, DECL)
    old = first.token.reference_number
    ksef.calls.clear()
    rotated = p.Declared(name="erp", description="ERP", permissions=("InvoiceRead",), rotate=True)
    _plan, second = run(ksef, module, stores, rotated)
    new = second.token.reference_number
    assert new != old and ksef.status(old) == "Revoked" and ksef.status(new) == "Active"
    assert (tmp_path / "a.token").read_text().strip() == ksef.values[new]
    assert ksef.mutations() == [("POST", _identity.compose("erp", "ERP")), ("DELETE", old)]
    assert [a["action"] for a in second.actions] == ["rotate", "revoke"]


def test_store_failure_restores_written_stores_revokes_the_new_token_and_keeps_the_old(tmp_path):
    ksef, module = Ksef(), Module()
    stores = file_stores(module, tmp_path, "a.token", "b.token")
    _plan, first = run(ksef, module, stores, DECL)
    old = first.token.reference_number
    old_value = ksef.values[old]
    with pytest.raises(_apply.ApplyError) as err:
        run(ksef, module, stores, p.Declared(name="erp", description="ERP", permissions=("InvoiceRead",),
                                             rotate=True), before_apply=lambda: break_file(tmp_path / "b.token"))
    new = [r for r in ksef.tokens if r != old][0]
    message = str(err.value)
    assert "writing store file:%s" % (tmp_path / "b.token") in message
    assert "restored file:%s" % (tmp_path / "a.token") in message and "revoked the new token %s" % new in message
    assert ksef.status(new) == "Revoked" and ksef.status(old) == "Active"
    assert (tmp_path / "a.token").read_text().strip() == old_value
    assert ksef.values[new] not in message and old_value not in message


def test_first_store_failure_on_create_leaves_nothing_behind(tmp_path):
    ksef, module = Ksef(), Module()
    stores = file_stores(module, tmp_path, "a.token", "b.token")
    with pytest.raises(_apply.ApplyError):
        run(ksef, module, stores, DECL, before_apply=lambda: break_file(tmp_path / "b.token"))
    assert [t["status"] for t in ksef.tokens.values()] == ["Revoked"]
    assert not (tmp_path / "a.token").exists()


def test_failed_activation_revokes_the_token_and_touches_no_store(tmp_path):
    ksef, module = Ksef(activation="Failed"), Module()
    stores = file_stores(module, tmp_path, "a.token")
    with pytest.raises(_apply.ApplyError) as err:
        run(ksef, module, stores, DECL)
    assert "failed to activate" in str(err.value)
    assert [t["status"] for t in ksef.tokens.values()] == ["Revoked"]
    assert not (tmp_path / "a.token").exists()


def test_activation_timeout_revokes_the_pending_token(tmp_path):
    ksef, module = Ksef(polls_to_activate=10 ** 6), Module()
    stores = file_stores(module, tmp_path, "a.token")
    clock = itertools.count(0, 1.0)
    snapshot = {s.label: None for s in stores}
    plan = p.plan(DECL, [], [p.Holding(s.label, None) for s in stores], datetime.now(timezone.utc))
    applier = _apply.Applier(ksef, module, stores, snapshot, CONTEXT, wait_timeout=5, sleep=lambda s: None,
                             monotonic=lambda: next(clock))
    with pytest.raises(_apply.ApplyError) as err:
        applier.run(plan)
    assert "wait_timeout" in str(err.value)
    assert [t["status"] for t in ksef.tokens.values()] == ["Revoked"]


def test_failed_login_proof_rolls_back(tmp_path):
    ksef, module = Ksef(), Module()
    stores = file_stores(module, tmp_path, "a.token")

    def refuse(value):
        assert value in module.no_log_values  # registered before anything could print it
        raise KsefAuthError("authentication with the new token failed (status 450)")

    with pytest.raises(_apply.ApplyError) as err:
        run(ksef, module, stores, DECL, verify_token=refuse)
    assert "logging in with the new token" in str(err.value)
    assert [t["status"] for t in ksef.tokens.values()] == ["Revoked"]
    assert not (tmp_path / "a.token").exists()


def test_ambiguous_create_revokes_the_stray_and_retries_once(tmp_path):
    ksef, module = Ksef(ambiguous_creates=1), Module()
    stores = file_stores(module, tmp_path, "a.token")
    _plan, outcome = run(ksef, module, stores, DECL)
    statuses = {ref: t["status"] for ref, t in ksef.tokens.items()}
    assert sorted(statuses.values()) == ["Active", "Revoked"]
    assert statuses[outcome.token.reference_number] == "Active"


def test_twice_ambiguous_create_fails_and_leaves_nothing(tmp_path):
    ksef, module = Ksef(ambiguous_creates=2), Module()
    stores = file_stores(module, tmp_path, "a.token")
    with pytest.raises(_apply.ApplyError):
        run(ksef, module, stores, DECL)
    assert {t["status"] for t in ksef.tokens.values()} == {"Revoked"}


def test_copy_restores_a_lost_store_from_another_without_issuing(tmp_path):
    ksef, module = Ksef(), Module()
    stores = file_stores(module, tmp_path, "a.token", "b.token")
    _plan, first = run(ksef, module, stores, DECL)
    (tmp_path / "b.token").unlink()
    ksef.calls.clear()
    plan, outcome = run(ksef, module, stores, DECL)
    assert [s.action for s in plan.steps] == ["copy", "keep"]
    assert ksef.mutations() == []
    assert (tmp_path / "b.token").read_text() == (tmp_path / "a.token").read_text()
    assert outcome.held[stores[1].label] == first.token.reference_number


def test_second_run_changes_nothing(tmp_path):
    ksef, module = Ksef(), Module()
    stores = file_stores(module, tmp_path, "a.token")
    run(ksef, module, stores, DECL)
    ksef.calls.clear()
    plan, outcome = run(ksef, module, stores, DECL)
    assert not plan.changed and ksef.mutations() == []
    assert outcome.actions == [{"action": "keep", "reason": plan.steps[0].reason,
                                "reference_number": outcome.token.reference_number}]


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
        t0 = time.monotonic()
        with _locks.token_lock(CONTEXT, "erp", timeout=5, directory=str(tmp_path)) as path:
            assert path.endswith("Nip-5265877635-erp.lock")
        assert time.monotonic() - t0 < 5
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
