# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Permission grants as a kind of the engine (`_engine.py`): no value, break-before-make, journaled.

    declare        options of one entry -> Declared (grant_plan.declare; no I/O)
    read_live      every row of POST /permissions/query/persons/grants (PermissionsInCurrentContext), pages of 100;
                   with a KSeF-token login also GET /tokens/{referenceNumber} of that token, for its author (the
                   identity the lockout guard protects); when the plan revokes, one GET /tokens of the managed
                   tokens, to name those a revoke takes a permission from; POST /permissions/query/authorizations/
                   grants (Granted), POST /permissions/query/subunits/grants and POST /permissions/query/eu-entities/
                   grants when the run may touch such a row
    plan           grant_plan.plan_context (pure), and the call budget
    issue          one grant request of the declaration's kind (POST /permissions/{persons,entities,indirect,
                   authorizations,subunits,eu-entities/administration}/grants) for the declared permissions no
                   kept row carries
    activate       GET /permissions/operations/{referenceNumber} per operation and poll, then the rows listed again
    revoke         DELETE /permissions/common/grants/{permissionId} (an authorization: DELETE
                   /permissions/authorizations/grants/{permissionId}): an operation, waited for by wait_revoked

A grant is recognised again by the name marker `[ksef.credentials:NAME]` in the description of each of its rows.
"""

from __future__ import annotations

from dataclasses import replace

from ansible_collections.ksef.credentials.plugins.module_utils import _identity
from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._errors import (
    KsefApiError,
    KsefConfigError,
    KsefError,
    KsefTimeoutError,
)
from ansible_collections.ksef.credentials.plugins.module_utils._kind import BREAK_BEFORE_MAKE, CONTEXT, Kind
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import grant_plan, grant_requests
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_requests import STATUS_ENDPOINT
from ansible_collections.ksef.credentials.plugins.module_utils._poll import OPERATIONS
from ansible_collections.ksef.credentials.plugins.module_utils._ratelimit import SAFETY_MARGIN, NoopRateLimiter
from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import parse_reference_number

IN_PROGRESS = 100
SUCCESS = 200
FORGOTTEN = (400, 410)  # HTTP answers to the status of an operation KSeF no longer knows
STATUS_OPERATION = "GET " + STATUS_ENDPOINT


class OperationError(KsefError):
    """A permission operation ended with a status other than 200."""

    def __init__(self, reference: str, status: dict):
        details = "; ".join(status.get("details") or [])
        super().__init__(
            "operation %s ended with status %s (%s%s)"
            % (
                reference,
                status.get("code"),
                status.get("description") or "no description",
                ": " + details if details else "",
            )
        )
        self.status = status.get("code")


class _PendingGrant:
    """A grant KSeF has not finished: the declaration's name and the permissions it asked for."""

    status = p.PENDING

    def __init__(self, reference: str, name: str | None, scopes: tuple, kind: str | None = None, elsewhere=()):
        self.reference_number = reference
        self.name = name
        self.scopes = scopes
        self.kind = kind
        self.elsewhere = tuple(elsewhere)  # rows of other grants that hold a declared permission (grant_plan)


def limiter_of(api):
    """The shared pacing of the run's requests (`_ratelimit.py`): what is left of each endpoint's windows."""
    return getattr(getattr(api, "http", None), "limiter", None) or NoopRateLimiter()


def wait_operations(api, operations, poller) -> dict:
    """Read the status of every operation in `operations` once per round until each ends: reference -> None (200)
    or the error it ended with; KsefTimeoutError for one still at 100 at the deadline (the journal keeps it). A
    round waits until its status reads fit KSeF's limits; one that would not fit before the deadline is not sent."""
    waiting, done = list(operations), {}  # type: list, dict
    limiter = limiter_of(api)
    while waiting:
        for ref in list(waiting):
            try:
                status = api.permission_operation(ref)
            except KsefApiError as exc:
                if exc.status not in FORGOTTEN:
                    raise
                # Kept 30 days, then 410 Gone; unknown here (another context or environment): 400. Either way it
                # cannot be waited for: it ends, and the rows listed next show what it did.
                done[ref] = KsefError("operation %s can no longer be read (HTTP %s): %s" % (ref, exc.status, exc))
                waiting.remove(ref)
                continue
            if status.get("code") == IN_PROGRESS:
                continue
            done[ref] = None if status.get("code") == SUCCESS else OperationError(ref, status)
            waiting.remove(ref)
        if not waiting:
            break
        room = limiter.room(STATUS_OPERATION, len(waiting))
        if not poller.wait(at_least=room):
            why = "after wait_timeout %ss" % poller.timeout
            if room > poller.remaining():
                why += " (KSeF's limits of %s leave room for the next status reads in %.0fs)" % (STATUS_OPERATION, room)
            for ref in waiting:
                done[ref] = KsefTimeoutError(
                    "operation %s is still in progress (status 100) %s; the next run waits for it instead of sending"
                    " it again" % (ref, why)
                )
            break
    return done


APART = ("authorization", "subunit", "eu_administrator")  # the kinds listed by endpoints of their own


def other_listings(declared: list, exclusive: str) -> set:
    """The kinds listed by an endpoint of their own a run may touch: one is declared, a name is declared absent,
    or exclusive revokes undeclared names."""
    if exclusive != "false" or any(d.state == "absent" for d in declared):
        return set(APART)
    return {d.kind for d in declared} & set(APART)


def listed_apart(api, kinds, context: tuple = (None, None)) -> list:
    """The subunit administrators and EU administrators granted from this context (`context`: (type, value)),
    when `kinds` asks for them (authorizations are read by the caller, which remembers their ids for their own
    revoke)."""
    rows = []
    if "subunit" in kinds:
        rows += [grant_plan.GrantRow.from_subunit(item) for item in api.query_subunit_grants()]
    if "eu_administrator" in kinds:
        rows += grant_plan.GrantRow.from_eu_entities(api.query_eu_entity_grants(), context)
    return rows


def listed_in_nip_vat_ue(api, context: tuple) -> list:
    """The rows a NipVatUe context lists: POST /permissions/query/eu-entities/grants alone (its administrator
    holds VatUeManage, which lists nothing else), the entity's administrators and representatives."""
    return grant_plan.GrantRow.from_eu_entities(api.query_eu_entity_grants(), context)


def _binding(room, count: int) -> str:
    """Which of the limits' windows holds the calls back: the hour's, or a shorter one when the hour has room."""
    if not room:
        return "rate_limits"
    if room[0] >= count:
        return "%d of %d left this hour, but a shorter window (per second or per minute) is full" % room
    return "%d of %d left this hour" % room


class GrantKind(Kind):
    """Permission grants of one context: rows without a value; a change revokes first, then grants."""

    noun = "grant"
    plural = "grants"
    exclusive_choices = grant_plan.EXCLUSIVE_CHOICES
    owner = CONTEXT
    holds_value = False
    change_order = BREAK_BEFORE_MAKE
    journaled = True
    changes_permissions = True
    waiting_stage = "waiting for its grant operation"
    poll_schedule = OPERATIONS
    issues_again = "grants it again"

    def __init__(self):
        self._context: tuple = (None, None)
        self._login_token: str | None = None
        self._identities: set = set()
        self._tokens: list = []  # managed tokens, listed only when the plan revokes something
        self._authorizations: set = set()  # permissionIds revoked through the authorizations endpoint
        self._tokens_listed = False  # the dependency check sent its GET /tokens
        self._limiter = NoopRateLimiter()  # the run's shared pacing, known once read_live has the session

    # -- without I/O ------------------------------------------------------------------------------------------

    def declare(self, options: dict) -> grant_plan.Declared:
        return grant_plan.declare(options)

    def check_auth(self, module) -> None:
        """Remember the context and who logs in: the lockout guard protects that identity's CredentialsManage."""
        context = getattr(module, "ksef_context", None)
        self._context = (getattr(context, "type", None), getattr(context, "value", None))
        for index, options in enumerate(getattr(module, "params", {}).get("grants") or []):
            if (options.get("state") or "present") != "present" or not options.get("kind"):
                continue
            problem = grant_plan.context_problem(options["kind"], self._context[0])
            if problem:
                raise KsefConfigError("grants[%d].kind" % index, "grants[%d]: %s" % (index, problem))
        auth = getattr(module, "ksef_auth", None)
        # The KSeF token of the login, also when a handed-over session names it (auth.ksef_token_reference).
        self._login_token = getattr(module, "login_token_reference", None) or parse_reference_number(
            getattr(auth, "ksef_token", None)
        )
        if auth is not None and getattr(auth, "method", None) == "xades":
            from ansible_collections.ksef.credentials.plugins.module_utils import _xades  # a XAdES login loads it

            try:
                credentials = _xades.load_signing_credentials(
                    auth.certificate, auth.private_key, auth.private_key_passphrase, auth.pkcs12, auth.pkcs12_passphrase
                )
            except KsefError:  # the login reports it
                return
            identity = _xades.certificate_identity(credentials.certificate)
            self._identities.add(("Fingerprint", str(identity["fingerprint"]).upper()))
            if identity["type"] != "Fingerprint":
                self._identities.add((identity["type"], identity["value"]))

    def protected(self, module) -> set:
        return set(self._identities)

    def plan(self, declared, live, holdings, now, options, protected, auth_token_unknown) -> p.ContextPlan:
        cplan = grant_plan.plan_context(
            declared,
            live,
            exclusive=options.exclusive,
            protected=protected,
            force=options.revoke_auth_token,
            context=self._context,
        )
        line, warnings = grant_requests.budget(cplan, self._left, self._context[0] == "NipVatUe", self._tokens_listed)
        if line:
            cplan.notes.append(line)
        cplan.warnings.extend(warnings)
        cplan.warnings.extend(grant_plan.dependencies(cplan, live, self._tokens, options.revoked_tokens))
        if options.guard_option not in ("force", "revoke_auth_token"):  # the task spells it grants_force
            _rename_force(cplan, options.guard_option)
        return cplan

    def withheld(self, declared: list, cplan, done) -> dict:
        """The permissions a person or entity grant of this run was to give the identity that logs in (in this
        context) and did not: its grant failed, is still in progress at KSeF, or the grants stopped as a whole."""
        mine = [
            d
            for d in declared
            if d.state == "present" and d.kind in IN_THIS_CONTEXT and _upper(d.subject) in self._logged_in()
        ]
        withheld: dict = {}
        for decl in mine:
            plan = cplan.declared.get(decl.name) if cplan is not None else None
            if cplan is None or done is None:
                why = "grant %s was not converged" % decl.name
            elif plan is not None and plan.issue is not None and decl.name in done.failures:
                why = "grant %s failed: %s" % (decl.name, done.failures[decl.name])
            elif plan is not None and any(s.action == p.RETAIN and "in progress" in s.reason for s in plan.steps):
                why = "grant %s is still in progress at KSeF" % decl.name
            else:
                continue
            for permission in decl.permissions:
                withheld.setdefault(permission, why)
        return withheld

    def _logged_in(self) -> set:
        return {_upper(identity) for identity in self._identities}

    def pending(self, plan, reference: str, now) -> _PendingGrant:
        if plan is None:  # resumed from the journal
            return _PendingGrant(reference, None, ())
        elsewhere = plan.current.elsewhere if plan.current is not None else ()
        return _PendingGrant(
            reference, plan.declared.name, tuple(grant_plan.to_grant(plan)), plan.declared.kind, elsewhere
        )

    # -- KSeF -------------------------------------------------------------------------------------------------

    def read_live(self, api, declared: list, options) -> list:
        """The rows; and, when the plan they lead to revokes any, the managed tokens of the context (one more
        GET /tokens), so the plan can name the tokens a revoke takes a permission from."""
        self._limiter = limiter_of(api)
        if self._context[0] == "NipVatUe":  # no CredentialsManage there: no lockout guard, no token to warn of
            return listed_in_nip_vat_ue(api, self._context)
        if self._login_token:
            token = api.get_token(self._login_token)
            author = token.get("authorIdentifier") or {}
            if author.get("value"):
                self._identities.add((author.get("type"), author.get("value")))
        live = [grant_plan.GrantRow.from_api(item) for item in api.query_person_grants()]
        listings = other_listings(declared, options.exclusive)
        if "authorization" in listings:
            authorizations = [grant_plan.GrantRow.from_authorization(i) for i in api.query_authorization_grants()]
            self._authorizations = {row.reference_number for row in authorizations}
            live += authorizations
        live += listed_apart(api, listings, self._context)
        preview = grant_plan.plan_context(
            declared, live, options.exclusive, self._identities, options.revoke_auth_token, self._context
        )
        if grant_plan.revokes(preview):
            self._tokens = api.list_tokens(statuses=["Pending", "Active"], description=_identity.MARKER_PREFIX)
            self._tokens_listed = True
        return live

    def _left(self, operation: str):
        """(left, limit) of `operation` this hour in this context, from the shared pacing state."""
        return self._limiter.left(operation)

    def before_changes(self, api, cplan, options) -> None:
        """Refuse, before the first grant or revoke, a run KSeF's limits would stop half-way: a revoke sent and its
        grant not, or an operation never read again. Each endpoint's calls (at least one status read per operation)
        must fit what the shared pacing state leaves of its windows within max_retry_wait (the status reads: and
        wait_timeout)."""
        limiter = limiter_of(api)
        needed = grant_requests.calls(cplan, self._context[0] == "NipVatUe", self._tokens_listed)
        needed.pop("GET /tokens", None)  # sent already, by read_live
        for key, count in needed.items():
            given = [("max_retry_wait", getattr(limiter, "max_pacing_wait", None))]
            if key == STATUS_OPERATION:
                given.append(("wait_timeout", options.wait_timeout))
            bounds = [(name, float(value)) for name, value in given if value is not None]
            if not bounds:
                continue
            wait = limiter.room(key, count)
            option, bound = min(bounds, key=lambda b: b[1])
            if wait <= bound + SAFETY_MARGIN:
                continue
            room = limiter.left(key)
            raise KsefTimeoutError(
                "nothing was changed: the plan needs %s%d calls of %s, and KSeF's limits in this context (%s) leave"
                " room for them only in %.0fs, more than %s (%.0fs); a run stopped there would leave revoked grants"
                " missing or operations unread. Run it again once the window has room, raise %s (up to 3600; %s in"
                " the roles) to wait for it, or split the grants over several runs"
                % (
                    "at least " if key == STATUS_OPERATION else "",
                    count,
                    key,
                    _binding(room, count),
                    wait,
                    option,
                    bound,
                    " and ".join(name for name, _value in bounds),
                    " and ".join("ksef_" + name for name, _value in bounds),
                ),
                operation=key,
            )

    def issue(self, api, plan) -> tuple:
        nip = str(self._context[1] or "").split("-", maxsplit=1)[0]
        body = grant_plan.grant_request(plan.declared, grant_plan.to_grant(plan), nip)
        send = {
            "person": api.grant_persons,
            "entity": api.grant_entities,
            "indirect": api.grant_indirect,
            "authorization": api.grant_authorizations,
            "subunit": api.grant_subunits,
            "eu_administrator": api.grant_eu_administration,
            "eu_representative": api.grant_eu_representatives,
        }
        return send[plan.declared.kind](body), None

    def activate(self, api, pending: dict, poller) -> dict:
        """Wait for the grant operations together, then list the rows once (again while a granted permission is not
        listed yet: the list can lag behind status 200): reference -> Granted, or the error it ended with."""
        ended = wait_operations(api, pending, poller)
        done: dict = {ref: error for ref, error in ended.items() if error is not None}
        granted = {ref: view for ref, view in pending.items() if ref not in done}
        if not granted:
            return done
        kinds = {view.kind for view in granted.values()}
        listings = 0
        while True:
            listings += 1
            if self._context[0] == "NipVatUe":
                rows = listed_in_nip_vat_ue(api, self._context)
            else:
                rows = [grant_plan.GrantRow.from_api(item) for item in api.query_person_grants()]
            if "authorization" in kinds:
                rows += [grant_plan.GrantRow.from_authorization(item) for item in api.query_authorization_grants()]
            rows += listed_apart(api, kinds, self._context)
            views = {}
            for ref, view in granted.items():
                mine = tuple(row for row in rows if view.name is not None and row.name == view.name)
                unlisted = tuple(scope for scope in view.scopes if scope not in {row.scope for row in mine})
                views[ref] = grant_plan.Granted(view.name, mine, elsewhere=view.elsewhere, unlisted=unlisted)
            missing = [ref for ref, view in views.items() if view.unlisted]
            # The list can lag behind status 200, but a grant KSeF ignored never shows: a few listings, no more.
            if not missing or listings >= grant_requests.LISTINGS_AFTER_GRANT or not poller.wait():
                break
        done.update(views)
        return done

    def issued(self, module, plan, live) -> None:
        """Say so when KSeF finished a grant (status 200) and lists no row of some of its permissions."""
        unlisted = getattr(live, "unlisted", ())
        if unlisted:
            module.warn(
                "%s: KSeF finished the grant operation (status 200) but lists no row of %s for it after %d listings:"
                " KSeF ignores a grant of a permission the subject already holds in this context (uprawnienia.md),"
                " (for example through a row of another kind or target, granted by hand or by System), or its"
                " list lags behind; the next run lists the rows again and plans what is missing"
                % (plan.declared.name, ", ".join(unlisted), grant_requests.LISTINGS_AFTER_GRANT)
            )

    def revoke(self, api, reference: str) -> str:
        if reference in self._authorizations:  # the common revoke ends 450 for an authorization
            return api.revoke_authorization(reference)
        return api.revoke_grant(reference)

    def wait_revoked(self, api, operations: dict, poller) -> dict:
        return wait_operations(api, operations, poller)


IN_THIS_CONTEXT = ("person", "entity")  # the grant kinds that give their subject permissions in this context


def _upper(identity: tuple) -> tuple:
    kind, value = identity
    return (kind, str(value).upper() if kind == "Fingerprint" and value else value)


def _rename_force(cplan: p.ContextPlan, option: str) -> None:
    """The lockout guard's words name `force`; a task that spells the option otherwise (grants_force) says so."""

    def spelled(step: p.Step) -> p.Step:
        return replace(step, reason=step.reason.replace("force: true", "%s: true" % option))

    for plan in cplan.plans():
        plan.steps = [spelled(step) if step.action == p.RETAIN else step for step in plan.steps]
    cplan.unmanaged = [(live, spelled(step) if step.action == p.RETAIN else step) for live, step in cplan.unmanaged]
    cplan.warnings[:] = [warning.replace("force: true", "%s: true" % option) for warning in cplan.warnings]


GRANT = GrantKind()
