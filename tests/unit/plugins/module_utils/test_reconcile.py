"""The context-wide planner and the batched apply of ksef.credentials.tokens.

Planning is pure: declared tokens + one list + store holdings -> rows. The apply tests use real file stores
and an in-memory KSeF that keeps only what the protocol depends on (statuses, values, the calls made); the
same paths run over HTTP against the emulator in tests/integration/test_tokens_module.py.
"""
import itertools
import secrets
from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _apply
from ansible_collections.ksef.credentials.plugins.module_utils import _identity as identity
from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils import _reconcile as r
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefAuthError
from ansible_collections.ksef.credentials.plugins.module_utils._stores import build_stores

NOW = datetime(2025, 10, 1, 12, 0, tzinfo=timezone.utc)
RW = ("InvoiceRead", "InvoiceWrite")
MANAGER = ("CredentialsManage", "CredentialsRead")
D, H = timedelta(days=1), timedelta(hours=1)


def token(ref, name=None, text="ERP sender", perms=RW, status="Active", age=D):
    description = identity.compose(name, text) if name else text
    return p.ActualToken(ref, status, tuple(perms), description, NOW - age)


def declared(name, **kw):
    kw.setdefault("description", "%s text" % name)
    kw.setdefault("permissions", RW)
    return p.Declared(name=name, **kw)


def held(ref=None, label="file:/s"):
    return [p.Holding(label, ref)]


def rows(cplan):
    return [(row["name"], row["action"], row["reference_number"]) for row in cplan.rows()]


# -- planning -----------------------------------------------------------------------------------------------

def test_each_declared_name_is_planned_from_one_shared_list():
    tokens = [token("A", "erp", "erp text"), token("B", "arch", "arch text", age=H), token("X", "other", "x")]
    cplan = r.plan_context([declared("erp"), declared("arch", permissions=("InvoiceRead",)), declared("new")],
                           tokens, {"erp": held("A"), "arch": held("B"), "new": held()}, NOW)
    assert rows(cplan) == [("erp", "keep", "A"), ("arch", "replace", "B"), ("arch", "revoke", "B"),
                           ("new", "create", None)]
    assert cplan.changed and cplan.summary() == {"create": 1, "keep": 1, "replace": 1, "revoke": 1}
    assert set(cplan.rows()[0]) == {"name", "action", "reference_number", "reason"}


def test_nothing_outside_the_declared_names_is_touched_without_exclusive():
    tokens = [token("A", "erp", "erp text"), token("X", "other", "x"), token("U")]
    cplan = r.plan_context([declared("erp")], tokens, {"erp": held("A")}, NOW)
    assert rows(cplan) == [("erp", "keep", "A")] and not cplan.changed


def test_exclusive_managed_revokes_undeclared_names_only():
    tokens = [token("A", "erp", "erp text"), token("X", "other", "x"), token("P", "late", "y", status="Pending"),
              token("U")]
    cplan = r.plan_context([declared("erp")], tokens, {"erp": held("A")}, NOW, exclusive="managed")
    assert rows(cplan) == [("erp", "keep", "A"), ("late", "wait", "P"), ("late", "revoke", "P"),
                           ("other", "revoke", "X")]
    assert cplan.rows()[-1]["reason"] == "not declared (exclusive: managed)"


def test_exclusive_all_revokes_unmanaged_tokens_but_keeps_the_login_token():
    tokens = [token("A", "erp", "erp text"), token("U", text="web app"), token("M", text="manager", perms=MANAGER)]
    cplan = r.plan_context([declared("erp")], tokens, {"erp": held("A")}, NOW, exclusive="all", protected={"M"})
    assert rows(cplan) == [("erp", "keep", "A"), (None, "revoke", "U"), (None, "retain", "M")]
    assert "revoke_auth_token: true" in cplan.rows()[-1]["reason"]
    forced = r.plan_context([declared("erp")], tokens, {"erp": held("A")}, NOW, exclusive="all", protected={"M"},
                            revoke_auth_token=True)
    assert (None, "revoke", "M") in rows(forced)


def test_a_declared_absent_name_keeps_the_login_token_unless_revoke_auth_token():
    tokens = [token("M", "manager", "manager", perms=MANAGER)]
    cplan = r.plan_context([declared("manager", state="absent")], tokens, {"manager": []}, NOW, protected={"M"})
    assert rows(cplan) == [("manager", "retain", "M")]
    assert "revoke_auth_token" in cplan.rows()[0]["reason"]
    forced = r.plan_context([declared("manager", state="absent")], tokens, {"manager": []}, NOW, protected={"M"},
                            revoke_auth_token=True)
    assert rows(forced) == [("manager", "revoke", "M")]


def test_a_reused_session_keeps_every_token_that_could_have_opened_it():
    tokens = [token("U", text="web app"), token("M", text="manager", perms=MANAGER),
              token("N", "ops", "ops", perms=MANAGER)]
    cplan = r.plan_context([], tokens, {}, NOW, exclusive="all", auth_token_unknown=True)
    assert rows(cplan) == [("ops", "retain", "N"), (None, "revoke", "U"), (None, "retain", "M")]
    assert all("auth.access_token" in row["reason"] for row in cplan.rows() if row["action"] == "retain")


def test_adopt_keeps_an_unmanaged_token_whose_value_a_store_holds():
    tokens = [token("U", text="erp text")]
    cplan = r.plan_context([declared("erp")], tokens, {"erp": held("U")}, NOW, adopt=True, exclusive="all")
    assert rows(cplan) == [("erp", "keep", "U")]
    assert cplan.rows()[0]["reason"].startswith("adopted:")
    assert cplan.adopted == {"erp": "U"} and not cplan.changed
    assert cplan.declared["erp"].before()["name"] == "erp"


def test_adopt_without_the_value_in_a_store_creates_and_says_why():
    tokens = [token("U", text="erp text")]
    cplan = r.plan_context([declared("erp")], tokens, {"erp": held()}, NOW, adopt=True)
    assert rows(cplan) == [("erp", "create", None)]
    assert "unmanaged token U" in cplan.rows()[0]["reason"] and "adopting needs the value" in cplan.rows()[0]["reason"]
    assert cplan.adopted == {} and any("U" in w for w in cplan.warnings)


@pytest.mark.parametrize("other", [
    token("U", text="other text"),                       # description differs
    token("U", text="erp text", perms=("InvoiceRead",)),  # permissions differ
    token("U", text="erp text", status="Pending"),       # not Active yet
])
def test_adopt_needs_equal_description_and_permissions_of_an_active_token(other):
    cplan = r.plan_context([declared("erp")], [other], {"erp": held("U")}, NOW, adopt=True)
    assert rows(cplan)[0][:2] == ("erp", "create") and cplan.adopted == {}


def test_an_adopted_token_is_superseded_by_a_managed_one_at_its_rotation():
    tokens = [token("U", text="erp text", age=100 * D)]
    cplan = r.plan_context([declared("erp", rotate_after=90 * D)], tokens, {"erp": held("U")}, NOW, adopt=True)
    assert rows(cplan) == [("erp", "rotate", "U"), ("erp", "revoke", "U")]


def test_one_unmanaged_token_is_adopted_by_one_name_only():
    tokens = [token("U", text="same text")]
    both = [declared("a", description="same text"), declared("b", description="same text")]
    cplan = r.plan_context(both, tokens, {"a": held("U", "file:/a"), "b": held("U", "file:/b")}, NOW, adopt=True)
    assert cplan.adopted == {"a": "U"}
    assert rows(cplan)[0] == ("a", "keep", "U") and rows(cplan)[1][:2] == ("b", "create")


def test_unknown_exclusive_value_is_refused():
    with pytest.raises(ValueError):
        r.plan_context([], [], {}, NOW, exclusive="everything")


# -- applying -----------------------------------------------------------------------------------------------

class Module:
    check_mode = False

    def __init__(self):
        self.no_log_values = set()


class Ksef:
    """Tokens by reference number; a Pending token activates (or fails) at the `polls`-th list call after it."""

    def __init__(self, polls=2, fail=()):
        self.tokens, self.values, self.calls = {}, {}, []
        self.polls, self.fail = polls, set(fail)
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
        return {"referenceNumber": ref, "token": self.values[ref]}

    def list_tokens(self, statuses=None, description=None, **_):
        self.calls.append(("LIST", tuple(statuses or ())))
        for tok in self.tokens.values():
            if tok["status"] == "Pending":
                tok["age"] += 1
                if tok["age"] >= self.polls:
                    tok["status"] = "Failed" if identity.name_of(tok["description"]) in self.fail else "Active"
        return [dict(t) for t in self.tokens.values()
                if (not statuses or t["status"] in statuses)
                and (not description or description.lower() in t["description"].lower())]

    def revoke_token(self, ref):
        self.calls.append(("DELETE", ref))
        self.tokens[ref]["status"] = "Revoked"

    def status(self, ref):
        return self.tokens[ref]["status"]


def reconcile(ksef, tmp_path, decls, verify=None, exclusive="false", **kw):
    module = Module()
    stores = {d.name: build_stores(module, [{"type": "file", "path": str(tmp_path / (d.name + ".token"))}])
              for d in decls}
    snapshots = {name: {s.label: s.read() for s in st} for name, st in stores.items()}
    holdings = {name: [p.Holding(label, v.reference_number if v else None) for label, v in snap.items()]
                for name, snap in snapshots.items()}
    listed = ksef.list_tokens(statuses=["Pending", "Active"])
    cplan = r.plan_context(decls, listed, holdings, datetime.now(timezone.utc), exclusive=exclusive, **kw)
    appliers = {d.name: _apply.Applier(ksef, module, stores[d.name], snapshots[d.name], "Nip:5265877635",
                                       wait_timeout=5, verify_token=verify, sleep=lambda s: None) for d in decls}
    done = r.ContextApplier(ksef, module, "Nip:5265877635", appliers, wait_timeout=5,
                            sleep=lambda s: None).run(cplan)
    return cplan, done, module


def test_all_creates_come_first_then_one_list_per_poll_for_all_of_them(tmp_path):
    ksef = Ksef(polls=3)
    decls = [declared("a"), declared("b"), declared("c")]
    cplan, done, module = reconcile(ksef, tmp_path, decls)
    assert not done.failures
    kinds = [c[0] for c in ksef.calls]
    assert kinds[:4] == ["LIST", "POST", "POST", "POST"], "every POST before the first poll"
    polls = [c for c in ksef.calls[4:] if c[0] == "LIST"]
    assert polls and all(c[1] == ("Pending", "Failed") for c in polls)
    assert len(polls) == 3, "as many polls as one token needs to activate, not one round per token"
    for d in decls:
        ref = done.outcomes[d.name].token.reference_number
        assert ksef.status(ref) == "Active"
        assert (tmp_path / (d.name + ".token")).read_text().strip() == ksef.values[ref]
        assert ksef.values[ref] in module.no_log_values


def test_a_failing_token_is_rolled_back_alone(tmp_path):
    ksef = Ksef(fail={"b"})
    decls = [declared("a"), declared("b"), declared("c")]
    _cplan, done, _module = reconcile(ksef, tmp_path, decls)
    assert sorted(done.failures) == ["b"]
    assert "failed to activate" in str(done.failures["b"]) and "revoked the new token" in str(done.failures["b"])
    assert not (tmp_path / "b.token").exists()
    for name in ("a", "c"):
        ref = done.outcomes[name].token.reference_number
        assert ksef.status(ref) == "Active" and (tmp_path / (name + ".token")).exists()


def test_a_failed_proof_keeps_the_previous_token_and_the_other_rotations(tmp_path):
    ksef = Ksef()
    decls = [declared("a"), declared("b")]
    _cplan, first, _module = reconcile(ksef, tmp_path, decls)
    old = {name: first.outcomes[name].token.reference_number for name in ("a", "b")}
    old_b_value = (tmp_path / "b.token").read_text()
    proofs = []

    def verify(value):  # the first proof of this run (token a's) fails
        proofs.append(value)
        if len(proofs) == 1:
            raise KsefAuthError("authentication with the new token failed (status 450)")

    rotate = [declared("a", rotate=True), declared("b", rotate=True)]
    _cplan, done, _module = reconcile(ksef, tmp_path, rotate, verify=verify)
    assert list(done.failures) == ["a"] and "logging in with the new token" in str(done.failures["a"])
    assert ksef.status(old["a"]) == "Active", "the previous token of the failed rotation is untouched"
    assert ksef.status(old["b"]) == "Revoked" and (tmp_path / "b.token").read_text() != old_b_value


def test_exclusive_revokes_after_the_declared_tokens_and_waits_for_pending_ones(tmp_path):
    ksef = Ksef()
    stray = ksef.add(identity.compose("stray", "old"))
    pending = ksef.add("another tool", status="Pending")
    cplan, done, _module = reconcile(ksef, tmp_path, [declared("a")], exclusive="all")
    assert [row[1] for row in rows(cplan)] == ["create", "revoke", "wait", "revoke"]
    assert ksef.status(stray) == "Revoked" and ksef.status(pending) == "Revoked"
    deletes = [i for i, c in enumerate(ksef.calls) if c[0] == "DELETE"]
    post = next(i for i, c in enumerate(ksef.calls) if c[0] == "POST")
    assert deletes and min(deletes) > post
    assert [e["reference_number"] for e in done.unmanaged if e["action"] == "revoke"] == [pending]


def test_await_activation_times_out_per_token():
    ksef = Ksef(polls=10 ** 6)
    ref = ksef.add("slow", status="Pending")
    clock = itertools.count(0, 1.0)
    done = r.await_activation(ksef, {ref: p.ActualToken.from_api(ksef.tokens[ref])}, 3, sleep=lambda s: None,
                              monotonic=lambda: next(clock))
    assert isinstance(done[ref], Exception) and "wait_timeout" in str(done[ref])


def test_check_mode_outcome_is_predicted_from_the_plan_alone(tmp_path):
    decls = [declared("a"), declared("b")]
    cplan = r.plan_context(decls, [token("A", "a", "a text")], {"a": held("A"), "b": held()}, NOW)
    done = r._predicted_context(cplan, {"a": {"file:/s": None}, "b": {"file:/s": None}})
    result = r.tokens_result(cplan, done, {}, check_mode=True)
    assert result["changed"] is True and result["tokens"]["b"]["reference_number"] is None
    assert result["tokens"]["a"]["reference_number"] == "A" and result["revoked"] == []
    diff = r.diff(cplan, done, check_mode=True)
    assert list(diff["before"]) == ["b"] and diff["after"]["b"]["permissions"] == list(RW)
