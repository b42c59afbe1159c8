"""Several kinds in one task (_many_kinds.py) with two small value-less kinds on an in-memory KSeF: one session for
every kind, a kind with nothing declared sends nothing, a kind that stops never stops the next, one result, one
saved plan for every kind, and errors of per-kind options named as the task spells them."""
import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _many_kinds
from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefApiError, KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._kind import BREAK_BEFORE_MAKE, Kind
from ansible_collections.ksef.credentials.plugins.module_utils._saved_plan import FORMAT, PlanMovedError


@dataclass(frozen=True)
class Declared:
    name: str
    state: str = "present"

    def predicted(self):
        return {"name": self.name}

    def absent(self):
        return {"name": self.name}


@dataclass(frozen=True)
class Live:
    reference_number: str
    name: str
    status: str = p.ACTIVE
    created: datetime = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def metadata(self):
        return {"name": self.name, "reference_number": self.reference_number, "status": self.status}


class Named(Kind):
    """Objects that are only a name: created when missing, kept when present."""

    holds_value = False
    change_order = BREAK_BEFORE_MAKE
    exclusive_choices = ("false", "managed")

    def __init__(self, noun, broken=False):
        self.noun, self.plural, self.broken = noun, noun + "s", broken

    def declare(self, options):
        return Declared(options["name"], options.get("state") or "present")

    def read_live(self, api, declared, options):
        api.calls.append(("list", self.plural))
        if self.broken:
            raise KsefApiError("KSeF answered 500", status=500, operation="GET /%s" % self.plural)
        return [Live(ref, name) for ref, name in api.objects.get(self.plural, {}).items()]

    def plan(self, declared, live, holdings, now, options, protected, auth_token_unknown):
        cplan = p.ContextPlan(declared={})
        for decl in declared:
            rows = [row for row in live if row.name == decl.name]
            steps = [p.Step(p.KEEP, "present", row.reference_number) for row in rows]
            steps = steps or [p.Step(p.CREATE, "missing")]
            cplan.declared[decl.name] = p.Plan(decl, steps, rows[0] if rows else None, rows)
        return cplan

    def issue(self, api, plan):
        api.calls.append(("issue", self.plural, plan.declared.name))
        ref = "%s-%d" % (self.noun, len(api.calls))
        api.objects.setdefault(self.plural, {})[ref] = plan.declared.name
        return ref, None

    def activate(self, api, pending, poller):
        return {ref: Live(ref, api.objects[self.plural][ref]) for ref in pending}

    def revoke(self, api, reference):
        api.calls.append(("revoke", self.plural, reference))
        api.objects[self.plural].pop(reference)


class Api:
    def __init__(self, objects=None):
        self.objects, self.calls, self.sessions = objects or {}, [], 0


class Module:
    _diff = False

    class ksef_auth:  # noqa: N801 - the attribute the engine reads
        method = "xades"
        on_behalf = False

    class ksef_connection:  # noqa: N801
        base_url = "http://127.0.0.1:1/v2"

    def __init__(self, api, check_mode=False, **params):
        self.api, self.check_mode, self.no_log_values, self.warnings = api, check_mode, set(), []
        self.ksef_context = "Nip:5265877635"
        self.params = dict(
            dict(wait_timeout=5, lock_timeout=5, adopt=False, revoke_auth_token=False, drift=False, plan_file=None,
                 apply_plan=None), **params
        )

    @contextmanager
    def ksef_session(self):
        self.api.sessions += 1
        self.api.calls.append(("login",))
        yield self.api

    def warn(self, message):
        self.warnings.append(message)

    def atomic_move(self, source, target):
        import os

        os.replace(source, target)


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("KSEF_LOCK_DIR", str(tmp_path / "locks"))


def kinds(broken=()):
    return (Named("label", "labels" in broken), Named("badge", "badges" in broken))


def converge(module, kinds_=None):
    kinds_ = kinds_ or kinds()
    runs = _many_kinds.prepare(module, kinds_)
    _many_kinds.converge_kinds(module, runs)
    return runs, _many_kinds.combined(module, runs, kinds_)


def test_every_kind_converges_in_one_session_in_order_and_the_result_has_a_section_per_kind():
    api = Api({"labels": {"label-0": "kept"}})
    module = Module(api, labels=[{"name": "kept"}, {"name": "new"}], badges=[{"name": "b"}])
    runs, outcome = converge(module)
    assert api.sessions == 1
    # Every kind is planned first, in break order (what a later kind revokes is known to an earlier one's plan),
    # then made in order.
    assert api.calls == [("login",), ("list", "badges"), ("list", "labels"), ("issue", "labels", "new"),
                         ("issue", "badges", "b")]
    assert _many_kinds.failures(runs) == []
    assert outcome["changed"] is True
    assert sorted(outcome["labels"]["labels"]) == ["kept", "new"] and list(outcome["badges"]["badges"]) == ["b"]
    assert [(row["kind"], row["name"], row["action"]) for row in outcome["plan"]] == [
        ("label", "kept", "keep"), ("label", "new", "create"), ("badge", "b", "create")]
    assert outcome["summary"] == {"create": 2, "keep": 1}
    assert outcome["plan_text"] == ["labels:", "  + new: create (missing)", "  Plan: 1 to create.",
                                    "badges:", "  + b: create (missing)", "  Plan: 1 to create.",
                                    "Order: labels are made first, then badges; revoked in reverse order, labels last."]
    assert outcome["held_back"] == []


def test_the_order_line_names_only_the_kinds_that_change():
    api = Api({"labels": {"label-0": "kept"}})
    _runs, outcome = converge(Module(api, labels=[{"name": "kept"}], badges=[{"name": "b"}]))
    assert outcome["labels"]["changed"] is False and outcome["badges"]["changed"] is True
    assert not [line for line in outcome["plan_text"] if line.startswith("Order:")], outcome["plan_text"]


def test_a_kind_with_nothing_declared_and_no_exclusive_sends_nothing_and_one_with_exclusive_runs():
    api = Api()
    runs, outcome = converge(Module(api, labels=[], badges=[{"name": "b"}]))
    assert [run.plural for run in runs] == ["badges"]
    assert ("list", "labels") not in api.calls
    assert outcome["labels"] == {"skipped": True, "changed": False, "msg": "nothing declared: no request sent"}

    api = Api()
    runs, _outcome = converge(Module(api, labels=[], labels_exclusive="managed", badges=[]))
    assert [run.plural for run in runs] == ["labels"] and ("list", "labels") in api.calls

    api = Api()
    runs, outcome = converge(Module(api, labels=[], badges=[]))
    assert runs == [] and api.calls == [] and outcome["changed"] is False


def test_a_kind_that_stops_as_a_whole_never_stops_the_next_and_every_failure_is_named():
    api = Api()
    runs, outcome = converge(Module(api, labels=[{"name": "a"}], badges=[{"name": "b"}]), kinds(broken=("labels",)))
    assert ("issue", "badges", "b") in api.calls and api.sessions == 1
    assert outcome["labels"]["failed"] is True and outcome["labels"]["status"] == 500
    assert outcome["badges"]["changed"] is True and outcome["changed"] is True
    assert outcome["plan_text"][:2] == ["labels:", "  not planned: KSeF answered 500"]
    assert _many_kinds.failures(runs) == ["labels: KSeF answered 500"]
    message = _many_kinds.failure_message(runs, _many_kinds.failures(runs))
    assert message == "1 failure (everything else was applied): labels: KSeF answered 500"
    alone = [run for run in runs if run.plural == "labels"]
    assert _many_kinds.failure_message(alone, ["labels: KSeF answered 500"]) == "1 failure: labels: KSeF answered 500"


def test_check_mode_plans_every_kind_and_changes_nothing():
    api = Api({"labels": {"label-0": "kept"}})
    _runs, outcome = converge(Module(api, check_mode=True, labels=[{"name": "kept"}], badges=[{"name": "b"}]))
    assert not [call for call in api.calls if call[0] == "issue"]
    assert outcome["changed"] is True and outcome["badges"]["plan"][0]["action"] == "create"


def test_a_certificate_like_login_check_refuses_the_task_before_any_request():
    class Refusing(Named):
        def check_auth(self, module):
            raise KsefConfigError("auth.on_behalf", "refused")

    api = Api()
    module = Module(api, labels=[{"name": "a"}], badges=[{"name": "b"}])
    with pytest.raises(KsefConfigError) as refused:
        _many_kinds.prepare(module, (Refusing("label"), Named("badge")))
    assert refused.value.option == "auth.on_behalf" and api.calls == []


def test_a_store_template_error_names_the_per_kind_option():
    module = Module(Api(), labels=[{"name": "a"}], labels_store_template=[{"type": "file", "path": "/tmp/{name}"}])
    with pytest.raises(KsefConfigError) as refused:
        _many_kinds.prepare(module, kinds())
    assert refused.value.option == "labels_store_template"
    assert "labels_store_template" in str(refused.value)


def test_one_saved_plan_holds_every_kind_and_apply_refuses_other_kinds_before_any_request(tmp_path):
    saved = tmp_path / "plan.json"
    api = Api({"labels": {"label-0": "kept"}})
    module = Module(api, check_mode=True, labels=[{"name": "kept"}], badges=[{"name": "b"}], plan_file=str(saved))
    runs, _outcome = converge(module)
    _many_kinds._write_plan(module, runs)
    document = json.loads(saved.read_text())
    assert document["format"] == FORMAT and document["kind"] == "credentials"
    assert sorted(document["kinds"]) == ["badges", "labels"]
    assert document["kinds"]["badges"]["plan"][0]["action"] == "create"

    # Applied as saved: every kind's part matches, the changes are made.
    module = Module(api, labels=[{"name": "kept"}], badges=[{"name": "b"}], apply_plan=str(saved))
    runs, outcome = converge(module)
    assert _many_kinds.failures(runs) == [] and ("issue", "badges", "b") in api.calls

    # A run converging other kinds than the plan holds is refused before any request.
    api = Api({"labels": {"label-0": "kept"}})
    module = Module(api, labels=[{"name": "kept"}], badges=[], apply_plan=str(saved))
    with pytest.raises(PlanMovedError) as moved:
        _many_kinds.prepare(module, kinds())
    assert moved.value.lines == ["the plan holds badges, labels, this run converges labels"] and api.calls == []

    # A one-kind plan (the tokens module's) is refused, naming apply_plan.
    document["kind"] = "token"
    saved.write_text(json.dumps(document))
    with pytest.raises(KsefConfigError) as refused:
        _many_kinds.prepare(Module(Api(), labels=[{"name": "kept"}], apply_plan=str(saved)), kinds())
    assert refused.value.option == "apply_plan" and "written by another module" in str(refused.value)


def test_a_kind_whose_part_of_the_saved_plan_moved_changes_nothing_and_the_other_kind_is_applied(tmp_path):
    saved = tmp_path / "plan.json"
    api = Api()
    module = Module(api, check_mode=True, labels=[{"name": "a"}], badges=[{"name": "b"}], plan_file=str(saved))
    runs, _outcome = converge(module)
    _many_kinds._write_plan(module, runs)
    api.objects["badges"] = {"badge-x": "b"}  # someone made badge b since the review
    runs, outcome = converge(Module(api, labels=[{"name": "a"}], badges=[{"name": "b"}], apply_plan=str(saved)))
    assert ("issue", "labels", "a") in api.calls and ("issue", "badges", "b") not in api.calls
    assert outcome["badges"]["failed"] is True and outcome["badges"]["option"] == "apply_plan"
    assert any(line.startswith("badges: apply_plan: %s (made " % saved) for line in _many_kinds.failures(runs))
    assert outcome["badges"]["msg"].startswith("apply_plan: %s (made " % saved)  # the file, not None


def test_a_kind_with_nothing_to_show_is_left_out_of_the_combined_plan_and_diff():
    api = Api({"labels": {"label-0": "kept"}})
    module = Module(api, check_mode=True, labels=[{"name": "kept"}], badges=[{"name": "b"}])
    module._diff = True
    _runs, outcome = converge(module)
    assert outcome["plan_text"][:3] == ["badges:", "  + b: create (missing)", "  Plan: 1 to create."]
    assert "labels:" not in outcome["plan_text"]
    assert outcome["diff"]["prepared"].startswith("badges:\n  + b: create (missing)\n  Plan: 1 to create.\n")
    assert "labels:" not in outcome["diff"]["prepared"]
    # Nothing anywhere: one line says so.
    module = Module(api, check_mode=True, labels=[{"name": "kept"}], badges=[])
    module._diff = True
    _runs, outcome = converge(module)
    assert outcome["plan_text"] == ["Plan: no changes."] and outcome["diff"]["prepared"] == "Plan: no changes.\n"


class Granting(Named):
    """A grant-shaped kind: what it makes changes the permissions of the login; a name with `fail` in it fails."""

    changes_permissions = True

    def issue(self, api, plan):
        if "fail" in plan.declared.name:
            raise KsefApiError("KSeF answered 400", status=400, operation="POST /%s" % self.plural)
        return super().issue(api, plan)

    def withheld(self, declared, cplan, done):
        failed = done.failures if done is not None else {d.name: "not converged" for d in declared}
        return {"Perm-" + name: "grant %s failed" % name for name in failed}


class Needing(Named):
    """A token-shaped kind: `x-needs-Perm-y` needs the permission Perm-y."""

    def needs(self, plan):
        name = plan.declared.name
        return {name.split("-needs-", 1)[1]} if "-needs-" in name else set()


class Session:
    can_refresh = True

    def __init__(self, api):
        self.api = api

    def refresh(self):
        self.api.calls.append(("refresh",))


def with_session(api):
    api.session = Session(api)
    return api


def test_makes_run_in_kind_order_and_breaks_in_reverse_with_a_refresh_after_permissions_were_made():
    api = with_session(Api({"labels": {"label-0": "old-label"}, "badges": {"badge-0": "old-badge"}}))
    module = Module(api, labels=[{"name": "new"}, {"name": "old-label", "state": "absent"}],
                    badges=[{"name": "b"}, {"name": "old-badge", "state": "absent"}])
    kinds_ = (Granting("label"), Needing("badge"))
    for kind in kinds_:
        kind.plan = absent_aware(kind.plan)
    runs, outcome = converge(module, kinds_)
    assert _many_kinds.failures(runs) == []
    writes = [call for call in api.calls if call[0] in ("issue", "revoke", "refresh")]
    assert writes == [("issue", "labels", "new"), ("refresh",), ("issue", "badges", "b"),
                      ("revoke", "badges", "badge-0"), ("revoke", "labels", "label-0")]


def test_an_issue_that_needs_a_permission_a_failed_grant_was_to_give_is_held_back_and_the_rest_goes_on():
    api = with_session(Api())
    module = Module(api, labels=[{"name": "fail"}], badges=[{"name": "t-needs-Perm-fail"}, {"name": "other"}])
    runs, outcome = converge(module, (Granting("label"), Needing("badge")))
    issued = [call for call in api.calls if call[0] == "issue"]
    assert issued == [("issue", "badges", "other")] and ("refresh",) not in api.calls
    (skipped,) = outcome["held_back"]
    assert skipped["kind"] == "badge" and skipped["name"] == "t-needs-Perm-fail"
    assert "needs Perm-fail" in skipped["reason"] and "grant fail failed" in skipped["reason"]
    problems = _many_kinds.failures(runs)
    assert len(problems) == 2 and any("badge t-needs-Perm-fail: not issued (skipped)" in line for line in problems)

    # A grant kind that stopped as a whole holds back what needs its permissions too, naming its error.
    api = with_session(Api())
    module = Module(api, labels=[{"name": "x"}], badges=[{"name": "t-needs-Perm-x"}])
    runs, outcome = converge(module, (Granting("label", broken=True), Needing("badge")))
    assert not [call for call in api.calls if call[0] == "issue"]
    assert "KSeF answered 500" in outcome["held_back"][0]["reason"]


def absent_aware(plan):
    """The Named planner, with `state: absent` revoking the rows of the name (a plan that only breaks)."""

    def planned(declared, live, *args, **kwargs):
        cplan = plan([d for d in declared if d.state == "present"], live, *args, **kwargs)
        for decl in declared:
            if decl.state == "absent":
                rows = [row for row in live if row.name == decl.name]
                steps = [p.Step(p.REVOKE, "absent", row.reference_number) for row in rows]
                cplan.declared[decl.name] = p.Plan(decl, steps, rows[0] if rows else None, rows)
        return cplan

    return planned


def test_a_per_kind_force_is_the_only_guard_of_its_kind_and_is_named_as_the_task_spells_it():
    module = Module(Api(), labels=[{"name": "a"}], badges=[{"name": "b"}], revoke_auth_token=True,
                    labels_force=False)
    labels, badges = _many_kinds.prepare(module, kinds())
    assert labels.options.revoke_auth_token is False and labels.options.guard_option == "labels_force"
    assert badges.options.revoke_auth_token is True and badges.options.guard_option == "revoke_auth_token"
    module.params["labels_force"] = True
    labels, _badges = _many_kinds.prepare(module, kinds())
    assert labels.options.revoke_auth_token is True


class Pruning(Named):
    """Named objects that revoke every undeclared one, and remember what the task told their plan it revokes."""

    def plan(self, declared, live, holdings, now, options, protected, auth_token_unknown):
        self.told = options.revoked_tokens
        cplan = super().plan(declared, live, holdings, now, options, protected, auth_token_unknown)
        names = {decl.name for decl in declared}
        cplan.unmanaged = [(row, p.Step(p.REVOKE, "not declared", row.reference_number))
                           for row in live if row.name not in names]
        return cplan


def test_an_earlier_kinds_plan_knows_what_the_later_kinds_revoke_in_the_same_run():
    api = Api({"labels": {"label-0": "kept"}, "badges": {"badge-0": "old", "badge-1": "b"}})
    label, badge = Pruning("label"), Pruning("badge")
    module = Module(api, check_mode=True, labels=[{"name": "kept"}], badges=[{"name": "b"}])
    converge(module, (label, badge))
    assert api.calls[1:3] == [("list", "badges"), ("list", "labels")]  # planned in break order
    assert badge.told == frozenset() and label.told == frozenset({"badge-0"})
