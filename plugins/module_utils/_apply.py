# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The executor of a plan: the only code that creates, revokes or writes. See docs/rotation.md.

Issuing a token (create, replace, rotate) is all or nothing:

    POST /tokens -> wait until Active (one GET /tokens per poll) -> optionally log in with it
    -> write every store and read each back -> only then revoke what it supersedes

A failure before every store holds the new value restores the stores already written, revokes the new
token and leaves the previous one untouched. The new value is registered in `no_log_values` the moment
it exists and lives only in local variables of this module.
"""
from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ansible_collections.ksef.credentials.plugins.module_utils import _durations, _identity, _locks, _permissions
from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._auth import verify_ksef_token
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefAmbiguousError, KsefError
from ansible_collections.ksef.credentials.plugins.module_utils._stores import (
    StoreConfigError, StoreError, TokenMeta, build_stores, parse_reference_number)

POLL_STATUSES = ("Pending", "Active", "Failed")


class ApplyError(Exception):
    """A step failed. The message says what failed, why, and what was undone; it never holds a secret."""

    def __init__(self, message: str, actions: list, cause: Exception | None = None):
        super().__init__(message)
        self.actions = actions
        self.cause = cause


@dataclass
class Outcome:
    actions: list = field(default_factory=list)     # steps carried out, as {action, reason, reference_number}
    token: p.ActualToken | None = None              # the current token after the run
    held: dict = field(default_factory=dict)        # store label -> reference number it holds now


class Applier:
    """Carries out one plan. `stores` are Store objects, `snapshot` maps label -> StoredValue | None read before
    planning; `verify_token(value)` logs in with a token and raises on failure (None: no proof).

    Batched runs (ksef.credentials.tokens) split the work: `create()` for every token first, one shared wait for
    all of them, then `run()`, which takes the token from `prepared` and activations from `activated`
    (reference number -> ActualToken, or the exception that ended its wait) instead of asking KSeF again.
    """

    def __init__(self, api, module, stores, snapshot: dict, context: str, wait_timeout: float = 120.0,
                 verify_token=None, sleep=time.sleep, monotonic=time.monotonic):
        self.api = api
        self.module = module
        self.stores = {s.label: s for s in stores}
        self.snapshot = dict(snapshot)
        self.context = context
        self.wait_timeout = wait_timeout
        self.verify_token = verify_token
        self.sleep = sleep
        self.monotonic = monotonic
        self.plan = None
        self.prepared = None        # (reference number, value) from create(), or the exception it raised
        self.activated = {}         # reference number -> ActualToken | Exception, from a shared wait

    # -- the plan -------------------------------------------------------------------------------

    def run(self, plan: p.Plan) -> Outcome:
        outcome = Outcome(token=plan.current, held={label: (v.reference_number if v else None)
                                                    for label, v in self.snapshot.items()})
        self.plan = plan
        for step in plan.steps:
            try:
                self._run_step(step, outcome)
            except ApplyError as exc:
                exc.actions = outcome.actions + exc.actions
                raise
            except (KsefError, StoreError) as exc:
                raise ApplyError("%s of %s failed: %s" % (step.action, step.reference_number or "the token", exc),
                                 outcome.actions, exc)
        return outcome

    def _run_step(self, step: p.Step, outcome: Outcome) -> None:
        if step.action == p.WAIT:
            token = self.wait_until_active(step.reference_number)
            if outcome.token is not None and outcome.token.reference_number == token.reference_number:
                outcome.token = token
        elif step.action in p.ISSUING:
            token = self.issue(step)
            outcome.token = token
            outcome.held = {label: token.reference_number for label in self.stores}
            outcome.actions.append(dict(step.as_result(), reference_number=token.reference_number,
                                        replaces=step.reference_number))
            return
        elif step.action == p.COPY:
            self.copy(step)
            outcome.held.update({label: step.reference_number for label in step.stores})
        elif step.action == p.REVOKE:
            self.api.revoke_token(step.reference_number)
            if outcome.token is not None and outcome.token.reference_number == step.reference_number:
                outcome.token = None
        elif step.action == p.PURGE:
            for label in step.stores:
                self.stores[label].remove()
                outcome.held[label] = None
        outcome.actions.append(step.as_result())

    # -- issuing ----------------------------------------------------------------------------------

    def create(self, plan: p.Plan) -> tuple:
        """POST /tokens for the plan's issuing step: (reference number, value); the value is registered at once."""
        self.plan = plan
        declared = plan.declared
        created = self._create(list(declared.permissions), declared.full_description)
        self.module.no_log_values.add(created["token"])
        return created["referenceNumber"], created["token"]

    def issue(self, step: p.Step) -> p.ActualToken:
        declared = self.plan.declared
        prepared, self.prepared = self.prepared, None
        if prepared is None:
            prepared = self.create(self.plan)
        elif isinstance(prepared, BaseException):
            raise prepared  # the POST of a batched run failed; run() reports it like any other step
        reference, value = prepared
        written = []
        stage = "waiting for activation"
        try:
            token = self.wait_until_active(reference)
            if self.verify_token is not None:
                stage = "logging in with the new token"
                self.verify_token(value)
            meta = TokenMeta(name=declared.name, reference_number=reference, permissions=list(token.permissions),
                             created=token.created.isoformat(), context=self.context)
            for label in step.stores:
                stage = "writing store %s" % label
                self._write(label, value, meta, written)
        except Exception as exc:  # anything: the new token must not survive a half-done rotation
            undone = self._undo(written, reference)
            raise ApplyError("%s failed while %s: %s. %s" % (step.action, stage, _describe(exc), undone), [], exc)
        return token

    def _create(self, permissions: list, description: str) -> dict:
        """POST /tokens; when the outcome is unknown, revoke whatever it may have created and try once more."""
        known = {t.reference_number for t in self.plan.live}
        for attempt in (1, 2):
            try:
                return self.api.create_token(permissions, description)
            except KsefAmbiguousError:
                # The value of a token created by the lost request can never be read: it must not stay.
                strays = [t["referenceNumber"] for t in self._list() if t["referenceNumber"] not in known]
                for ref in strays:
                    self.api.revoke_token(ref)
                    known.add(ref)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def wait_until_active(self, reference: str) -> p.ActualToken:
        """Poll with one list call per round (not GET per token); Failed or timeout raise."""
        if reference in self.activated:
            known = self.activated[reference]
            if isinstance(known, Exception):
                raise known
            return known
        deadline = self.monotonic() + self.wait_timeout
        delay = 0.2
        while True:
            item = next((t for t in self._list() if t["referenceNumber"] == reference), None)
            if item is not None and item["status"] == p.ACTIVE:
                return p.ActualToken.from_api(item)
            if item is not None and item["status"] == "Failed":
                details = "; ".join(item.get("statusDetails") or []) or "no details given"
                raise KsefError("token %s failed to activate (%s)" % (reference, details))
            if self.monotonic() + delay > deadline:
                raise KsefError("token %s was not Active within wait_timeout %ss (status: %s)"
                                % (reference, self.wait_timeout, item["status"] if item else "not listed yet"))
            self.sleep(delay)
            delay = min(delay * 1.5, 2.0)

    def _list(self) -> list:
        return self.api.list_tokens(statuses=list(POLL_STATUSES), description=_identity.marker(self.plan.declared.name))

    # -- stores -----------------------------------------------------------------------------------

    def _write(self, label: str, value: str, meta: TokenMeta, written: list) -> None:
        """Write one store and read it back; `written` learns of the store as soon as the write went through,
        so a failed read-back is rolled back too (a refused write - a lost compare-and-set - is not: restoring
        would overwrite the other writer's value)."""
        store = self.stores[label]
        previous = self.snapshot.get(label)
        store.write(value, meta, previous.version if previous else None)
        written.append(label)
        back = store.read()
        if back is None or back.value != value:
            raise StoreError(label, "reading the value back after writing returned %s"
                             % ("nothing" if back is None else "a different value"))

    def copy(self, step: p.Step) -> None:
        source = self.snapshot.get(step.source)
        if source is None or source.reference_number != step.reference_number:
            raise StoreError(step.source, "no longer holds token %s" % step.reference_number)
        token = self.plan.current
        meta = TokenMeta(name=self.plan.declared.name, reference_number=token.reference_number,
                         permissions=list(token.permissions), created=token.created.isoformat(), context=self.context)
        written = []
        try:
            for label in step.stores:
                self._write(label, source.value, meta, written)
        except Exception as exc:
            undone = self._undo(written, None)
            raise ApplyError("copy of %s failed: %s. %s" % (step.reference_number, _describe(exc), undone), [], exc)

    def _undo(self, written: list, new_reference: str | None) -> str:
        """Restore written stores (newest first) and revoke the new token; says what happened."""
        notes = []
        for label in reversed(written):
            try:
                self.stores[label].restore(self.snapshot.get(label))
                notes.append("restored %s" % label)
            except Exception as exc:
                notes.append("could NOT restore %s (%s)" % (label, _describe(exc)))
        if new_reference:
            try:
                self.api.revoke_token(new_reference)
                notes.append("revoked the new token %s" % new_reference)
            except Exception as exc:
                notes.append("could NOT revoke the new token %s (%s); a later run revokes it as an orphan"
                             % (new_reference, _describe(exc)))
        current = self.plan.current
        if current is not None:
            notes.append("token %s is unchanged" % current.reference_number)
        return "Undone: " + ", ".join(notes) + "." if notes else "Nothing to undo."


def _describe(exc: Exception) -> str:
    """The cause of a failure; KsefError and StoreError texts are written never to hold a secret."""
    if isinstance(exc, (KsefError, StoreError, ApplyError)):
        return str(exc)
    return "%s: %s" % (type(exc).__name__, exc)


# -- the ksef.credentials.token task: read -> plan -> apply ----------------------------------------------

def declared_from_params(params: dict) -> p.Declared:
    """The declared state from module options; raises OptionError naming the option before any API call."""
    try:
        name = _identity.validate_name(params["name"])
        permissions = _permissions.normalise(params.get("permissions"))
        rotate_after = _durations.parse(params.get("rotate_after"), "rotate_after")
        grace = _durations.parse(params.get("revoke_previous_after"), "revoke_previous_after") or timedelta(0)
        declared = p.Declared(name=name, state=params.get("state") or "present",
                              description=(params.get("description") or "").strip(), permissions=permissions,
                              rotate_after=rotate_after, rotate=bool(params.get("rotate")),
                              revoke_previous_after=grace, force=bool(params.get("force")),
                              purge=bool(params.get("purge")))
        declared.full_description  # noqa: B018 - the 256-character limit, checked now
    except _identity.IdentityError as exc:
        raise OptionError(exc.option, str(exc))
    except _permissions.UnknownPermissionError as exc:
        raise OptionError("permissions", str(exc))
    except _durations.DurationError as exc:
        raise OptionError(str(exc).split(":", 1)[0], str(exc))
    if declared.state == "present" and not permissions:
        raise OptionError("permissions", "permissions must list at least one permission when state is present")
    if params.get("wait_timeout") is not None and params["wait_timeout"] <= 0:
        raise OptionError("wait_timeout", "wait_timeout must be a positive number of seconds")
    return declared


class OptionError(ValueError):
    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


def run_token_task(module) -> None:
    """Everything `ksef.credentials.token` does; ends with exit_json or fail_json."""
    params = module.params
    try:
        declared = declared_from_params(params)
        stores = build_stores(module, params.get("store"))
    except OptionError as exc:
        module.fail_json(msg=str(exc), option=exc.option)
    except StoreConfigError as exc:
        module.fail_json(msg=str(exc), option=exc.option)

    context = str(module.ksef_context)
    guard = (nullcontext() if module.check_mode
             else _locks.token_lock(context, declared.name, timeout=params.get("lock_timeout") or 300))
    try:
        with guard:
            snapshot = {store.label: store.read() for store in stores}
            holdings = [p.Holding(label, held.reference_number if held else None) for label, held in snapshot.items()]
            with module.ksef_session() as api:
                live = api.list_tokens(statuses=list(p.LIVE_STATUSES), description=_identity.marker(declared.name))
                plan = p.plan(declared, live, holdings, datetime.now(timezone.utc), protected=_login_token(module))
                for warning in plan.warnings:
                    module.warn(warning)
                if plan.issue and not stores:
                    module.warn("no store is declared: the value of the new token is not kept anywhere")
                if module.check_mode:
                    outcome = _predicted(plan, snapshot)
                else:
                    verify = None
                    if params.get("verify", True):
                        def verify(value):
                            verify_ksef_token(module.http, module.ksef_context, value, on_secret=module.register_secret)
                    applier = Applier(api, module, stores, snapshot, context,
                                      wait_timeout=params.get("wait_timeout") or 120, verify_token=verify)
                    outcome = applier.run(plan)
    except ApplyError as exc:
        fields = exc.cause.to_result() if isinstance(exc.cause, KsefError) else {}
        module.fail_json(msg=str(exc), actions=exc.actions, **fields)
    except (KsefError, StoreError, _locks.LockTimeoutError) as exc:
        fields = exc.to_result() if isinstance(exc, KsefError) else {}
        module.fail_json(msg=str(exc), **fields)

    result = _token_result(declared, outcome)
    result["changed"] = plan.changed
    if module._diff:
        after = dict(plan.after())
        if not module.check_mode and outcome.token is not None and declared.state == "present":
            after = outcome.token.metadata()
        result["diff"] = {"before": plan.before(), "after": after}
    module.exit_json(**result)


def _login_token(module) -> set:
    """The reference number of the KSeF token this run logged in with (state: absent never revokes it)."""
    auth = getattr(module, "ksef_auth", None)
    ref = parse_reference_number(getattr(auth, "ksef_token", None))
    return {ref} if ref else set()


def _predicted(plan: p.Plan, snapshot: dict) -> Outcome:
    """What apply would report, from the plan alone (check mode)."""
    outcome = Outcome(token=plan.current, held={label: (v.reference_number if v else None)
                                                for label, v in snapshot.items()})
    for step in plan.steps:
        entry = step.as_result()
        if step.action in p.ISSUING:
            entry.update(reference_number=None, replaces=step.reference_number)
            outcome.token = None
            outcome.held = {label: None for label in outcome.held}
        elif step.action == p.COPY:
            outcome.held.update({label: step.reference_number for label in step.stores})
        elif step.action == p.PURGE:
            outcome.held.update({label: None for label in step.stores})
        outcome.actions.append(entry)
    return outcome


def _token_result(declared: p.Declared, outcome: Outcome) -> dict:
    token = outcome.token
    if declared.state == "absent" or (token is None and declared.state == "absent"):
        meta = {"reference_number": None, "status": "absent", "permissions": [], "description": None, "created": None}
    elif token is None:  # check mode, a token would be issued
        meta = {"reference_number": None, "status": p.ACTIVE, "permissions": list(declared.permissions),
                "description": declared.description, "created": None}
    else:
        meta = token.metadata()
    meta["name"] = declared.name
    meta["actions"] = outcome.actions
    meta["stores"] = [{"label": label, "reference_number": ref} for label, ref in outcome.held.items()]
    return meta
