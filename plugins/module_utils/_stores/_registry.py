# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The store registry: `STORE_ARGSPEC` for a module's `store` option and `build_stores` to turn entries into stores."""

from __future__ import annotations

import re

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values

from ansible_collections.ksef.credentials.plugins.module_utils._numbers import check_params as check_number_params
from ansible_collections.ksef.credentials.plugins.module_utils._stores._base import (
    Store,
    StoreConfigError,
    StoreConflictError,
    StoredValue,
    StoreError,
    TokenMeta,
    parse_reference_number,
)
from ansible_collections.ksef.credentials.plugins.module_utils._stores._schema import STORE_SCHEMA

STORE_TYPE_NAMES = ("aws_secretsmanager", "aws_ssm", "file", "hashicorp_vault")

__all__ = [
    "STORE_ARGSPEC",
    "STORE_TYPE_NAMES",
    "Store",
    "StoreConfigError",
    "StoreConflictError",
    "StoreError",
    "StoredValue",
    "TokenMeta",
    "build_stores",
    "parse_reference_number",
    "store_class",
    "store_types",
]


def store_class(type_name: str) -> type[Store]:
    """The class of one store type, imported only when a declaration uses it (a run that writes files never
    loads the Vault or AWS code). Plain import statements, so that Ansible packs every store with the module."""
    if type_name == "file":
        from ansible_collections.ksef.credentials.plugins.module_utils._stores.file import FileStore

        return FileStore
    if type_name == "hashicorp_vault":
        from ansible_collections.ksef.credentials.plugins.module_utils._stores.hashicorp_vault import (
            HashicorpVaultStore,
        )

        return HashicorpVaultStore
    if type_name == "aws_secretsmanager":
        from ansible_collections.ksef.credentials.plugins.module_utils._stores.aws_secretsmanager import (
            AwsSecretsManagerStore,
        )

        return AwsSecretsManagerStore
    if type_name == "aws_ssm":
        from ansible_collections.ksef.credentials.plugins.module_utils._stores.aws_ssm import AwsSsmStore

        return AwsSsmStore
    raise KeyError(type_name)


def store_types() -> dict[str, type[Store]]:
    """Every store type by name (imports them all)."""
    return {name: store_class(name) for name in STORE_TYPE_NAMES}


def _argument_spec(schema: dict) -> dict:
    """The `store` option's argument spec, from its documentation (`_schema.py`): every type's options, none
    required and without defaults. Each entry is checked again against its own type's spec in build_store, where
    requirements, defaults and choices apply; this spec only has to accept the entry and mark secrets no_log."""
    keys = ("type", "required", "choices", "elements", "no_log")
    options = {name: {key: doc[key] for key in keys if key in doc} for name, doc in schema["suboptions"].items()}
    return {"type": schema["type"], "elements": schema["elements"], "options": options}


STORE_ARGSPEC: dict = _argument_spec(STORE_SCHEMA)


def _option_in_message(message: str, names) -> str | None:
    for name in names:
        if re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", message):
            return name
    return None


def build_store(module, spec: dict, index: int, option: str = "store") -> Store:
    """One validated store from entry `index` of the list option `option` (options that are None count as not
    given); errors name `option[index].x`."""
    at = f"{option}[{index}]"
    if not isinstance(spec, dict):
        raise StoreConfigError(at, "must be a dictionary with at least a `type` key")
    given = {k: v for k, v in spec.items() if v is not None}
    type_name = given.pop("type", None)
    if type_name not in STORE_TYPE_NAMES:
        raise StoreConfigError(f"{at}.type", f"must be one of: {', '.join(STORE_TYPE_NAMES)}")
    cls = store_class(type_name)
    unsupported = sorted(set(given) - set(cls.argument_spec))
    if unsupported:
        raise StoreConfigError(
            f"{at}.{unsupported[0]}",
            f"is not an option of store type {type_name}; its options are: {', '.join(sorted(cls.argument_spec))}",
        )
    result = ArgumentSpecValidator(cls.argument_spec).validate(given)
    secrets = set(result._no_log_values)
    module.no_log_values.update(secrets)
    # Before the validator's own errors: its int() reads other Unicode digits, or fails naming no character.
    check_number_params(cls.argument_spec, given, error=lambda name, problem: StoreConfigError(f"{at}.{name}", problem))
    if result.errors.errors:
        message = remove_values(result.errors.messages[0], secrets)
        named = _option_in_message(message, cls.argument_spec)
        raise StoreConfigError(f"{at}.{named}" if named else at, message)
    store = cls(module, result.validated_parameters, index)
    store.list_option = option
    store.validate()
    return store


def build_stores(module, specs: list[dict] | None, option: str = "store") -> list[Store]:
    """Validate every entry of a credential's `store:` list (or of `option`, e.g. `store_template`);
    StoreConfigError names `store[i].x`."""
    stores: list[Store] = []
    seen: dict[str, int] = {}
    for index, spec in enumerate(specs or []):
        store = build_store(module, spec, index, option)
        if store.label in seen:
            raise StoreConfigError(
                f"{option}[{index}]", f"points at the same place as {option}[{seen[store.label]}] ({store.label})"
            )
        for position, earlier in enumerate(stores):
            reason = store.cannot_share_with(earlier)
            if reason:
                raise StoreConfigError(f"{option}[{index}]", f"clashes with {option}[{position}]: {reason}")
        seen[store.label] = index
        stores.append(store)
    return stores
