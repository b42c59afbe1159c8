# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The executor: the only code that issues, revokes or writes; and `predict`, what it would do (check mode).

Issuing is all or nothing per credential: a failure before every store holds the new value restores the
stores already written (newest first), revokes the new credential and leaves the previous one untouched. A
failing credential never undoes another one. New values are registered in `no_log_values` the moment they
exist and live only in local variables here. See docs/architecture.md and docs/rotation.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._declarations import Entry, RunOptions
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefError, KsefTimeoutError, describe
from ansible_collections.ksef.credentials.plugins.module_utils._journal import NoJournal
from ansible_collections.ksef.credentials.plugins.module_utils._kind import BREAK_BEFORE_MAKE
from ansible_collections.ksef.credentials.plugins.module_utils._poll import Poller
from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import StoreError

NOTHING_TO_UNDO = "Nothing to undo."


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


@dataclass
class Outcome:
    """What happened to one declared credential."""

    actions: list = field(default_factory=list)  # steps carried out, as {action, reason, reference_number}
    current: Any = None  # the current live credential after the run
    held: dict = field(default_factory=dict)  # store label -> reference number it holds now
    done: set = field(default_factory=set)  # id() of the steps carried out ahead (break-before-make revokes)


@dataclass
class Done:
    """What a run carried out (or, in check mode, would): per name its outcome or its failure, and the rest."""

    outcomes: dict = field(default_factory=dict)  # name -> Outcome
    failures: dict = field(default_factory=dict)  # name -> ApplyError
    unmanaged: list = field(default_factory=list)  # plan rows carried out for unmanaged credentials
    unmanaged_failures: list = field(default_factory=list)
    resumed: dict = field(default_factory=dict)  # name -> action rows of operations an earlier run left in flight


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
        journal=None,
    ):
        self.kind = kind
        self.journal = journal or NoJournal()
        self.revoking: dict = {}  # revoke operation -> (name or UNMANAGED, live reference, its action row)
        self.unmanaged_failed: set = set()  # live references of unmanaged objects whose step failed
        self.api = api
        self.module = module
        self.context = context
        self.entries = {entry.name: entry for entry in entries}
        self.options = options
        self.sleep = sleep
        self.monotonic = monotonic
        self.clock = clock

    def run(self, cplan: p.ContextPlan, refused: dict | None = None) -> Done:
        """Carry out the plans, except those of the credentials in `refused` (their stores said no): the make step,
        then the break step."""
        done = self.make(cplan, refused)
        self.breaks(cplan, done)
        return done

    def make(self, cplan: p.ContextPlan, refused: dict | None = None) -> Done:
        """The make step: every plan that issues, copies or waits, with the revokes that are part of its own change
        (break-before-make revokes first, make-before-break ones after the new object is proven). Plans that only
        revoke are left to `breaks`, which a caller converging several kinds runs later, in reverse kind order."""
        if cplan.changed:  # a run that could not finish changes nothing
            self.kind.before_changes(self.api, cplan, self.options)
        done = Done()
        done.failures.update(refused or {})
        outcomes: dict = {}  # name -> Outcome, from the first step carried out on (break-before-make)
        # 0. Break-before-make: what a plan revokes goes first, and is waited for, before anything is issued.
        if self.kind.change_order == BREAK_BEFORE_MAKE:
            self._break_first(cplan, outcomes, done)
        issued: dict = {}
        pending: dict = {}
        # 1. Every issue first, so KSeF activates them side by side.
        for name, plan in cplan.declared.items():
            if plan.issue is None or name in done.failures:
                continue
            try:
                reference, value = self.kind.issue(self.api, plan)
                if value:
                    self.module.no_log_values.add(value)
                issued[name] = (reference, value)
                pending[reference] = self.kind.pending(plan, reference, self.clock())
                self.journal.started(name, reference, plan.issue.action)
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
            activated = self.kind.activate(self.api, pending, self._poller())
            self.journal.ended(activated)
        # 3. Per credential: verify, stores, then revokes.
        self._apply_all([plan for plan in cplan.plans() if not only_breaks(plan)], issued, activated, outcomes, done)
        waits = [(live, step) for live, step in cplan.unmanaged if step.action != p.REVOKE]
        self._apply_unmanaged(waits, activated, done)
        # 4. One wait for every revoke KSeF carries out later.
        self._wait_revoked(done, done.outcomes)
        return done

    def breaks(self, cplan: p.ContextPlan, done: Done) -> None:
        """The break step: the plans that only revoke (a name declared absent, or no longer declared, a lost or
        orphaned object) and the unmanaged revokes, then one wait for the revokes KSeF carries out later."""
        self._apply_all([plan for plan in cplan.plans() if only_breaks(plan)], {}, {}, {}, done)
        self._apply_unmanaged([(live, step) for live, step in cplan.unmanaged if step.action == p.REVOKE], {}, done)
        self._wait_revoked(done, done.outcomes)

    def _apply_all(self, plans: list, issued: dict, activated: dict, outcomes: dict, done: Done) -> None:
        for plan in plans:
            name = plan.declared.name
            if name in done.failures:
                continue
            entry = self.entries.get(name) or Entry(plan.declared)  # undeclared (exclusive): no stores
            outcome = outcomes.get(name) or Outcome(current=plan.current, held=entry.held())
            try:
                done.outcomes[name] = self._apply(plan, entry, issued.get(name), activated, outcome)
            except ApplyError as exc:
                done.failures[name] = exc
            except Exception as exc:  # isolation: one credential's failure never stops the others
                done.failures[name] = ApplyError("%s failed: %s" % (name, describe(exc)), [], exc)

    def _poller(self) -> Poller:
        return Poller(self.options.wait_timeout, sleep=self.sleep, monotonic=self.monotonic, **self.kind.poll_schedule)

    def _break_first(self, cplan: p.ContextPlan, outcomes: dict, done: Done) -> None:
        """The revokes that come before the issue of each plan, all sent, then waited for together; a plan whose
        revoke failed issues nothing."""
        for name, plan in cplan.declared.items():
            if plan.issue is None or name in done.failures:
                continue
            entry = self.entries.get(name) or Entry(plan.declared)
            outcome = outcomes[name] = Outcome(current=plan.current, held=entry.held())
            for step in plan.steps[: plan.steps.index(plan.issue)]:
                if step.action != p.REVOKE:
                    continue
                try:
                    self._step(step, plan, entry, None, {}, outcome)
                except Exception as exc:
                    done.failures[name] = ApplyError(
                        "%s of %s failed before the new %s was issued, so nothing was issued: %s"
                        % (step.action, step.reference_number, self.kind.noun, describe(exc)),
                        outcome.actions,
                        exc if isinstance(exc, Exception) else None,
                    )
                    break
                outcome.done.add(id(step))
        self._wait_revoked(done, outcomes)

    def _wait_revoked(self, done: Done, outcomes: dict) -> None:
        """Wait for the revoke operations sent so far, together. Each action row gets its operation's final status;
        a revoke that did not end well fails its credential (its Outcome leaves `outcomes`)."""
        if not self.revoking:
            return
        operations = {operation: live for operation, (_name, live, _row) in self.revoking.items()}
        ended = self.kind.wait_revoked(self.api, operations, self._poller())
        self.journal.ended(ended)
        for operation, (name, live, row) in self.revoking.items():
            error = ended.get(operation)
            row["status"] = (
                "done" if error is None else "in progress" if isinstance(error, KsefTimeoutError) else "failed"
            )
            if error is None:
                continue
            message = "revoke of %s (operation %s) did not end well: %s" % (live, operation, describe(error))
            if name is p.UNMANAGED:
                done.unmanaged_failures.append(message)
            elif name not in done.failures:
                outcome = outcomes.pop(name, None) or Outcome()
                done.failures[name] = ApplyError(message, outcome.actions, error)
        self.revoking = {}

    # -- one declared credential ------------------------------------------------------------------------------

    def _apply(self, plan: p.Plan, entry: Entry, issued, activated: dict, outcome: Outcome) -> Outcome:
        for step in plan.steps:
            if id(step) in outcome.done:
                continue
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
            revoked = [a["reference_number"] for a in outcome.actions if a["action"] == p.REVOKE]
            try:
                live = self._issue(step, plan, entry, issued, activated, revoked)
            except ApplyError as exc:
                if self.kind.journaled and isinstance(exc.cause, KsefTimeoutError) and isinstance(issued, tuple):
                    # KSeF accepted it and may still carry it out: the run changed KSeF, and says which operation
                    row = dict(step.as_result(), reference_number=None, replaces=step.reference_number)
                    exc.actions = [dict(row, operation=issued[0], status="in progress")]
                raise
            outcome.current = live
            outcome.held = dict.fromkeys(entry.snapshot, live.reference_number)
            row = dict(step.as_result(), reference_number=live.reference_number, replaces=step.reference_number)
            if self.kind.journaled:  # the operation KSeF carried the issue out in, and how it ended
                row.update(operation=issued[0], status="done")
            outcome.actions.append(row)
            return
        elif step.action == p.COPY:
            self._copy(step, plan, entry)
            outcome.held.update(dict.fromkeys(step.stores, step.reference_number))
        elif step.action == p.REVOKE:
            row = self._revoke(plan.declared.name, str(step.reference_number), step)
            if outcome.current is not None and outcome.current.reference_number == step.reference_number:
                outcome.current = None
            cleaned = self._forget(entry, str(step.reference_number))
            if cleaned:
                row["cleaned"] = cleaned
            outcome.actions.append(row)
            return
        elif step.action == p.PURGE:
            stores = {store.label: store for store in entry.stores}
            for label in step.stores:
                stores[label].remove()
                outcome.held[label] = None
        outcome.actions.append(step.as_result())

    def _revoke(self, name, reference: str, step: p.Step) -> dict:
        """Revoke one live object: its action row, with the operation KSeF carries it out in, if any (waited for by
        `_wait_revoked`, which writes its final status into the row)."""
        row = step.as_result()
        operation = self.kind.revoke(self.api, reference)
        if operation is not None:
            row["operation"] = operation
            self.revoking[operation] = (name, reference, row)
            self.journal.started(name, operation, p.REVOKE, target=reference)
        return row

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

    def _issue(self, step: p.Step, plan: p.Plan, entry: Entry, issued, activated: dict, revoked: tuple | list = ()):
        """The new object of `step`, issued, active, verified and stored; `revoked`: what this change revoked before
        it (break-before-make), which a failure cannot bring back."""
        if issued is None:
            raise ApplyError("%s failed: nothing was issued" % step.action, [])
        if isinstance(issued, BaseException):
            raise ApplyError(
                "%s failed while creating the %s: %s%s"
                % (step.action, self.kind.noun, describe(issued), self._missing(plan, revoked)),
                [],
                issued if isinstance(issued, Exception) else None,
            )
        reference, value = issued
        written: list = []
        stage = self.kind.waiting_stage
        live = None
        try:
            live = _activated(activated, reference)
            self.kind.issued(self.module, plan, live)
            if not self.kind.holds_value:
                return live
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
            if isinstance(exc, KsefTimeoutError) and self.kind.journaled:  # still in progress: the journal keeps it
                raise ApplyError(
                    "%s sent, still in progress at KSeF: %s" % (step.action, describe(exc)), [], exc
                ) from None
            new_reference = live.reference_number if live is not None else self._abandoned(plan, reference)
            undone = self._undo(entry, plan, written, new_reference, unchanged=not revoked)
            if revoked:  # the old object is gone already: say so, and what brings it back
                missing = self._missing(plan, revoked).lstrip(". ")
                undone = missing + "." if undone == NOTHING_TO_UNDO else "%s %s." % (undone, missing)
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

    def _undo(self, entry: Entry, plan: p.Plan, written: list, new_reference: str | None, unchanged=True) -> str:
        """Restore written stores (newest first) and revoke the new credential; says what happened (`unchanged`:
        the current credential was not revoked before, break-before-make)."""
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
        if plan.current is not None and unchanged:
            notes.append("%s %s is unchanged" % (noun, plan.current.reference_number))
        return "Undone: " + ", ".join(notes) + "." if notes else NOTHING_TO_UNDO

    def _missing(self, plan: p.Plan, revoked) -> str:
        """What a failed issue leaves after the revokes that came before it (break-before-make): nothing undoes
        them, the next run issues again."""
        if not revoked:
            return ""
        return (
            ". Not undone: %s revoked %s before it (break-before-make), so the %s is missing now; the next run %s"
            % (
                plan.declared.name,
                ", ".join(map(str, revoked)),
                self.kind.noun,
                self.kind.issues_again,
            )
        )

    # -- unmanaged credentials (exclusive: all) ---------------------------------------------------------------

    def _apply_unmanaged(self, steps: list, activated: dict, done: Done) -> None:
        failed = self.unmanaged_failed  # a live object whose wait failed in the make step is not revoked after
        for live, step in steps:
            ref = live.reference_number
            if ref in failed:
                continue
            try:
                if step.action == p.WAIT:
                    _activated(activated, ref)
                row = p.row(p.UNMANAGED, step)
                if step.action == p.REVOKE:
                    row.update(self._revoke(p.UNMANAGED, ref, step))
                    row["name"] = p.UNMANAGED
                done.unmanaged.append(row)
            except Exception as exc:
                failed.add(ref)
                done.unmanaged_failures.append(
                    "%s of unmanaged %s %s failed: %s" % (step.action, self.kind.noun, ref, describe(exc))
                )


def only_breaks(plan: p.Plan) -> bool:
    """A plan that only takes something away: it revokes and issues, copies or waits for nothing. It belongs to the
    break step; any other plan (its own revokes included) to the make step."""
    actions = {step.action for step in plan.steps}
    return p.REVOKE in actions and not actions & set(p.ISSUING + (p.COPY, p.WAIT))


def _activated(activated: dict, reference: str):
    known = activated.get(reference)
    if known is None:
        raise KsefError("no activation result for %s" % reference)
    if isinstance(known, Exception):
        raise known
    return known
