# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declarations before any request: the options of a run, one validated Entry per declared credential (its kind's
Declared and its stores), store templates, and what the stores of read-only declarations hold. No KSeF I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils import _saved_plan
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import StoreError, build_stores


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
    journal_dir: str | None = None  # where a journaled kind keeps its operations in flight (_journal.py)
    keep_plan: bool = False  # make the saved-plan document even without plan_file (Report.document): a caller
    # that converges several kinds writes their plans into one file
    revoked_tokens: frozenset = frozenset()  # tokens the same task revokes before its grants (the company task)

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
            journal_dir=params.get("journal_dir"),
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
    if template and not kind.holds_value:
        raise KsefConfigError("store_template", "a %s has no value to store: remove store_template" % kind.noun)
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


def declarations(module, kind, items: list, option: str, template=()) -> list:
    """[Entry] of a read-only module's list of declarations (`declared`): the same validation as the modules that
    apply them (the stores of `template` for an item without its own), before any request."""
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise KsefConfigError(
                "%s[%d]" % (option, index), "%s[%d]: must be a dictionary with at least a name" % (option, index)
            )
    return validate(module, kind, items, option, template)


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
