# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole declared set of one context: one list, one plan per token (plus exclusive revokes), a batched apply.

    one paged GET /tokens for the context + every declared token + what every store holds + now
        -> ContextPlan: the planner of ksef.credentials.token per declared name, revokes of undeclared tokens
           (exclusive), adoption of unmanaged tokens whose value a store already holds
        -> ContextApplier: every POST /tokens first, ONE wait for all pending tokens of the context
           (one GET /tokens per poll), then per token: verify, write the stores, revoke what it supersedes

Each token keeps the all-or-nothing protocol of docs/rotation.md; a failing token never undoes another.
See docs/tokens.md.
"""
from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from ansible_collections.ksef.credentials.plugins.module_utils import _identity, _locks
from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._apply import (
    Applier, ApplyError, OptionError, Outcome, _describe, _login_token, _predicted, _token_result,
    declared_from_params)
from ansible_collections.ksef.credentials.plugins.module_utils._auth import verify_ksef_token
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefError
from ansible_collections.ksef.credentials.plugins.module_utils._stores import (
    StoreConfigError, StoreError, build_stores)

EXCLUSIVE_CHOICES = ("false", "managed", "all")
MANAGED_FILTER = _identity.MARKER_PREFIX      # `description` filter that lists managed tokens only
MANAGER_PERMISSION = "CredentialsManage"
UNMANAGED = None                              # the `name` of a plan row about a token without a name marker


# -- planning (pure) ----------------------------------------------------------------------------------------

@dataclass
class ContextPlan:
    """Plans of the declared tokens (by name, in declared order), of undeclared managed names (exclusive) and the
    steps for unmanaged tokens (exclusive: all). `adopted` maps a declared name to the unmanaged token it adopts."""
    declared: dict
    undeclared: list = field(default_factory=list)
    unmanaged: list = field(default_factory=list)      # (ActualToken, Step)
    adopted: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    def plans(self) -> list:
        return list(self.declared.values()) + list(self.undeclared)

    @property
    def changed(self) -> bool:
        return any(plan.changed for plan in self.plans()) or any(
            step.action in p.CHANGING for _token, step in self.unmanaged)

    def rows(self) -> list:
        """The plan as {name, action, reference_number, reason}; `name` is null for unmanaged tokens."""
        rows = [row(plan.declared.name, step) for plan in self.plans() for step in plan.steps]
        rows += [row(UNMANAGED, step) for _token, step in self.unmanaged]
        return rows

    def summary(self) -> dict:
        counts = {}
        for entry in self.rows():
            counts[entry["action"]] = counts.get(entry["action"], 0) + 1
        return dict(sorted(counts.items()))


def row(name, step: p.Step) -> dict:
    return {"name": name, "action": step.action, "reference_number": step.reference_number, "reason": step.reason}


def plan_context(declared, tokens, holdings: dict, now: datetime, exclusive: str = "false", adopt: bool = False,
                 protected=frozenset(), auth_token_unknown: bool = False, revoke_auth_token: bool = False,
                 margin=p.ORPHAN_MARGIN) -> ContextPlan:
    """Plan every declared token of one context from one list of its tokens.

    declared: Declared in declared order (unique names). tokens: ActualToken or API items, managed or not.
    holdings: name -> [Holding] for the stores of that token. protected: reference numbers of the token this run
    logged in with. auth_token_unknown: the session was opened elsewhere (auth.access_token), so any token that
    holds CredentialsManage may be the one behind it and is kept unless revoke_auth_token.
    """
    if exclusive not in EXCLUSIVE_CHOICES:
        raise ValueError("exclusive must be one of %s" % ", ".join(EXCLUSIVE_CHOICES))
    live = [t if isinstance(t, p.ActualToken) else p.ActualToken.from_api(t) for t in tokens]
    live = [t for t in live if t.status in p.LIVE_STATUSES]
    maybe_auth = set()
    if auth_token_unknown:
        maybe_auth = {t.reference_number for t in live if MANAGER_PERMISSION in t.permissions}
    guarded = set(protected) | maybe_auth
    result = ContextPlan(declared={})

    claimed = set()
    for decl in declared:
        view, adopted, note = live, None, None
        if adopt and decl.state == "present":
            adopted, candidate = _adoptable(decl, live, holdings.get(decl.name, []), claimed)
            if adopted is not None:
                claimed.add(adopted.reference_number)
                result.adopted[decl.name] = adopted.reference_number
                view = [replace(t, description=decl.full_description) if t is adopted else t for t in live]
            elif candidate is not None:
                note = ("unmanaged token %s has the declared description and permissions, but no store of this token "
                        "holds its value; adopting needs the value in a store (a value starts with its reference "
                        "number)" % candidate.reference_number)
        plan = p.plan(replace(decl, force=decl.force or revoke_auth_token), view, holdings.get(decl.name, []), now,
                      protected=guarded, margin=margin)
        plan.steps = [_explain(step, adopted, note, protected, maybe_auth) for step in plan.steps]
        if note and plan.issue is not None and plan.issue.action == p.CREATE:
            plan.warnings.append("%s: %s, so a new token is created" % (decl.name, note))
        result.declared[decl.name] = plan
        result.warnings += plan.warnings

    if exclusive == "false":
        return result
    names = set(result.declared)
    undeclared = sorted({_identity.name_of(t.description) for t in live} - names - {None})
    for name in undeclared:
        gone = p.Declared(name=name, state="absent", force=revoke_auth_token)
        plan = p.plan(gone, live, [], now, protected=guarded, margin=margin)
        why = "not declared (exclusive: %s)" % exclusive
        plan.steps = [_explain(replace(s, reason=why) if s.action == p.REVOKE else s, None, None, protected,
                               maybe_auth) for s in plan.steps]
        result.undeclared.append(plan)
    if exclusive == "all":
        for token in live:
            if _identity.name_of(token.description) is not None or token.reference_number in claimed:
                continue
            for step in _unmanaged_steps(token, guarded, revoke_auth_token):
                result.unmanaged.append((token, _explain(step, None, None, protected, maybe_auth)))
    return result


def _adoptable(decl, live, holdings, claimed):
    """(token to adopt, None) when a store holds its value; (None, a matching token) when none does."""
    held = {h.reference_number for h in holdings if h.reference_number}
    matching = [t for t in sorted(live, key=lambda t: t.created, reverse=True)
                if t.status == p.ACTIVE and _identity.name_of(t.description) is None
                and t.description.strip() == decl.description and t.permissions == tuple(decl.permissions)
                and t.reference_number not in claimed]
    chosen = next((t for t in matching if t.reference_number in held), None)
    if chosen is not None:
        return chosen, None
    return None, (matching[0] if matching else None)


def _unmanaged_steps(token, guarded, revoke_auth_token) -> list:
    ref = token.reference_number
    if ref in guarded and not revoke_auth_token:
        return [p.Step(p.RETAIN, "", ref)]
    steps = [p.Step(p.WAIT, "token is Pending; it can be revoked once Active", ref)] if token.status == p.PENDING else []
    description = token.description.strip() or "without a description"
    return steps + [p.Step(p.REVOKE, "unmanaged token %r not declared (exclusive: all)" % description, ref)]


def _explain(step, adopted, note, protected, maybe_auth) -> p.Step:
    """Reasons in this module's words: adoption, and the auth token guard (named revoke_auth_token here)."""
    if step.action == p.RETAIN and step.reference_number in protected | maybe_auth and (
            not step.reason or step.reason.startswith("this run authenticated")):
        if step.reference_number in protected:
            return replace(step, reason="this run authenticated with this token; set revoke_auth_token: true "
                                        "to revoke it")
        return replace(step, reason="the session was opened elsewhere (auth.access_token) and KSeF does not say "
                                    "with which token; this token holds CredentialsManage, so it may be that one "
                                    "and is kept; set revoke_auth_token: true to revoke it")
    if adopted is not None and step.action == p.KEEP and step.reference_number == adopted.reference_number:
        return replace(step, reason="adopted: unmanaged token with the declared description and permissions whose "
                                    "value a store of this token holds; " + step.reason)
    if note and step.action == p.CREATE:
        return replace(step, reason="%s; %s" % (step.reason, note))
    return step


# -- applying -----------------------------------------------------------------------------------------------

@dataclass
class ContextOutcome:
    outcomes: dict = field(default_factory=dict)      # name -> Outcome
    failures: dict = field(default_factory=dict)      # name -> ApplyError
    unmanaged: list = field(default_factory=list)     # plan rows carried out for unmanaged tokens
    unmanaged_failures: list = field(default_factory=list)


def await_activation(api, pending: dict, timeout: float, sleep=time.sleep, monotonic=time.monotonic) -> dict:
    """Wait for every token in `pending` (reference number -> ActualToken) with one GET /tokens per poll.

    The poll lists the context's Pending and Failed tokens only, so it stays one page however many tokens are
    Active. A token that is neither is Active (or was revoked meanwhile, which `verify` catches). Returns
    reference number -> ActualToken (Active) or KsefError (Failed, timeout).
    """
    pending, done = dict(pending), {}
    deadline = monotonic() + timeout
    delay = 0.2
    while pending:
        listed = {t["referenceNumber"]: t for t in api.list_tokens(statuses=[p.PENDING, "Failed"])}
        for ref in list(pending):
            item = listed.get(ref)
            if item is None:
                done[ref] = replace(pending.pop(ref), status=p.ACTIVE)
            elif item["status"] == "Failed":
                details = "; ".join(item.get("statusDetails") or []) or "no details given"
                done[ref] = KsefError("token %s failed to activate (%s)" % (ref, details))
                del pending[ref]
            else:
                pending[ref] = p.ActualToken.from_api(item)  # KSeF's own creation time and permissions
        if pending and monotonic() + delay > deadline:
            for ref in pending:
                done[ref] = KsefError("token %s was not Active within wait_timeout %ss (status: Pending)"
                                      % (ref, timeout))
            break
        if pending:
            sleep(delay)
            delay = min(delay * 1.5, 2.0)
    return done


class ContextApplier:
    """Carries out a ContextPlan. `appliers` maps each declared name to its Applier (stores, snapshot, verify)."""

    def __init__(self, api, module, context: str, appliers: dict, wait_timeout: float = 120.0,
                 sleep=time.sleep, monotonic=time.monotonic, clock=lambda: datetime.now(timezone.utc)):
        self.api = api
        self.module = module
        self.context = context
        self.appliers = appliers
        self.wait_timeout = wait_timeout
        self.sleep = sleep
        self.monotonic = monotonic
        self.clock = clock

    def run(self, cplan: ContextPlan) -> ContextOutcome:
        result = ContextOutcome()
        pending = {}
        # 1. Every POST /tokens first, so KSeF activates them side by side.
        for name, plan in cplan.declared.items():
            applier = self.appliers[name]
            applier.plan = plan
            if plan.issue is None:
                continue
            try:
                reference, value = applier.create(plan)
                applier.prepared = (reference, value)
                pending[reference] = p.ActualToken(reference, p.PENDING, tuple(plan.declared.permissions),
                                                   plan.declared.full_description, self.clock())
            except Exception as exc:  # this token fails alone; run() reports it with the others
                applier.prepared = exc
        # 2. One wait for every pending token of the context: the new ones and those the plans wait for.
        for plan in cplan.plans():
            for step in plan.of(p.WAIT):
                pending.setdefault(step.reference_number, next(
                    t for t in plan.live if t.reference_number == step.reference_number))
        for token, step in cplan.unmanaged:
            if step.action == p.WAIT:
                pending.setdefault(token.reference_number, token)
        activated = await_activation(self.api, pending, self.wait_timeout, self.sleep, self.monotonic)
        # 3. Per token: verify, stores, then revokes (the Applier's protocol, with the waits already done).
        for name, plan in cplan.declared.items():
            self._run(name, self.appliers[name], plan, activated, result)
        for plan in cplan.undeclared:
            applier = Applier(self.api, self.module, [], {}, self.context, wait_timeout=self.wait_timeout)
            self._run(plan.declared.name, applier, plan, activated, result)
        self._run_unmanaged(cplan.unmanaged, activated, result)
        return result

    def _run(self, name, applier, plan, activated, result):
        applier.activated = activated
        try:
            result.outcomes[name] = applier.run(plan)
        except ApplyError as exc:
            result.failures[name] = exc
        except Exception as exc:  # isolation: one token's failure never stops the others
            result.failures[name] = ApplyError("%s failed: %s" % (name, _describe(exc)), [], exc)

    def _run_unmanaged(self, steps, activated, result):
        failed = set()
        for token, step in steps:
            ref = token.reference_number
            if ref in failed:
                continue
            try:
                if step.action == p.WAIT and isinstance(activated.get(ref), Exception):
                    raise activated[ref]
                if step.action == p.REVOKE:
                    self.api.revoke_token(ref)
                result.unmanaged.append(row(UNMANAGED, step))
            except Exception as exc:
                failed.add(ref)
                result.unmanaged_failures.append("%s of unmanaged token %s failed: %s"
                                                 % (step.action, ref, _describe(exc)))


# -- the ksef.credentials.tokens task -------------------------------------------------------------------------

class TokensOptionError(ValueError):
    def __init__(self, option: str, message: str):
        super().__init__("%s: %s" % (option, message))
        self.option = option


def validate(module) -> tuple:
    """[(Declared, [Store], verify)] from `tokens`, before any API call; TokensOptionError names tokens[i].option."""
    entries, names, labels = [], {}, {}
    for index, item in enumerate(module.params.get("tokens") or []):
        where = "tokens[%d]" % index
        try:
            declared = declared_from_params(item)
        except OptionError as exc:
            raise TokensOptionError("%s.%s" % (where, exc.option), str(exc))
        if declared.name in names:
            raise TokensOptionError("%s.name" % where, "token name %r is declared twice (%s and %s); names are unique "
                                    "within a context" % (declared.name, names[declared.name], where))
        names[declared.name] = where
        try:
            stores = build_stores(module, item.get("store"))
        except StoreConfigError as exc:
            raise TokensOptionError("%s.%s" % (where, exc.option), _strip_option(str(exc), exc.option))
        for position, store in enumerate(stores):
            if store.label in labels:
                raise TokensOptionError("%s.store[%d]" % (where, position), "points at the same place as %s (%s); "
                                        "two tokens cannot share a store" % (labels[store.label], store.label))
            labels[store.label] = "%s.store[%d]" % (where, position)
        entries.append((declared, stores, item.get("verify", True) is not False))
    wait_timeout = module.params.get("wait_timeout")
    if wait_timeout is not None and wait_timeout <= 0:
        raise TokensOptionError("wait_timeout", "wait_timeout must be a positive number of seconds")
    return entries


def _strip_option(message: str, option: str) -> str:
    prefix = option + ": "
    return message[len(prefix):] if message.startswith(prefix) else message


def run_tokens_task(module) -> None:
    """Everything `ksef.credentials.tokens` does; ends with exit_json or fail_json."""
    params = module.params
    try:
        entries = validate(module)
    except TokensOptionError as exc:
        module.fail_json(msg=str(exc), option=exc.option)
    exclusive = str(params.get("exclusive") or "false").lower()
    adopt = bool(params.get("adopt"))
    revoke_auth_token = bool(params.get("revoke_auth_token"))
    context = str(module.ksef_context)
    wait_timeout = params.get("wait_timeout") or 120

    with ExitStack() as locks:
        try:
            if not module.check_mode:  # same lock files as ksef.credentials.token, taken in one order: no deadlock
                for name in sorted(declared.name for declared, _stores, _verify in entries):
                    locks.enter_context(_locks.token_lock(context, name, timeout=params.get("lock_timeout") or 300))
            snapshots = {declared.name: {store.label: store.read() for store in stores}
                         for declared, stores, _verify in entries}
            holdings = {name: [p.Holding(label, held.reference_number if held else None)
                               for label, held in snapshot.items()] for name, snapshot in snapshots.items()}
            with module.ksef_session() as api:
                # Unmanaged tokens matter only to adopt and exclusive: all; otherwise list managed ones only.
                wanted = None if (adopt or exclusive == "all") else MANAGED_FILTER
                listed = api.list_tokens(statuses=list(p.LIVE_STATUSES), description=wanted)
                cplan = plan_context([d for d, _s, _v in entries], listed, holdings, datetime.now(timezone.utc),
                                     exclusive=exclusive, adopt=adopt, protected=_login_token(module),
                                     auth_token_unknown=module.ksef_auth.method == "session",
                                     revoke_auth_token=revoke_auth_token)
                for warning in cplan.warnings:
                    module.warn(warning)
                for declared, stores, _verify in entries:
                    if cplan.declared[declared.name].issue and not stores:
                        module.warn("%s: no store is declared, the value of the new token is not kept anywhere"
                                    % declared.name)
                if module.check_mode:
                    done = _predicted_context(cplan, snapshots)
                else:
                    appliers = {declared.name: Applier(api, module, stores, snapshots[declared.name], context,
                                                       wait_timeout=wait_timeout,
                                                       verify_token=_verifier(module) if verify else None)
                                for declared, stores, verify in entries}
                    done = ContextApplier(api, module, context, appliers, wait_timeout=wait_timeout).run(cplan)
        except (KsefError, StoreError, _locks.LockTimeoutError) as exc:
            fields = exc.to_result() if isinstance(exc, KsefError) else {}
            module.fail_json(msg=str(exc), **fields)

    result = tokens_result(cplan, done, snapshots, check_mode=module.check_mode)
    if module._diff:
        result["diff"] = diff(cplan, done, check_mode=module.check_mode)
    problems = ["%s: %s" % (name, exc) for name, exc in done.failures.items()] + done.unmanaged_failures
    if problems:
        module.fail_json(msg="%d of %d changes failed (the others were applied): %s"
                         % (len(problems), len(cplan.plans()) + len(cplan.unmanaged), " | ".join(problems)),
                         failed_tokens=sorted(done.failures), **result)
    module.exit_json(**result)


def _verifier(module):
    def verify(value):
        verify_ksef_token(module.http, module.ksef_context, value, on_secret=module.register_secret)
    return verify


def _predicted_context(cplan: ContextPlan, snapshots: dict) -> ContextOutcome:
    done = ContextOutcome()
    for plan in cplan.plans():
        done.outcomes[plan.declared.name] = _predicted(plan, snapshots.get(plan.declared.name, {}))
    done.unmanaged = [row(UNMANAGED, step) for _token, step in cplan.unmanaged]
    return done


def tokens_result(cplan: ContextPlan, done: ContextOutcome, snapshots: dict, check_mode: bool) -> dict:
    tokens, revoked, changed = {}, [], False
    for plan in cplan.plans():
        name = plan.declared.name
        outcome = done.outcomes.get(name)
        failure = done.failures.get(name)
        if outcome is None:  # failed: the token is as it was, plus whatever the failure message says
            held = {label: (v.reference_number if v else None) for label, v in snapshots.get(name, {}).items()}
            outcome = Outcome(actions=list(failure.actions) if failure else [], token=plan.current, held=held)
        entry = _token_result(plan.declared, outcome)
        entry["declared"] = name in cplan.declared
        entry["adopted"] = cplan.adopted.get(name)
        if failure is not None:
            entry["failed"] = True
            entry["msg"] = str(failure)
        tokens[name] = entry
        for action in outcome.actions:
            changed = changed or action["action"] in p.CHANGING
            if action["action"] == p.REVOKE:
                revoked.append({"name": name, "reference_number": action["reference_number"]})
    for entry in done.unmanaged:
        changed = changed or entry["action"] in p.CHANGING
        if entry["action"] == p.REVOKE:
            revoked.append({"name": UNMANAGED, "reference_number": entry["reference_number"]})
    return {"changed": cplan.changed if check_mode else changed, "plan": cplan.rows(), "summary": cplan.summary(),
            "tokens": tokens, "revoked": revoked}


def diff(cplan: ContextPlan, done: ContextOutcome, check_mode: bool) -> dict:
    """Metadata only, keyed by name (unmanaged tokens by `unmanaged:REF`); tokens that stay alike are left out."""
    before, after = {}, {}
    for plan in cplan.plans():
        name = plan.declared.name
        was, will = plan.before(), plan.after()
        outcome = done.outcomes.get(name)
        if not check_mode:
            if outcome is None:
                will = was
            elif plan.declared.state == "present" and outcome.token is not None:
                will = outcome.token.metadata()
        if was != will:
            before[name], after[name] = was, will
    revoked = {e["reference_number"] for e in done.unmanaged if e["action"] == p.REVOKE}
    for token, step in cplan.unmanaged:
        if step.action == p.REVOKE and (check_mode or token.reference_number in revoked):
            before["unmanaged:%s" % token.reference_number] = token.metadata()
    return {"before": before, "after": after}
