# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several kinds in one module task and ONE session: the credentials of a company (`ksef.credentials.credentials`).

    options --per kind: RunOptions, validate, kind.check_auth (no I/O)--> [KindRun]
      a kind with nothing declared and no exclusive is skipped: it sends no request
    lock every name of every kind, read every store, ONE login (module.ksef_session)
      -> plan every kind (_engine.plan_kind) in break order: tokens, certificates, grants; a grant's plan names the
         managed tokens its revoke makes KSeF revoke, but not those this run revokes anyway
      -> make steps in kind order: grants, certificates, tokens; the access token refreshed after grants were made
         (it carries the permissions of its login), and a token that needs a permission a grant of this run failed
         to give is held back, saying why
      -> break steps in reverse order: tokens, certificates, grants
      a failure of one kind never stops another
    -> one result: a section per kind (what its list module returns), the plans together, the task failing at
       the end naming every failure

So a token that needs a permission granted in the same run is created after the grant is in effect, and a grant
removed together with the tokens that depend on it is revoked after them. Certificates belong to the subject that
logs in and depend on no grant of the context. Saved plans hold every kind's plan in one document (`kind:
credentials`, `kinds: {plural: plan}`); apply_plan refuses before any request when the kinds it holds are not the
kinds this run converges, and each kind is carried out only if its own part still matches.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils import _plan_render, _saved_plan
from ansible_collections.ksef.credentials.plugins.module_utils._declarations import RunOptions, validate
from ansible_collections.ksef.credentials.plugins.module_utils._engine import (
    close_stores,
    lock_names,
    plan_kind,
    read_snapshot,
)
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError, KsefError
from ansible_collections.ksef.credentials.plugins.module_utils._executor import ApplyError
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate import CertificateKind
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant import GrantKind
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token import TOKEN
from ansible_collections.ksef.credentials.plugins.module_utils._results import diff, result


def company_kinds() -> tuple:
    """The kinds of a company's credentials, in the order they are made (and revoked in reverse). A GrantKind and
    a CertificateKind keep what they learn of one run's login: new ones per task."""
    return (GrantKind(), CertificateKind(), TOKEN)


SAVED_KIND = "credentials"  # `kind` of a saved plan that holds several kinds' plans
# Options given per kind as `<plural>_<option>` (tokens_exclusive), passed to the engine as `<option>`; a kind
# whose option the task does not have (tokens_force) gets none.
PER_KIND = ("exclusive", "store_template", "force")


@dataclass
class KindRun:
    """One kind of the task: its options and declarations, then what converging it gave."""

    kind: Any
    options: RunOptions
    entries: list
    report: Any = None  # _results.Report
    error: KsefError | None = None  # what stopped this kind as a whole
    planned: Any = None  # _engine.Planned, once planned
    held: dict = field(default_factory=dict)  # name -> ApplyError: not issued, a permission it needs is missing

    @property
    def plural(self) -> str:
        return self.kind.plural


def prepare(module, kinds) -> list:
    """[KindRun] of the kinds this task converges, validated before any request. A kind with nothing declared and
    no exclusive is left out: converging it could change nothing. Raises KsefConfigError naming the option."""
    params = module.params
    if params.get("plan_file") and params.get("apply_plan"):
        raise KsefConfigError(
            "plan_file", "plan_file and apply_plan are exclusive: make the plan in one run, apply it in another"
        )
    if params.get("plan_file"):
        _saved_plan.check_writable(params["plan_file"])
    saved = _load_saved(params.get("apply_plan"))
    runs = []
    for kind in kinds:
        own = dict(params, plan_file=None, apply_plan=None)
        own.pop("force", None)
        for option in PER_KIND:
            spelled = "%s_%s" % (kind.plural, option)
            if spelled in params or option != "force":
                own[option] = params.get(spelled)
        if "force" in own:  # grants_force: the tokens' revoke_auth_token lets no grant go
            own["revoke_auth_token"] = False
        items = params.get(kind.plural) or []
        try:
            options = RunOptions.from_params(own, kind)
            entries = validate(module, kind, items, kind.plural, options.store_template)
        except KsefConfigError as exc:
            raise _per_kind(exc, kind) from None
        if not items and options.exclusive == "false":
            continue
        kind.check_auth(module)  # a login that cannot manage this kind fails the task before any request
        part = (saved.get("kinds") or {}).get(kind.plural) if saved is not None else None
        # The task's file: a part that moved names it (the part alone has no path).
        options = replace(
            options,
            keep_plan=bool(params.get("plan_file")),
            saved_plan=part,
            apply_plan=params.get("apply_plan") if part is not None else None,
        )
        if "force" in own:
            options = replace(options, guard_option="%s_force" % kind.plural)
        runs.append(KindRun(kind, options, entries))
    if saved is not None:
        _check_kinds(params["apply_plan"], saved, [run.plural for run in runs])
    return runs


def converge_kinds(module, runs: list, clock=lambda: datetime.now(timezone.utc)) -> None:
    """Lock every name, read every store, open ONE session, plan every kind, then the make steps in kind order and
    the break steps in reverse. A kind that fails as a whole keeps its error in `KindRun.error`; the other kinds
    still run. Raises KsefError only when the login itself fails."""
    if not runs:
        return
    context = str(module.ksef_context)
    try:
        with ExitStack() as held:
            if not module.check_mode:
                names = [(run.kind.lock_scope(module, context), entry.name) for run in runs for entry in run.entries]
                lock_names(held, names, runs[0].options.lock_timeout)
            for run in runs:
                try:
                    for entry in run.entries:
                        read_snapshot(entry)
                except KsefError as exc:
                    run.error = exc
            api = held.enter_context(module.ksef_session())  # closed before the locks are released
            revoked: set = set()  # what the kinds planned so far revoke (reference numbers)
            for run in reversed(runs):  # in break order: a grant's plan knows the tokens this run revokes anyway
                if run.error is None:
                    run.options = replace(run.options, revoked_tokens=frozenset(revoked))
                    run.planned = _step(run, plan_kind, module, run.kind, api, run.entries, run.options, clock, context)
                    if run.planned is not None:
                        revoked |= set(_revoked(run.planned.cplan))
            _make_in_order(module, api, runs)
            for run in reversed(runs):
                if run.error is None:
                    _step(run, run.planned.breaks)
            for run in runs:
                if run.error is None:
                    run.report = run.planned.report()
    finally:
        for run in runs:
            close_stores(module, run.entries)


def _revoked(cplan: p.ContextPlan) -> list:
    """The reference numbers a kind's plan revokes."""
    steps = [step for plan in cplan.plans() for step in plan.steps] + [step for _live, step in cplan.unmanaged]
    return [step.reference_number for step in steps if step.action == p.REVOKE and step.reference_number]


def _step(run: KindRun, call, *args):
    """One step of one kind: what stops it is kept as its error, and the other kinds go on."""
    try:
        return call(*args)
    except KsefError as exc:
        run.error = exc
        return None


def _make_in_order(module, api, runs: list) -> None:
    """The make steps in kind order. After a kind that changes permissions made anything, the session is refreshed
    before the next kind issues (KSeF's access token carries the permissions of its login or last refresh); what
    it failed to give holds back the issues that need it."""
    withheld: dict = {}  # permission -> why the identity that logs in does not hold it as this run meant to
    refresh = False
    for run in runs:
        planned = run.planned if run.error is None else None
        if planned is not None and not module.check_mode:
            issuing = any(plan.issue is not None for plan in planned.cplan.declared.values())
            if refresh and issuing:
                _refresh(module, api)
                refresh = False
            run.held = held_back(run, withheld)
            _step(run, planned.make, run.held)
        elif planned is not None:
            planned.make()
        if run.kind.changes_permissions and not module.check_mode:
            done = planned.done if planned is not None and run.error is None else None
            declared = [entry.declared for entry in run.entries]
            reasons = run.kind.withheld(declared, planned.cplan if planned is not None and done else None, done)
            if done is None and run.error is not None:
                reasons = {permission: "%s (%s)" % (why, run.error) for permission, why in reasons.items()}
            withheld.update(reasons)
            refresh = refresh or (done is not None and _made(done))


def _made(done) -> bool:
    return any(row.get("action") in p.ISSUING for outcome in done.outcomes.values() for row in outcome.actions)


def _refresh(module, api) -> None:
    """A new access token with the permissions granted so far; a session without a refresh token keeps its own."""
    session = getattr(api, "session", None)
    if session is None:
        return
    if not session.can_refresh:
        module.warn(
            "permissions were granted in this run, but the session has no refresh token: what it issues next is "
            "checked against the permissions of its login"
        )
        return
    try:
        session.refresh()
    except KsefError as exc:
        module.warn("permissions were granted in this run, but the session could not be refreshed: %s" % exc)


def held_back(run: KindRun, withheld: dict) -> dict:
    """name -> ApplyError of each object of `run` whose issue needs a permission this run failed to give: it is not
    issued blindly (KSeF would refuse it, 26001 for a token), and says why."""
    held: dict = {}
    if not withheld:
        return held
    for name, plan in run.planned.cplan.declared.items():
        missing = sorted(run.kind.needs(plan) & set(withheld)) if plan.issue is not None else []
        if missing:
            held[name] = ApplyError(
                "not issued (skipped): it needs %s, and %s; a later run issues it"
                % (", ".join(missing), "; ".join(sorted({withheld[permission] for permission in missing}))),
                [],
            )
    return held


def run_kinds(module, kinds) -> None:
    """The module task: validate every kind, converge them in one session, return one result, and fail at the end
    naming every failure of every kind."""
    try:
        runs = prepare(module, kinds)
        converge_kinds(module, runs)
    except KsefError as exc:
        module.fail_from(exc)
    if module.params.get("plan_file"):
        _write_plan(module, runs)
    outcome = combined(module, runs, kinds)
    problems = failures(runs)
    if problems:
        module.fail_json(msg=failure_message(runs, problems), **outcome)
    module.exit_json(**outcome)


# -- the result ---------------------------------------------------------------------------------------------------


def section(run: KindRun) -> dict:
    """What the kind's list module returns (`tokens` for TOKEN), or why the kind stopped as a whole."""
    if run.report is None:
        error = run.error or KsefError("not converged")
        return dict(error.to_result(), changed=False, failed=True, msg=str(error))
    return result(run.report, run.kind)


def combined(module, runs: list, kinds) -> dict:
    """One result: a section per kind, and the plan, plan_text, summary and revoked of every kind together."""
    by_plural = {run.plural: run for run in runs}
    outcome: dict = {"changed": False, "plan": [], "plan_text": [], "summary": {}, "revoked": []}
    for kind in kinds:
        run = by_plural.get(kind.plural)
        if run is None:
            outcome[kind.plural] = {"skipped": True, "changed": False, "msg": "nothing declared: no request sent"}
            continue
        part = section(run)
        outcome[kind.plural] = part
        outcome["changed"] = outcome["changed"] or bool(part.get("changed"))
        outcome["plan"] += [dict(row, kind=kind.noun) for row in part.get("plan", [])]
        outcome["revoked"] += [dict(row, kind=kind.noun) for row in part.get("revoked", [])]
        for action, count in part.get("summary", {}).items():
            outcome["summary"][action] = outcome["summary"].get(action, 0) + count
        lines = part.get("plan_text") or ["not planned: %s" % part.get("msg")]
        if shows(lines):
            outcome["plan_text"] += ["%s:" % kind.plural] + ["  " + line for line in lines]
    outcome["summary"] = dict(sorted(outcome["summary"].items()))
    if not outcome["plan_text"] and runs:  # no kind says anything: one line says so for them all
        outcome["plan_text"] = [_plan_render.NO_CHANGES]
    # The order is told between the kinds that change something; one with nothing to do is left out of it.
    converged = [plural for plural in [run.plural for run in runs] if outcome[plural].get("changed")]
    if len(converged) > 1 and outcome["changed"]:
        outcome["plan_text"].append(order_line(converged))
    outcome["held_back"] = [
        {"kind": run.kind.noun, "name": name, "reason": str(error)}
        for run in runs
        for name, error in sorted(run.held.items())
    ]
    if module._diff:
        outcome["diff"] = combined_diff(runs)
        if len(converged) > 1 and outcome["changed"]:
            outcome["diff"]["prepared"] += order_line(converged) + "\n"
    return outcome


def shows(lines: list) -> bool:
    """Whether a kind's plan for people says anything: a kind with no line but "Plan: no changes." is left out of
    the combined plan, so each kind shown has its lines and its summary."""
    return lines != [_plan_render.NO_CHANGES]


def order_line(plurals: list) -> str:
    """The order of the steps across kinds, for people."""
    return "Order: %s are made first, then %s; revoked in reverse order, %s last." % (
        plurals[0],
        ", then ".join(plurals[1:]),
        plurals[0],
    )


def combined_diff(runs: list) -> dict:
    """Each kind's metadata before and after under its plural, and the plans for people one after the other."""
    before, after, prepared = {}, {}, []
    for run in runs:
        if run.report is None:
            prepared.append("%s: not planned: %s\n" % (run.plural, run.error))
            continue
        part = diff(run.report)
        if part["before"] or part["after"]:
            before[run.plural], after[run.plural] = part["before"], part["after"]
        lines = part["prepared"].splitlines()
        if shows(lines):
            prepared.append("%s:\n%s" % (run.plural, "".join("  " + line + "\n" for line in lines)))
    if not prepared and runs:
        prepared.append(_plan_render.NO_CHANGES + "\n")
    return {"before": before, "after": after, "prepared": "".join(prepared)}


def failure_message(runs: list, problems: list) -> str:
    """The task's message: every failure, and that the rest was applied only when there was a rest."""
    declared = sum(len(run.entries) for run in runs)
    return "%d failure%s%s: %s" % (
        len(problems),
        "" if len(problems) == 1 else "s",
        " (everything else was applied)" if declared > len(problems) else "",
        " | ".join(problems),
    )


def failures(runs: list) -> list:
    """One line per failure: a kind that stopped as a whole, each credential that failed, each unmanaged one."""
    problems = []
    for run in runs:
        if run.report is None:
            problems.append("%s: %s" % (run.plural, run.error))
            continue
        done = run.report.done
        problems += ["%s %s: %s" % (run.kind.noun, name, exc) for name, exc in sorted(done.failures.items())]
        problems += ["%s: %s" % (run.plural, failure) for failure in done.unmanaged_failures]
    return problems


# -- saved plans --------------------------------------------------------------------------------------------------


def _load_saved(path) -> dict | None:
    if not path:
        return None
    saved = _saved_plan.load(path)
    if saved.get("kind") != SAVED_KIND:
        raise KsefConfigError(
            "apply_plan",
            "apply_plan: %s is a plan of one kind (%s), written by another module; give a file written by this "
            "module's plan_file" % (path, saved.get("kind")),
        )
    return saved


def _check_kinds(path: str, saved: dict, plurals: list) -> None:
    """Before any request: the saved plan holds a plan for exactly the kinds this run converges."""
    held = sorted(saved.get("kinds") or {})
    if held != sorted(plurals):
        raise _saved_plan.PlanMovedError(
            path,
            saved.get("made"),
            [
                "the plan holds %s, this run converges %s"
                % (", ".join(held) or "no kind", ", ".join(sorted(plurals)) or "no kind")
            ],
        )


def _write_plan(module, runs: list) -> None:
    """plan_file: every planned kind's saved plan in one document. A kind that stopped before its plan is missing
    from it, so apply_plan refuses that document."""
    kinds = {run.plural: run.report.document for run in runs if run.report is not None and run.report.document}
    made = min((doc["made"] for doc in kinds.values()), default=None)
    document = {
        "format": _saved_plan.FORMAT,
        "kind": SAVED_KIND,
        "api_url": module.ksef_connection.base_url,
        "context": str(module.ksef_context),
        "made": made,
        "kinds": kinds,
    }
    _saved_plan.write(module, module.params["plan_file"], document)


def _per_kind(exc: KsefConfigError, kind) -> KsefConfigError:
    """An error of a per-kind option (`store_template[0]`) renamed as the task spells it
    (`tokens_store_template[0]`)."""
    for option in PER_KIND:
        if exc.option and exc.option.startswith(option):
            spelled = "%s_%s" % (kind.plural, option)
            return KsefConfigError(spelled + exc.option[len(option) :], exc.message.replace(option, spelled))
    return exc
