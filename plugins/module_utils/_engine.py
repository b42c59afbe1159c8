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

Issuing is all or nothing per credential: a failure before every store holds the new value restores the
stores already written (newest first), revokes the new credential and leaves the previous one untouched. A
failing credential never undoes another one. New values are registered in `no_log_values` the moment they
exist and live only in local variables here. See docs/architecture.md and docs/rotation.md.

A module that declares one credential (`token`) runs the same path with one entry (`converge_one`).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ansible_collections.ksef.credentials.plugins.module_utils import _locks, _plan_render, _saved_plan
from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError, KsefError, describe
from ansible_collections.ksef.credentials.plugins.module_utils._poll import Poller
from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import StoreError, build_stores


class ApplyError(KsefError):
    """A change failed. The message says what failed, why, and what was undone; it never holds a secret."""

    def __init__(self, message: str, actions: list, cause: Exception | None = None):
        super().__init__(message)
        self.actions = actions
        self.cause = cause

    def to_result(self):
        result = self.cause.to_result() if isinstance(self.cause, KsefError) else {}
        result.pop("option", None)
        result["actions"] = self.actions
        return result


@dataclass(frozen=True)
class RunOptions:
    """Options of a whole run (not of one declared credential)."""

    exclusive: str = "false"
    adopt: bool = False
    revoke_auth_token: bool = False
    wait_timeout: float = 120.0
    lock_timeout: float = 300.0
    drift: bool = False  # also judge the live state against the declarations (the kind's drift)
    guard_option: str = "revoke_auth_token"  # the option that lets a run revoke the credential it logged in with
    plan_file: str | None = None  # write the plan there (_saved_plan.py)
    apply_plan: str | None = None  # carry out only the saved plan read from there, if nothing moved
    saved_plan: dict | None = None  # that plan, read before any request
    store_template: tuple = ()  # store entries with {name}: the stores of a credential that declares none

    @classmethod
    def from_params(cls, params: dict, kind) -> RunOptions:
        exclusive = str(params.get("exclusive") or "false").lower()
        if exclusive not in kind.exclusive_choices:
            raise KsefConfigError("exclusive", "exclusive must be one of %s" % ", ".join(kind.exclusive_choices))
        wait_timeout = params.get("wait_timeout")
        if wait_timeout is not None and not 0 < wait_timeout <= 3600:
            raise KsefConfigError("wait_timeout", "wait_timeout must be between 1 and 3600 seconds")
        lock_timeout = params.get("lock_timeout")
        if lock_timeout is not None and not 0 <= lock_timeout <= 86400:
            raise KsefConfigError("lock_timeout", "lock_timeout must be between 0 and 86400 seconds")
        plan_file, apply_plan = params.get("plan_file"), params.get("apply_plan")
        if plan_file and apply_plan:
            raise KsefConfigError(
                "plan_file", "plan_file and apply_plan are exclusive: make the plan in one run, apply it in another"
            )
        if plan_file:
            _saved_plan.check_writable(plan_file)
        return cls(
            exclusive=exclusive,
            adopt=bool(params.get("adopt")),
            revoke_auth_token=bool(params.get("revoke_auth_token") or params.get("force")),
            wait_timeout=wait_timeout or 120,
            lock_timeout=300 if lock_timeout is None else lock_timeout,
            drift=bool(params.get("drift")),
            guard_option="force" if "force" in params else "revoke_auth_token",
            plan_file=plan_file,
            apply_plan=apply_plan,
            saved_plan=_saved_plan.load(apply_plan) if apply_plan else None,
            store_template=tuple(params.get("store_template") or ()),
        )


@dataclass
class Entry:
    """One validated declaration: the kind's Declared, its stores, whether a new value is proven by a login."""

    declared: Any
    stores: list = field(default_factory=list)
    verify: bool = True
    snapshot: dict = field(default_factory=dict)  # label -> StoredValue | None, read under the lock
    digest: str = ""  # of the declaration as given, secrets masked (_saved_plan.digest)

    @property
    def name(self) -> str:
        return self.declared.name

    def holdings(self) -> list:
        return [p.Holding(label, held.reference_number if held else None) for label, held in self.snapshot.items()]

    def held(self) -> dict:
        return {label: (v.reference_number if v else None) for label, v in self.snapshot.items()}


@dataclass
class Outcome:
    """What happened to one declared credential."""

    actions: list = field(default_factory=list)  # steps carried out, as {action, reason, reference_number}
    current: Any = None  # the current live credential after the run
    held: dict = field(default_factory=dict)  # store label -> reference number it holds now


@dataclass
class Done:
    outcomes: dict = field(default_factory=dict)  # name -> Outcome
    failures: dict = field(default_factory=dict)  # name -> ApplyError
    unmanaged: list = field(default_factory=list)  # plan rows carried out for unmanaged credentials
    unmanaged_failures: list = field(default_factory=list)


@dataclass
class Report:
    """Everything a run knows at its end: what was declared, planned and done."""

    entries: list
    plan: p.ContextPlan
    done: Done
    check_mode: bool
    drift: list | None = None  # the kind's findings, when RunOptions.drift asked for them


# -- validation (no I/O) ----------------------------------------------------------------------------------------


NAME_PLACEHOLDER = "{name}"


def from_template(template, name: str) -> list:
    """The store entries of `template` for the credential `name`: every `{name}` in a string option replaced."""
    return [
        {
            key: value.replace(NAME_PLACEHOLDER, name) if isinstance(value, str) else value
            for key, value in entry.items()
        }
        for entry in template
    ]


def check_template(module, template) -> None:
    """Before any request: every entry names `{name}` (or every credential would share its store) and makes a
    valid store (also when no declared credential uses it: a name exclusive revokes will)."""
    for index, entry in enumerate(template):
        if not any(isinstance(value, str) and NAME_PLACEHOLDER in value for value in entry.values()):
            raise KsefConfigError(
                "store_template[%d]" % index,
                "store_template[%d] must contain {name} in its path, name or key, so that each credential has a "
                "store of its own, for example path: /etc/ksef/{name}.token" % index,
            )
    build_stores(module, from_template(template, "example"), "store_template")


def validate(module, kind, items: list, where: str | None, template=()) -> list:
    """[Entry] from the declared items, before any request. `where` is the list option (`tokens`), or None for a
    module that declares one credential at its top level. An item without a store of its own gets the stores of
    `template`. Raises KsefConfigError naming the option."""
    check_template(module, template)
    if template:
        items = [
            dict(item, store=from_template(template, str(item.get("name")))) if not item.get("store") else item
            for item in items
        ]
    entries: list = []
    names: dict = {}
    labels: dict = {}
    written: list = []  # (store, option) of every entry so far
    for index, item in enumerate(items):
        at = "%s[%d]" % (where, index) if where else None
        try:
            declared = kind.declare(item)
            stores = build_stores(module, item.get("store"))
        except KsefConfigError as exc:
            raise exc.within(at) if at else exc
        if declared.name in names:
            raise KsefConfigError(
                "%s.name" % at,
                "%s name %r is declared twice (%s and %s); names are unique"
                % (kind.noun, declared.name, names[declared.name], at),
            )
        names[declared.name] = at
        for position, store in enumerate(stores):
            option = "%s.store[%d]" % (at, position) if at else "store[%d]" % position
            if store.label in labels:
                raise KsefConfigError(
                    option,
                    "points at the same place as %s (%s); two %s cannot share a store"
                    % (labels[store.label], store.label, kind.plural),
                )
            for earlier, earlier_option in written:
                reason = store.cannot_share_with(earlier)
                if reason:
                    raise KsefConfigError(option, "clashes with %s: %s" % (earlier_option, reason))
            refused = kind.check_store(store)
            if refused:
                raise KsefConfigError(option, "%s: %s" % (option, refused))
            labels[store.label] = option
            written.append((store, option))
        entries.append(
            Entry(declared, stores, item.get("verify", True) is not False, digest=_saved_plan.digest(module, item))
        )
    return entries


def declarations(module, kind, items: list, option: str) -> list:
    """[Entry] of a read-only module's list of declarations (`declared`): the same validation as the modules that
    apply them, before any request."""
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise KsefConfigError(
                "%s[%d]" % (option, index), "%s[%d]: must be a dictionary with at least a name" % (option, index)
            )
    return validate(module, kind, items, option)


def read_holdings(module, entries: list) -> dict:
    """name -> [Holding]: what each declared credential's stores hold, read once; a store that cannot be read is
    reported as a warning and counted as holding nothing."""
    holdings = {}
    for entry in entries:
        held = []
        for store in entry.stores:
            try:
                value = store.read()
            except StoreError as exc:
                module.warn("%s: could not be read (%s); counted as holding nothing" % (store.label, exc.cause))
                value = None
            finally:
                warning = store.close()  # a login token the store created is revoked now
                if warning:
                    module.warn("%s: %s" % (store.label, warning))
            held.append(p.Holding(store.label, value.reference_number if value else None))
        holdings[entry.name] = held
    return holdings


# -- the sequence -----------------------------------------------------------------------------------------------


def converge(module, kind, entries: list, options: RunOptions, clock=lambda: datetime.now(timezone.utc)) -> Report:
    """Lock, read the stores, open a session, list, plan, apply (or predict in check mode). Raises KsefError
    for what stops the whole run; a failure of one credential is reported in `Report.done.failures`."""
    context = str(module.ksef_context)
    kind.check_auth(module)  # a login that cannot manage this kind fails before any request
    try:
        return _converge(module, kind, entries, options, clock, context)
    finally:
        for entry in entries:
            for store in entry.stores:
                warning = store.close()  # a login token a store created is revoked now
                if warning:
                    module.warn("%s: %s" % (store.label, warning))


def _converge(module, kind, entries: list, options: RunOptions, clock, context: str) -> Report:
    with ExitStack() as locks:
        if not module.check_mode:  # one lock per (context, name), taken in one order: no deadlock
            for name in sorted(entry.name for entry in entries):
                locks.enter_context(_locks.token_lock(context, name, timeout=options.lock_timeout))
        for entry in entries:
            read_snapshot(entry)
        with module.ksef_session() as api:
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
            for warning in cplan.warnings:
                module.warn(warning)
            for entry in entries:
                declared_plan = cplan.declared.get(entry.name)  # None: a name exclusive revokes
                if declared_plan is not None and declared_plan.issue and not entry.stores:
                    module.warn(
                        "%s: no store is declared, the value of the new %s is not kept anywhere"
                        % (entry.name, kind.noun)
                    )
            findings = None
            if options.drift:
                findings = kind.drift(declared, live, holdings, clock())
            if options.plan_file or options.saved_plan is not None:
                save_or_match(module, kind, cplan, entries, options, clock(), context)
            refused = preflight(cplan, entries)
            if module.check_mode:
                done = predict(cplan, entries)
            else:
                done = Executor(kind, api, module, context, entries, options, clock=clock).run(cplan, refused)
            done.failures.update(refused)
    return Report(entries, cplan, done, module.check_mode, findings)


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
    if not pruned:
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


def save_or_match(module, kind, cplan: p.ContextPlan, entries: list, options: RunOptions, now, context: str):
    """plan_file: write the plan. apply_plan: refuse, before any change, unless the saved plan is this plan made
    from this state."""
    doc = _saved_plan.document(
        cplan, entries, kind, context, module.ksef_connection.base_url, now.isoformat(), _plan_render.lines(cplan)
    )
    if options.saved_plan is not None:
        moved = _saved_plan.moved(options.saved_plan, doc)
        if moved:
            raise _saved_plan.PlanMovedError(str(options.apply_plan), options.saved_plan.get("made"), moved)
    if options.plan_file:
        _saved_plan.write(module, options.plan_file, doc)


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


def predict(cplan: p.ContextPlan, entries: list) -> Done:
    """What apply would report, from the plan alone (check mode)."""
    done = Done()
    held = {entry.name: entry.held() for entry in entries}
    for plan in cplan.plans():
        outcome = Outcome(current=plan.current, held=dict(held.get(plan.declared.name, {})))
        for step in plan.steps:
            entry = step.as_result()
            if step.action in p.ISSUING:
                entry.update(reference_number=None, replaces=step.reference_number)
                outcome.current = None
                outcome.held = dict.fromkeys(outcome.held)
            elif step.action == p.COPY:
                outcome.held.update(dict.fromkeys(step.stores, step.reference_number))
            elif step.action == p.PURGE:
                outcome.held.update(dict.fromkeys(step.stores))
            outcome.actions.append(entry)
        done.outcomes[plan.declared.name] = outcome
    done.unmanaged = [p.row(p.UNMANAGED, step) for _live, step in cplan.unmanaged]
    return done


class Executor:
    """Carries out a ContextPlan: the only code that issues, revokes or writes."""

    def __init__(
        self,
        kind,
        api,
        module,
        context: str,
        entries: list,
        options: RunOptions,
        sleep=time.sleep,
        monotonic=time.monotonic,
        clock=lambda: datetime.now(timezone.utc),
    ):
        self.kind = kind
        self.api = api
        self.module = module
        self.context = context
        self.entries = {entry.name: entry for entry in entries}
        self.options = options
        self.sleep = sleep
        self.monotonic = monotonic
        self.clock = clock

    def run(self, cplan: p.ContextPlan, refused: dict | None = None) -> Done:
        """Carry out the plans, except those of the credentials in `refused` (their stores said no)."""
        refused = refused or {}
        done = Done()
        issued: dict = {}
        pending: dict = {}
        # 1. Every issue first, so KSeF activates them side by side.
        for name, plan in cplan.declared.items():
            if plan.issue is None or name in refused:
                continue
            try:
                reference, value = self.kind.issue(self.api, plan)
                self.module.no_log_values.add(value)
                issued[name] = (reference, value)
                pending[reference] = self.kind.pending(plan, reference, self.clock())
            except Exception as exc:  # this credential fails alone; _apply reports it with the others
                issued[name] = exc
        # 2. One wait for every pending credential: the new ones and those the plans wait for.
        for plan in cplan.plans():
            for step in plan.of(p.WAIT):
                pending.setdefault(
                    step.reference_number,
                    next(live for live in plan.live if live.reference_number == step.reference_number),
                )
        for live, step in cplan.unmanaged:
            if step.action == p.WAIT:
                pending.setdefault(live.reference_number, live)
        activated = {}
        if pending:
            poller = Poller(self.options.wait_timeout, sleep=self.sleep, monotonic=self.monotonic)
            activated = self.kind.activate(self.api, pending, poller)
        # 3. Per credential: verify, stores, then revokes.
        for plan in cplan.plans():
            name = plan.declared.name
            if name in refused:
                continue
            entry = self.entries.get(name) or Entry(plan.declared)  # undeclared (exclusive): no stores
            try:
                done.outcomes[name] = self._apply(plan, entry, issued.get(name), activated)
            except ApplyError as exc:
                done.failures[name] = exc
            except Exception as exc:  # isolation: one credential's failure never stops the others
                done.failures[name] = ApplyError("%s failed: %s" % (name, describe(exc)), [], exc)
        self._apply_unmanaged(cplan.unmanaged, activated, done)
        return done

    # -- one declared credential ------------------------------------------------------------------------------

    def _apply(self, plan: p.Plan, entry: Entry, issued, activated: dict) -> Outcome:
        outcome = Outcome(current=plan.current, held=entry.held())
        for step in plan.steps:
            try:
                self._step(step, plan, entry, issued, activated, outcome)
            except ApplyError as exc:
                exc.actions = outcome.actions + exc.actions
                raise
            except KsefError as exc:
                raise ApplyError(
                    "%s of %s failed: %s" % (step.action, step.reference_number or "the " + self.kind.noun, exc),
                    outcome.actions,
                    exc,
                )
        return outcome

    def _step(self, step: p.Step, plan: p.Plan, entry: Entry, issued, activated: dict, outcome: Outcome) -> None:
        if step.action == p.WAIT:
            live = _activated(activated, str(step.reference_number))
            if outcome.current is not None and outcome.current.reference_number == live.reference_number:
                outcome.current = live
        elif step.action in p.ISSUING:
            live = self._issue(step, plan, entry, issued, activated)
            outcome.current = live
            outcome.held = dict.fromkeys(entry.snapshot, live.reference_number)
            outcome.actions.append(
                dict(step.as_result(), reference_number=live.reference_number, replaces=step.reference_number)
            )
            return
        elif step.action == p.COPY:
            self._copy(step, plan, entry)
            outcome.held.update(dict.fromkeys(step.stores, step.reference_number))
        elif step.action == p.REVOKE:
            self.kind.revoke(self.api, step.reference_number)
            if outcome.current is not None and outcome.current.reference_number == step.reference_number:
                outcome.current = None
            cleaned = self._forget(entry, str(step.reference_number))
            if cleaned:
                outcome.actions.append(dict(step.as_result(), cleaned=cleaned))
                return
        elif step.action == p.PURGE:
            stores = {store.label: store for store in entry.stores}
            for label in step.stores:
                stores[label].remove()
                outcome.held[label] = None
        outcome.actions.append(step.as_result())

    def _forget(self, entry: Entry, reference: str) -> list:
        """A revoked credential leaves the history of every store (Vault versions, AWS's AWSPREVIOUS)."""
        cleaned = []
        for store in entry.stores:
            try:
                cleaned += store.forget(reference)
            except StoreError as exc:
                raise StoreError(
                    exc.label, "%s %s is revoked, but %s" % (self.kind.noun, reference, exc.cause), exc.origin
                ) from None
        return cleaned

    def _issue(self, step: p.Step, plan: p.Plan, entry: Entry, issued, activated: dict):
        if issued is None:
            raise ApplyError("%s failed: nothing was issued" % step.action, [])
        if isinstance(issued, BaseException):
            raise ApplyError(
                "%s failed while creating the %s: %s" % (step.action, self.kind.noun, describe(issued)),
                [],
                issued if isinstance(issued, Exception) else None,
            )
        reference, value = issued
        written: list = []
        stage = "waiting for activation"
        live = None
        try:
            live = _activated(activated, reference)
            value = self.kind.completed(value, live)  # a certificate's value: its key and the issued certificate
            self.module.no_log_values.add(value)
            if entry.verify:
                stage = "logging in with the new %s" % self.kind.noun
                self.kind.verify(self.module, value)
            meta = self.kind.store_meta(plan.declared, live, self.context)
            for label in step.stores:
                stage = "writing store %s" % label
                self._write(entry, label, value, meta, written)
        except Exception as exc:  # anything: the new credential must not survive a half-done change
            new_reference = live.reference_number if live is not None else self._abandoned(plan, reference)
            undone = self._undo(entry, plan, written, new_reference)
            # The stage already names the store: its error's cause alone, not the label twice.
            cause = exc.cause if isinstance(exc, StoreError) and stage.endswith(" " + exc.label) else describe(exc)
            raise ApplyError("%s failed while %s: %s. %s" % (step.action, stage, cause, undone), [], exc)
        return live

    def _abandoned(self, plan: p.Plan, reference: str) -> str | None:
        """What to revoke of a credential that never became usable (the kind knows; None: nothing exists)."""
        try:
            return self.kind.abandoned(self.api, plan, reference)
        except Exception:  # the undo goes on; a later run revokes what is left as an orphan
            return None

    def _copy(self, step: p.Step, plan: p.Plan, entry: Entry) -> None:
        source = entry.snapshot.get(step.source)
        if source is None or source.reference_number != step.reference_number:
            raise StoreError(str(step.source), "no longer holds %s %s" % (self.kind.noun, step.reference_number))
        meta = self.kind.store_meta(plan.declared, plan.current, self.context)
        written: list = []
        try:
            for label in step.stores:
                self._write(entry, label, source.value, meta, written)
        except Exception as exc:
            undone = self._undo(entry, plan, written, None)
            raise ApplyError("copy of %s failed: %s. %s" % (step.reference_number, describe(exc), undone), [], exc)

    def _write(self, entry: Entry, label: str, value: str, meta, written: list) -> None:
        """Write one store and read it back; `written` learns of the store as soon as the write went through,
        so a failed read-back is rolled back too (a refused write - a lost compare-and-set - is not: restoring
        would overwrite the other writer's value)."""
        store = next(store for store in entry.stores if store.label == label)
        previous = entry.snapshot.get(label)
        store.write(value, meta, previous.version if previous else None)
        written.append(label)
        back = store.read()
        if back is None or back.value != value:
            raise StoreError(
                label,
                "reading the value back after writing returned %s"
                % ("nothing" if back is None else "a different value"),
            )

    def _undo(self, entry: Entry, plan: p.Plan, written: list, new_reference: str | None) -> str:
        """Restore written stores (newest first) and revoke the new credential; says what happened."""
        notes = []
        stores = {store.label: store for store in entry.stores}
        for label in reversed(written):
            try:
                stores[label].restore(entry.snapshot.get(label))
                notes.append("restored %s" % label)
            except Exception as exc:
                notes.append("could NOT restore %s (%s)" % (label, describe(exc)))
        noun = self.kind.noun
        if new_reference:
            try:
                self.kind.revoke(self.api, new_reference)
                notes.append("revoked the new %s %s" % (noun, new_reference))
            except Exception as exc:
                notes.append(
                    "could NOT revoke the new %s %s (%s); a later run revokes it as an orphan"
                    % (noun, new_reference, describe(exc))
                )
        if plan.current is not None:
            notes.append("%s %s is unchanged" % (noun, plan.current.reference_number))
        return "Undone: " + ", ".join(notes) + "." if notes else "Nothing to undo."

    # -- unmanaged credentials (exclusive: all) ---------------------------------------------------------------

    def _apply_unmanaged(self, steps: list, activated: dict, done: Done) -> None:
        failed = set()
        for live, step in steps:
            ref = live.reference_number
            if ref in failed:
                continue
            try:
                if step.action == p.WAIT:
                    _activated(activated, ref)
                if step.action == p.REVOKE:
                    self.kind.revoke(self.api, ref)
                done.unmanaged.append(p.row(p.UNMANAGED, step))
            except Exception as exc:
                failed.add(ref)
                done.unmanaged_failures.append(
                    "%s of unmanaged %s %s failed: %s" % (step.action, self.kind.noun, ref, describe(exc))
                )


def _activated(activated: dict, reference: str):
    known = activated.get(reference)
    if known is None:
        raise KsefError("no activation result for %s" % reference)
    if isinstance(known, Exception):
        raise known
    return known


# -- results ------------------------------------------------------------------------------------------------------


def entry_result(declared, outcome: Outcome) -> dict:
    """The result of one declared credential: its metadata after the run, the actions and what each store holds."""
    meta: dict
    if declared.state == "absent":
        meta = declared.absent()
    elif outcome.current is None:  # check mode, a credential would be issued
        meta = declared.predicted()
    else:
        meta = outcome.current.metadata()
    meta["name"] = declared.name
    meta["actions"] = outcome.actions
    meta["stores"] = [{"label": label, "reference_number": ref} for label, ref in outcome.held.items()]
    return meta


def result(report: Report, kind) -> dict:
    cplan, done = report.plan, report.done
    snapshots = {entry.name: entry for entry in report.entries}
    entries, revoked, changed = {}, [], False
    for plan in cplan.plans():
        name = plan.declared.name
        outcome = done.outcomes.get(name)
        failure = done.failures.get(name)
        if outcome is None:  # failed: as it was, plus whatever the failure message says
            held = snapshots[name].held() if name in snapshots else {}
            outcome = Outcome(actions=list(failure.actions) if failure else [], current=plan.current, held=held)
        entry = entry_result(plan.declared, outcome)
        entry["declared"] = name in cplan.declared
        entry["adopted"] = cplan.adopted.get(name)
        if failure is not None:
            entry["failed"] = True
            entry["msg"] = str(failure)
        entries[name] = entry
        for action in outcome.actions:
            changed = changed or action["action"] in p.CHANGING
            if action["action"] == p.REVOKE:
                revoked.append({"name": name, "reference_number": action["reference_number"]})
    for row in done.unmanaged:
        changed = changed or row["action"] in p.CHANGING
        if row["action"] == p.REVOKE:
            revoked.append({"name": p.UNMANAGED, "reference_number": row["reference_number"]})
    outcome = {
        "changed": cplan.changed if report.check_mode else changed,
        "plan": cplan.rows(),
        "plan_text": _plan_render.lines(cplan),
        "summary": cplan.summary(),
        kind.plural: entries,
        "revoked": revoked,
    }
    if report.drift is not None:
        outcome["drift"] = report.drift
    return outcome


def diff(report: Report) -> dict:
    """Metadata only, keyed by name (unmanaged credentials by `unmanaged:REF`); what stays alike is left out.
    `prepared` is the plan for people (and the drift, when asked for), which Ansible prints with --diff."""
    cplan, done = report.plan, report.done
    before, after = {}, {}
    for plan in cplan.plans():
        name = plan.declared.name
        was, will = plan.before(), plan.after()
        outcome = done.outcomes.get(name)
        if not report.check_mode:
            if outcome is None:
                will = was
            elif plan.declared.state == "present" and outcome.current is not None:
                will = outcome.current.metadata()
        if was != will:
            before[name], after[name] = was, will
    revoked = {row["reference_number"] for row in done.unmanaged if row["action"] == p.REVOKE}
    for live, step in cplan.unmanaged:
        if step.action == p.REVOKE and (report.check_mode or live.reference_number in revoked):
            before["unmanaged:%s" % live.reference_number] = live.metadata()
    drift = [
        "! %s %s: %s" % (finding["kind"], finding["name"] or finding["reference_number"], finding["message"])
        for finding in report.drift or []
    ]
    lines = _plan_render.lines(cplan)
    lines[-1:-1] = drift  # the summary line stays last
    return {"before": before, "after": after, "prepared": "\n".join(lines) + "\n"}


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
        module.fail_json(
            msg="%d of %d changes failed (the others were applied): %s"
            % (len(problems), len(report.plan.plans()) + len(report.plan.unmanaged), " | ".join(problems)),
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
