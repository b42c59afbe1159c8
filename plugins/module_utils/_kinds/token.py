# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""KSeF tokens as a credential kind of the engine (`_engine.py`): the token's side of each step.

    declare    options of one entry -> Declared (token_plan.declare; no I/O)
    read_live  one paged GET /tokens for the context, with the narrowest filter the options allow
    plan       token_plan.plan_context (pure)
    issue      POST /tokens (an ambiguous answer: revoke what it may have created, try once more)
    activate   one GET /tokens per poll for every pending token of the context
    verify     log in with the new token and close that session
    revoke     DELETE /tokens/{referenceNumber}
    store_meta what a store keeps next to the value

A token is recognised again by the name marker `[ksef.credentials:NAME]` in its description (`_identity.py`).
"""

from __future__ import annotations

from dataclasses import replace

from ansible_collections.ksef.credentials.plugins.module_utils import _identity
from ansible_collections.ksef.credentials.plugins.module_utils._auth import verify_ksef_token
from ansible_collections.ksef.credentials.plugins.module_utils._errors import (
    KsefAmbiguousError,
    KsefError,
    KsefTimeoutError,
)
from ansible_collections.ksef.credentials.plugins.module_utils._kind import CONTEXT, Kind
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import token_plan
from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import (
    TokenMeta,
    parse_reference_number,
)

FAILED = "Failed"


class TokenKind(Kind):
    """KSeF tokens: owned by a context, a secret value in stores, make-before-break (rotation keeps the old token
    until the new one is stored and proven)."""

    noun = "token"
    plural = "tokens"
    exclusive_choices = token_plan.EXCLUSIVE_CHOICES
    owner = CONTEXT

    # -- without I/O ------------------------------------------------------------------------------------------

    def declare(self, options: dict) -> token_plan.Declared:
        return token_plan.declare(options)

    def check_store(self, store) -> str | None:
        """Why a store cannot keep a token value, or None."""
        if getattr(store, "format", None) in ("pem", "pkcs12"):
            return "format %s keeps a certificate with its key; a token goes in raw, env, json or yaml" % store.format
        return None

    def completed(self, value: str, live) -> str:
        """A token's value is complete when POST /tokens returns it."""
        return value

    def protected(self, module) -> set:
        """The reference number of the KSeF token this run logged in with: never revoked by accident."""
        auth = getattr(module, "ksef_auth", None)
        ref = parse_reference_number(getattr(auth, "ksef_token", None))
        return {ref} if ref else set()

    def plan(
        self, declared: list, live: list, holdings: dict, now, options, protected: set, auth_token_unknown: bool
    ) -> token_plan.ContextPlan:
        return token_plan.plan_context(
            declared,
            live,
            holdings,
            now,
            exclusive=options.exclusive,
            adopt=options.adopt,
            protected=protected,
            auth_token_unknown=auth_token_unknown,
            revoke_auth_token=options.revoke_auth_token,
            guard_option=options.guard_option,
        )

    def needs(self, plan) -> set:
        return set(plan.declared.permissions)

    def review(self, module, cplan) -> None:
        """A plan that creates or rotates a token near the end of token authentication warns (once per run)."""
        if any(plan.issue is not None for plan in cplan.plans()):
            module.warn_token_auth_end()

    def drift(self, declared: list, live: list, holdings: dict, now) -> list:
        """Findings of the live tokens against the declarations (`_drift.py`)."""
        from ansible_collections.ksef.credentials.plugins.module_utils import _drift  # only when asked for

        return _drift.drift(declared, live, holdings, now)

    def store_meta(self, declared: token_plan.Declared, live: token_plan.ActualToken, context: str) -> TokenMeta:
        return TokenMeta(
            name=declared.name,
            reference_number=live.reference_number,
            permissions=list(live.permissions),
            created=live.created.isoformat(),
            context=context,
        )

    def pending(self, plan, reference: str, now) -> token_plan.ActualToken:
        """The live view of a token just created, until KSeF lists it."""
        declared = plan.declared
        return token_plan.ActualToken(
            reference, token_plan.PENDING, tuple(declared.permissions), declared.full_description, now
        )

    # -- KSeF -------------------------------------------------------------------------------------------------

    def read_live(self, api, declared: list, options) -> list:
        """Live tokens of the context. Unmanaged tokens matter only to adopt and exclusive: all; one declared name
        with no exclusive needs only the tokens with its marker. Drift needs every token of the context."""
        if options.adopt or options.exclusive == "all" or options.drift:
            wanted = None
        elif len(declared) == 1 and options.exclusive == "false":
            wanted = _identity.marker(declared[0].name)
        else:
            wanted = _identity.MARKER_PREFIX
        return api.list_tokens(statuses=list(token_plan.LIVE_STATUSES), description=wanted)

    def issue(self, api, plan) -> tuple:
        """POST /tokens: (reference number, value). When the outcome is unknown, revoke whatever the lost request
        may have created (its value can never be read) and try once more."""
        declared = plan.declared
        known = {t.reference_number for t in plan.live}
        for attempt in (1, 2):
            try:
                created = api.create_token(list(declared.permissions), declared.full_description)
                return created["referenceNumber"], created["token"]
            except KsefAmbiguousError:
                listed = api.list_tokens(
                    statuses=[token_plan.PENDING, token_plan.ACTIVE, FAILED],
                    description=_identity.marker(declared.name),
                )
                for ref in [t["referenceNumber"] for t in listed if t["referenceNumber"] not in known]:
                    api.revoke_token(ref)
                    known.add(ref)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def activate(self, api, pending: dict, poller) -> dict:
        """Wait for every token in `pending` (reference number -> ActualToken), one GET /tokens per poll.

        The poll lists the context's Pending and Failed tokens only, so it stays one page however many tokens are
        Active. A token that is neither is Active (or was revoked meanwhile, which `verify` catches). Returns
        reference number -> ActualToken (Active) or KsefError (Failed, timeout).
        """
        pending, done = dict(pending), {}
        while pending:
            listed = {t["referenceNumber"]: t for t in api.list_tokens(statuses=[token_plan.PENDING, FAILED])}
            for ref in list(pending):
                item = listed.get(ref)
                if item is None:
                    done[ref] = replace(pending.pop(ref), status=token_plan.ACTIVE)
                elif item["status"] == FAILED:
                    details = "; ".join(item.get("statusDetails") or []) or "no details given"
                    done[ref] = KsefError("token %s failed to activate (%s)" % (ref, details))
                    del pending[ref]
                else:
                    pending[ref] = token_plan.ActualToken.from_api(item)  # KSeF's own creation time, permissions
            if pending and not poller.wait():
                for ref in pending:
                    done[ref] = KsefTimeoutError(
                        "token %s was not Active within wait_timeout %ss (status: Pending)" % (ref, poller.timeout)
                    )
                break
        return done

    def verify(self, module, value: str) -> None:
        warning = verify_ksef_token(module.http, module.ksef_context, value, on_secret=module.register_secret)
        if warning:  # the verification's own session, left to expire
            module.warn(warning)

    def revoke(self, api, reference: str) -> None:
        """DELETE answers 204 at once; Revoking becomes Revoked on KSeF's side, and the token no longer logs in."""
        api.revoke_token(reference)

    def abandoned(self, api, plan, reference: str) -> str | None:
        """A token that failed to activate exists from POST /tokens on: it is the one to revoke."""
        return reference


TOKEN = TokenKind()
