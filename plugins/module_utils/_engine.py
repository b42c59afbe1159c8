# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine: the one sequence every declared credential goes through, whatever its kind.

    options of each entry --kind.declare, build_stores (no I/O)--> [Entry]
    lock every name -> read every store -> session -> kind.read_live (one paged list)
      -> kind.plan (pure) -> check mode: the plan is the outcome
                          -> apply: every kind.issue first, ONE kind.activate for all pending credentials,
                             then per credential: kind.verify, write + read back every store,
                             kind.revoke what it supersedes; undo on any failure
      -> one result per declared credential

Each job has its file: `_declarations.py` (options and validation, no I/O), `_executor.py` (apply, and predict
in check mode), `_results.py` (results and diff). This file is the sequence and the module tasks.

A module that declares one credential (`token`) runs the same path with one entry (`run_one`).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ansible_collections.ksef.credentials.plugins.module_utils import _locks, _plan_render, _saved_plan
from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._declarations import (
    Entry,
    RunOptions,
    from_template,
    validate,
)
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefError, KsefTimeoutError
from ansible_collections.ksef.credentials.plugins.module_utils._executor import ApplyError, Done, Executor, predict
from ansible_collections.ksef.credentials.plugins.module_utils._journal import Journal, NoJournal
from ansible_collections.ksef.credentials.plugins.module_utils._poll import Poller
from ansible_collections.ksef.credentials.plugins.module_utils._results import Report, diff, result
from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import StoreError, build_stores

RESUME = "resume"  # the action row of an operation an earlier run left in flight, waited for by this one

# -- the sequence -----------------------------------------------------------------------------------------------


def converge(
    module, kind, entries: list, options: RunOptions, clock=lambda: datetime.now(timezone.utc), api=None
) -> Report:
    """Lock, read the stores, open a session, plan, make, break (or predict in check mode). Raises KsefError
    for what stops the whole run; a failure of one credential is reported in `Report.done.failures`.

    `api`: a session already open (a KsefApi) to converge in, so that several kinds share one login; its opener
    closes it. None: a session is opened once the stores are read, and closed at the end."""
    context = str(module.ksef_context)
    kind.check_auth(module)  # a login that cannot manage this kind fails before any request
    try:
        return _converge(module, kind, entries, options, clock, context, api)
    finally:
        close_stores(module, entries)


def close_stores(module, entries: list) -> None:
    for entry in entries:
        for store in entry.stores:
            warning = store.close()  # a login token a store created is revoked now
            if warning:
                module.warn("%s: %s" % (store.label, warning))


def _converge(module, kind, entries: list, options: RunOptions, clock, context: str, api) -> Report:
    with ExitStack() as held:
        if not module.check_mode:  # one lock per (scope, name), taken in one order: no deadlock
            scope = kind.lock_scope(module, context)
            lock_names(held, [(scope, entry.name) for entry in entries], options.lock_timeout)
        for entry in entries:
            read_snapshot(entry)
        if api is None:
            api = held.enter_context(module.ksef_session())  # closed before the locks are released
        planned = plan_kind(module, kind, api, entries, options, clock, context)
        planned.make()
        planned.breaks()
        return planned.report()


def lock_names(held: ExitStack, scoped_names, timeout: float) -> None:
    """One lock per (scope, name): the scope is the context, or the login for a kind the subject owns
    (`Kind.lock_scope`). Taken in one order (no deadlock); a name shared by several kinds is locked once."""
    for scope, name in sorted(set(scoped_names)):
        held.enter_context(_locks.token_lock(scope, name, timeout=timeout))


@dataclass
class Planned:
    """One kind planned in an open session, under its locks: its plan, then its make step and its break step.
    `converge` runs them one after the other; a task that converges several kinds runs every kind's make step in
    kind order and the break steps in reverse (`_many_kinds.py`)."""

    module: Any
    kind: Any
    entries: list
    cplan: p.ContextPlan
    refused: dict  # name -> ApplyError: left alone (its stores said no, or what it needs is missing)
    executor: Executor | None  # None in check mode
    findings: list | None = None
    document: dict | None = None
    done: Done | None = None
    resumed: dict | None = None  # name -> action rows of the operations resumed from the journal

    def make(self, held_back: dict | None = None) -> None:
        """Issue (and the revokes of each change), or predict everything in check mode. `held_back`: name ->
        ApplyError of more credentials to leave alone."""
        self.refused.update(held_back or {})
        if self.executor is None:
            self.done = predict(self.cplan, self.entries)
        else:
            self.done = self.executor.make(self.cplan, self.refused)
        self.done.failures.update(self.refused)
        self.done.resumed.update(self.resumed or {})

    def breaks(self) -> None:
        """Revoke what is only taken away (nothing in check mode: predicted by `make`)."""
        if self.executor is not None and self.done is not None:
            self.executor.breaks(self.cplan, self.done)

    def report(self) -> Report:
        if self.done is None:
            raise RuntimeError("make() comes before report()")
        return Report(self.entries, self.cplan, self.done, self.module.check_mode, self.findings, self.document)


def plan_kind(module, kind, api, entries: list, options: RunOptions, clock, context: str) -> Planned:
    """The part of converge that talks to KSeF before any change, in the open session `api`, under the locks:
    resume, list, plan, saved plan, preflight."""
    journal = Journal(context, kind.plural, options.journal_dir, clock) if kind.journaled else NoJournal()
    resumed: dict = {}  # name -> the action rows of the earlier run's operations this run waited for
    in_flight = resume(module, kind, api, journal, options, clock, resumed)  # an earlier run's operations
    declared = [entry.declared for entry in entries]
    live = kind.read_live(api, declared, options)
    holdings = {entry.name: entry.holdings() for entry in entries}  # what each store holds, once

    def plan():
        return kind.plan(
            declared,
            live,
            holdings,
            clock(),
            options,
            protected=kind.protected(module),
            auth_token_unknown=module.ksef_auth.method == "session",
        )

    cplan = plan()
    pruned = pruned_entries(module, kind, cplan, options)
    if pruned:  # exclusive revokes names no longer declared: their template stores are emptied too
        entries.extend(pruned)  # in place: converge() closes their stores too
        holdings.update({entry.name: entry.holdings() for entry in pruned})
        cplan = plan()
    hold_in_flight(cplan, in_flight)
    kind.review(module, cplan)
    for warning in cplan.warnings:
        module.warn(warning)
    for entry in entries:
        declared_plan = cplan.declared.get(entry.name)  # None: a name exclusive revokes
        if kind.holds_value and declared_plan is not None and declared_plan.issue and not entry.stores:
            module.warn(
                "%s: no store is declared, the value of the new %s is not kept anywhere" % (entry.name, kind.noun)
            )
    findings = None
    if options.drift:
        findings = kind.drift(declared, live, holdings, clock())
    document = None
    if options.plan_file or options.saved_plan is not None or options.keep_plan:
        document = save_or_match(module, kind, cplan, entries, options, clock(), context)
    refused = preflight(cplan, entries)
    executor = None
    if not module.check_mode:
        executor = Executor(kind, api, module, context, entries, options, clock=clock, journal=journal)
    return Planned(module, kind, entries, cplan, refused, executor, findings, document, resumed=resumed)


def resume(module, kind, api, journal, options: RunOptions, clock, resumed: dict | None = None) -> dict:
    """Wait for the operations an earlier run left in flight (`_journal.py`), all together, before the live state
    is read. name -> [what is still in progress] for the operations that outlived this wait too; an operation that
    ended badly is reported as a warning. `resumed` learns name -> [action row] of each operation waited for: its
    reference number and final status, for that name's result. Check mode reads the statuses but leaves the journal
    as it is."""
    flight = journal.in_flight()
    if not flight:
        return {}
    poller = Poller(options.wait_timeout, **kind.poll_schedule)
    issues = {ref: kind.pending(None, ref, clock()) for ref, op in flight.items() if op.get("action") != p.REVOKE}
    revokes = {ref: op.get("target") for ref, op in flight.items() if op.get("action") == p.REVOKE}
    ended: dict = {}
    if issues:
        ended.update(kind.activate(api, issues, poller))
    if revokes:
        ended.update(kind.wait_revoked(api, revokes, poller))
    if not module.check_mode:
        journal.ended(ended)
    still: dict = {}
    for ref, op in sorted(flight.items()):
        outcome = ended.get(ref)
        if resumed is not None:
            status = "done"
            if isinstance(outcome, Exception):
                status = "in progress" if isinstance(outcome, KsefTimeoutError) else "failed"
            row = {
                "action": RESUME,
                "reason": "%s operation of an earlier run, sent %s"
                % (op.get("action"), op.get("started") or "earlier"),
                "reference_number": op.get("target"),
                "operation": ref,
                "status": status,
            }
            if status == "failed":
                row["msg"] = str(outcome)
            resumed.setdefault(op.get("name"), []).append(row)
        if isinstance(outcome, KsefTimeoutError):
            still.setdefault(op.get("name"), []).append(
                "%s operation %s, sent %s" % (op.get("action"), ref, op.get("started") or "earlier")
            )
        elif isinstance(outcome, Exception):
            module.warn(
                "%s: %s operation %s of an earlier run ended: %s" % (op.get("name"), op.get("action"), ref, outcome)
            )
    return still


def hold_in_flight(cplan: p.ContextPlan, in_flight: dict) -> None:
    """A name with an operation still in progress at KSeF is left alone: sending it again could duplicate it, and
    KSeF lists nothing of it until it ends. A later run resumes it."""
    for plan in cplan.plans():
        waiting = in_flight.get(plan.declared.name)
        if not waiting:
            continue
        plan.steps = [
            p.Step(
                p.RETAIN,
                "%s still in progress at KSeF: not sent again, a later run resumes it" % "; ".join(waiting),
            )
        ]
        cplan.warnings.append(
            "%s: %s still in progress at KSeF; this run changes nothing of it"
            % (plan.declared.name, "; ".join(waiting))
        )


def read_snapshot(entry: Entry) -> None:
    """What each store of `entry` holds now; a store that cannot be read stops the run before any change, and the
    message says whose store it is."""
    try:
        entry.snapshot = {store.label: store.read() for store in entry.stores}
    except StoreError as exc:
        raise KsefError("%s: %s; nothing was changed" % (entry.name, exc)) from None


def pruned_entries(module, kind, cplan: p.ContextPlan, options: RunOptions) -> list:
    """[Entry] of the names exclusive revokes: their stores from the store template, read now. Without a template
    nothing says where their values were: a warning says so."""
    pruned = [plan.declared.name for plan in cplan.undeclared if plan.of(p.REVOKE)]
    if not pruned or not kind.holds_value:
        return []
    if not options.store_template:
        for name in pruned:
            module.warn(
                "%s: revoked because it is no longer declared; this run does not know its stores (no store_template), "
                "so they keep its revoked value: remove it from them, or declare %s with state: absent for one run"
                % (name, name)
            )
        return []
    entries = []
    for name in pruned:
        entry = Entry(
            kind.declare({"name": name, "state": "absent"}),
            build_stores(module, from_template(options.store_template, name)),
        )
        read_snapshot(entry)
        entries.append(entry)
    return entries


def save_or_match(module, kind, cplan: p.ContextPlan, entries: list, options: RunOptions, now, context: str) -> dict:
    """plan_file: write the plan. apply_plan: refuse, before any change, unless the saved plan is this plan made
    from this state. Returns the saved-plan document of this run."""
    doc = _saved_plan.document(
        cplan, entries, kind, context, module.ksef_connection.base_url, now.isoformat(), _plan_render.lines(cplan)
    )
    if options.saved_plan is not None:
        moved = _saved_plan.moved(options.saved_plan, doc)
        if moved:
            raise _saved_plan.PlanMovedError(str(options.apply_plan), options.saved_plan.get("made"), moved)
    if options.plan_file:
        _saved_plan.write(module, options.plan_file, doc)
    return doc


def preflight(cplan: p.ContextPlan, entries: list) -> dict:
    """Before anything changes in KSeF, each store a plan will write, empty or clean asks its server whether it
    may (reads only). name -> ApplyError for each credential whose stores would refuse: nothing of it is done."""
    refused = {}
    by_name = {entry.name: entry for entry in entries}
    for plan in cplan.plans():
        entry = by_name.get(plan.declared.name)
        if entry is None or not entry.stores or not plan.changed:
            continue
        removing = not any(step.action in p.ISSUING + (p.COPY,) for step in plan.steps)
        try:
            for store in entry.stores:
                store.preflight(removing=removing)
        except StoreError as exc:
            refused[entry.name] = ApplyError("%s; nothing was changed" % exc, [], exc)
    return refused


# -- the module tasks -----------------------------------------------------------------------------------------------


def run_many(module, kind) -> None:
    """A module that declares a list of credentials (`tokens`): the result holds one entry per name, and the task
    fails after the rest is done if any credential failed."""
    try:
        options = RunOptions.from_params(module.params, kind)
        entries = validate(module, kind, module.params.get(kind.plural) or [], kind.plural, options.store_template)
        report = converge(module, kind, entries, options)
    except KsefError as exc:
        module.fail_from(exc)
    outcome = result(report, kind)
    if module._diff:
        outcome["diff"] = diff(report)
    done = report.done
    problems = ["%s: %s" % (name, exc) for name, exc in done.failures.items()] + done.unmanaged_failures
    if problems:
        total = len(report.plan.plans()) + len(report.plan.unmanaged)
        module.fail_json(
            msg="%d of %d changes failed%s: %s"
            % (
                len(problems),
                total,
                " (the others were applied)" if len(problems) < total else "",
                " | ".join(problems),
            ),
            **{"failed_" + kind.plural: sorted(done.failures)},
            **outcome,
        )
    module.exit_json(**outcome)


def run_one(module, kind, declaration: dict) -> None:
    """A module that declares one credential at its top level (`token`): the same path as run_many with one entry,
    the options of `declaration` (its argument spec) as that entry; the result is that entry's, with `changed`
    and `diff`."""
    try:
        options = RunOptions.from_params(module.params, kind)
        entries = validate(module, kind, [{key: module.params.get(key) for key in declaration}], None)
        report = converge(module, kind, entries, options)
    except KsefError as exc:
        module.fail_from(exc)
    name = entries[0].name
    entry = result(report, kind)[kind.plural][name]
    failure = report.done.failures.get(name)
    if failure is not None:
        entry.pop("msg", None)
        entry.pop("failed", None)
        # The message names the credential, as the bulk module's "name: ..." lines do.
        module.fail_json(msg="%s: %s" % (name, failure), **dict(entry, **failure.to_result()))
    entry["changed"] = report.plan.changed
    if module._diff:
        whole, unchanged = diff(report), report.plan.declared[name].before()
        entry["diff"] = {
            "before": whole["before"].get(name, unchanged),
            "after": whole["after"].get(name, unchanged),
            "prepared": whole["prepared"],
        }
    module.exit_json(**entry)
