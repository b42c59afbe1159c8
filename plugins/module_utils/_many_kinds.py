# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several kinds in one module task and ONE session: the credentials of a company (`ksef.credentials.credentials`).

    options --per kind: RunOptions, validate, kind.check_auth (no I/O)--> [KindRun]
      a kind with nothing declared and no exclusive is skipped: it sends no request
    ONE login (module.ksef_session)
      -> each kind in order (company_kinds): _engine.converge(..., api=session); a failure of one kind never
         stops the next
    -> one result: a section per kind (what its list module returns), the plans together, the task failing at
       the end naming every failure

Certificates go first: they belong to the subject that logs in, and a token run after them never depends on
what they change. Saved plans hold every kind's plan in one document (`kind: credentials`, `kinds: {plural:
plan}`); apply_plan refuses before any request when the kinds it holds are not the kinds this run converges, and
each kind is carried out only if its own part still matches.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ansible_collections.ksef.credentials.plugins.module_utils import _saved_plan
from ansible_collections.ksef.credentials.plugins.module_utils._declarations import RunOptions, validate
from ansible_collections.ksef.credentials.plugins.module_utils._engine import converge
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError, KsefError
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate import CertificateKind
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token import TOKEN
from ansible_collections.ksef.credentials.plugins.module_utils._results import diff, result


def company_kinds() -> tuple:
    """The kinds of a company's credentials, in the order they are converged (a CertificateKind keeps the
    enrollment data of one run: a new one per task)."""
    return (CertificateKind(), TOKEN)


SAVED_KIND = "credentials"  # `kind` of a saved plan that holds several kinds' plans
# Options given per kind as `<plural>_<option>` (tokens_exclusive), passed to the engine as `<option>`.
PER_KIND = ("exclusive", "store_template")


@dataclass
class KindRun:
    """One kind of the task: its options and declarations, then what converging it gave."""

    kind: Any
    options: RunOptions
    entries: list
    report: Any = None  # _results.Report
    error: KsefError | None = None  # what stopped this kind as a whole

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
        for option in PER_KIND:
            own[option] = params.get("%s_%s" % (kind.plural, option))
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
        options = replace(options, keep_plan=bool(params.get("plan_file")), saved_plan=part)
        runs.append(KindRun(kind, options, entries))
    if saved is not None:
        _check_kinds(params["apply_plan"], saved, [run.plural for run in runs])
    return runs


def converge_kinds(module, runs: list) -> None:
    """Open ONE session and converge each kind in it, in order. A kind that fails as a whole keeps its error in
    `KindRun.error`; the next kind still runs. Raises KsefError only when the login itself fails."""
    if not runs:
        return
    with module.ksef_session() as api:
        for run in runs:
            try:
                run.report = converge(module, run.kind, run.entries, run.options, api=api)
            except KsefError as exc:
                run.error = exc


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
        module.fail_json(
            msg="%d failure%s (everything else was applied): %s"
            % (len(problems), "" if len(problems) == 1 else "s", " | ".join(problems)),
            **outcome,
        )
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
        outcome["plan_text"] += ["%s:" % kind.plural] + ["  " + line for line in lines]
    outcome["summary"] = dict(sorted(outcome["summary"].items()))
    if module._diff:
        outcome["diff"] = combined_diff(runs)
    return outcome


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
        prepared.append("%s:\n%s" % (run.plural, "".join("  " + line + "\n" for line in part["prepared"].splitlines())))
    return {"before": before, "after": after, "prepared": "".join(prepared)}


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
