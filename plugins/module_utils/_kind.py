# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The interface every kind of MCU object implements (tokens, certificates, ...): what the engine may call, and
the four facts that change how the engine treats a kind. See docs/architecture.md.

    owner          whose objects they are: a context (tokens, grants), or the subject that logs in (certificates)
    holds_value    whether an object has a secret value the stores keep (tokens, certificates) or none (grants):
                   a kind without a value never touches no_log registration, stores or store results
    change_order   make-before-break: the new object is issued, proven and stored before the old one is revoked;
                   break-before-make: the old one is revoked (and the revoke waited for) before the new one is
                   issued, for objects that cannot exist twice
    journaled      whether an issue or revoke is an operation KSeF may finish much later: the engine journals it
                   (`_journal.py`) so a run that stopped waiting resumes it instead of issuing it again

Two more members serve a task that converges several kinds (`_many_kinds.py`): what a kind makes may change what
the identity that logs in may do (`changes_permissions`, `withheld`), and what another kind issues may need it
(`needs`).

Operations, in the order the engine calls them: `read_live`, `plan` (pure), `issue`, `activate` (wait for what was
issued), `verify`, `revoke`, `wait_revoked` (wait for revokes that KSeF carries out later).
"""

from __future__ import annotations

import abc
from datetime import datetime
from typing import Any

CONTEXT = "context"
SUBJECT = "subject"
MAKE_BEFORE_BREAK = "make-before-break"
BREAK_BEFORE_MAKE = "break-before-make"


class Kind(abc.ABC):
    """One kind of MCU object. Subclasses set the class attributes and implement the abstract operations."""

    noun: str  # one object in messages: "token"
    plural: str  # the list option and the result key: "tokens"
    exclusive_choices: tuple = ("false", "managed")
    owner: str = CONTEXT
    holds_value: bool = True
    change_order: str = MAKE_BEFORE_BREAK
    journaled: bool = False
    # What it makes changes what the identity that logs in may do (grants): a later kind's issue runs on a refreshed
    # access token, which carries the permissions of its login or last refresh.
    changes_permissions: bool = False
    # The words of a failure after the issue: "create failed while waiting for activation", and what the next run
    # does about a change whose old object a break-before-make revoke already took away.
    waiting_stage: str = "waiting for activation"
    issues_again: str = "issues it again"
    poll_schedule: dict = {}  # the Poller's first delay, factor and cap while waiting for issues and revokes

    # -- without I/O ------------------------------------------------------------------------------------------

    @abc.abstractmethod
    def declare(self, options: dict) -> Any:
        """One declaration (with `name`, `state`, `predicted()`, `absent()`) from the options of one entry; raises
        KsefConfigError naming the option. No I/O."""

    def check_auth(self, module) -> None:
        """Refuse, before any request, a login that cannot manage this kind (KsefConfigError)."""
        return None

    def check_store(self, store) -> str | None:
        """Why `store` cannot keep this kind's value, or None. A kind without a value keeps nothing anywhere."""
        if not self.holds_value:
            return "a %s has no value to store" % self.noun
        return None

    def protected(self, module) -> set:
        """Identifiers of live objects this run must not remove by accident (what it logged in with)."""
        return set()

    def lock_scope(self, module, context: str) -> str:
        """What the locks of this kind's names are held in: the context for an object of the context. A kind owned
        by the subject that logs in locks in that subject, so hosts of several contexts sharing one login never
        converge the same object at once."""
        return context

    @abc.abstractmethod
    def plan(
        self,
        declared: list,
        live: list,
        holdings: dict,
        now: datetime,
        options,
        protected: set,
        auth_token_unknown: bool,
    ) -> Any:
        """A `_plan.ContextPlan` from the declarations, the live objects and what the stores hold. Pure."""

    def review(self, module, cplan) -> None:
        """A last look at the plan with the run at hand, for warnings that need the run's settings."""
        return None

    def needs(self, plan) -> set:
        """The permissions the identity that logs in must hold to issue the object of `plan` (a token carries only
        permissions its creator holds)."""
        return set()

    def withheld(self, declared: list, cplan, done) -> dict:
        """The permissions this run was to give the identity that logs in and did not, for a kind that
        `changes_permissions`: permission -> why. `cplan` and `done` are None when the kind stopped before its plan
        or during its make step."""
        return {}

    def drift(self, declared: list, live: list, holdings: dict, now: datetime) -> list:
        """`_findings.Finding`s of the live objects against the declarations."""
        return []

    def pending(self, plan, reference: str, now: datetime) -> Any:
        """The live view of an object just issued, until KSeF lists it (`reference_number`, `status`)."""
        return _Pending(reference)

    def completed(self, value: Any, live) -> Any:
        """The value the stores keep, once the issued object is live (value kinds only)."""
        return value

    def store_meta(self, declared, live, context: str) -> Any:
        """What a store keeps next to the value (value kinds only)."""
        return None

    # -- KSeF -------------------------------------------------------------------------------------------------

    @abc.abstractmethod
    def read_live(self, api, declared: list, options) -> list:
        """The live objects of the owner, in as few requests as the API allows."""

    @abc.abstractmethod
    def issue(self, api, plan) -> tuple:
        """Issue the object `plan` needs: (reference of the issue, its secret value or None)."""

    @abc.abstractmethod
    def activate(self, api, pending: dict, poller) -> dict:
        """Wait for every issued object in `pending` (reference -> pending view) together: reference -> the live
        object, or the KsefError it ended with."""

    def before_changes(self, api, cplan, options) -> None:
        """Refuse (KsefError), before the first issue or revoke, a plan the run could not finish."""
        return None

    def issued(self, module, plan, live) -> None:
        """A look at an object just issued, for warnings that need what KSeF made of it."""
        return None

    def verify(self, module, value: Any) -> None:
        """Prove a new value by using it (value kinds)."""
        return None

    @abc.abstractmethod
    def revoke(self, api, reference: str) -> str | None:
        """Revoke one live object. Returns the reference of an operation KSeF carries out later, for
        `wait_revoked`, or None when the revoke is done."""

    def wait_revoked(self, api, operations: dict, poller) -> dict:
        """Wait for the revoke operations (operation reference -> live reference) together: operation reference ->
        None when done, or the KsefError it ended with. Only kinds whose `revoke` returns operations need it."""
        return dict.fromkeys(operations)

    def abandoned(self, api, plan, reference: str) -> str | None:
        """What to revoke of an object whose issue never became usable (None: nothing exists)."""
        return None


class _Pending:
    """An issued object KSeF has not finished yet."""

    status = "Pending"

    def __init__(self, reference: str):
        self.reference_number = reference
