# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The store registry: `STORE_ARGSPEC` for a module's `store` option and `build_stores` to turn entries into stores."""

from __future__ import annotations

import re

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values

from ansible_collections.ksef.credentials.plugins.module_utils._stores._base import (
    Store,
    StoreConfigError,
    StoreConflictError,
    StoredValue,
    StoreError,
    TokenMeta,
    parse_reference_number,
)
from ansible_collections.ksef.credentials.plugins.module_utils._stores.aws_secretsmanager import AwsSecretsManagerStore
from ansible_collections.ksef.credentials.plugins.module_utils._stores.aws_ssm import AwsSsmStore
from ansible_collections.ksef.credentials.plugins.module_utils._stores.file import FileStore
from ansible_collections.ksef.credentials.plugins.module_utils._stores.hashicorp_vault import HashicorpVaultStore

STORE_TYPES: dict[str, type[Store]] = {
    cls.type_name: cls for cls in (FileStore, HashicorpVaultStore, AwsSecretsManagerStore, AwsSsmStore)
}

__all__ = [
    "STORE_ARGSPEC",
    "STORE_TYPES",
    "Store",
    "StoreConfigError",
    "StoreConflictError",
    "StoreError",
    "StoredValue",
    "TokenMeta",
    "build_stores",
    "parse_reference_number",
]


def _union_argspec() -> dict:
    """Suboptions of `store`: every type's options, none required and without defaults.

    Each entry is checked again against its own type's spec in build_stores, where requirements,
    defaults and choices apply; the union only has to accept the entry and mark secrets no_log.
    Choices stay on an option that a single store type owns, so the documentation can list them.
    """
    options: dict = {"type": {"type": "str", "required": True, "choices": sorted(STORE_TYPES)}}
    for cls in STORE_TYPES.values():
        for name, spec in cls.argument_spec.items():
            loose = {k: v for k, v in spec.items() if k in ("type", "elements", "no_log", "choices")}
            loose.setdefault("type", "str")
            known = options.get(name)
            if known is None:
                options[name] = loose
                continue
            known.pop("choices", None)  # shared by several types: each type checks its own choices
            if {known["type"], loose["type"]} == {"str", "path"}:
                known["type"] = "str"  # `path` of a file and of a Vault secret; each type converts its own
            elif known["type"] != loose["type"]:
                raise TypeError(f"store option {name!r} has conflicting types across store types")
            known["no_log"] = bool(known.get("no_log") or loose.get("no_log"))
    return options


STORE_ARGSPEC: dict = {"type": "list", "elements": "dict", "options": _union_argspec()}


def _option_in_message(message: str, names) -> str | None:
    for name in names:
        if re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", message):
            return name
    return None


def build_store(module, spec: dict, index: int) -> Store:
    """One validated store from one `store:` entry (options that are None count as not given)."""
    if not isinstance(spec, dict):
        raise StoreConfigError(f"store[{index}]", "must be a dictionary with at least a `type` key")
    given = {k: v for k, v in spec.items() if v is not None}
    type_name = given.pop("type", None)
    if type_name not in STORE_TYPES:
        raise StoreConfigError(f"store[{index}].type", f"must be one of: {', '.join(sorted(STORE_TYPES))}")
    cls = STORE_TYPES[type_name]
    unsupported = sorted(set(given) - set(cls.argument_spec))
    if unsupported:
        raise StoreConfigError(
            f"store[{index}].{unsupported[0]}",
            f"is not an option of store type {type_name}; its options are: {', '.join(sorted(cls.argument_spec))}",
        )
    result = ArgumentSpecValidator(cls.argument_spec).validate(given)
    secrets = set(result._no_log_values)
    module.no_log_values.update(secrets)
    if result.errors.errors:
        message = remove_values(result.errors.messages[0], secrets)
        option = _option_in_message(message, cls.argument_spec)
        where = f"store[{index}].{option}" if option else f"store[{index}]"
        raise StoreConfigError(where, message)
    store = cls(module, result.validated_parameters, index)
    store.validate()
    return store


def build_stores(module, specs: list[dict] | None) -> list[Store]:
    """Validate every entry of a token's `store:` list; StoreConfigError names `store[i].option`."""
    stores: list[Store] = []
    seen: dict[str, int] = {}
    for index, spec in enumerate(specs or []):
        store = build_store(module, spec, index)
        if store.label in seen:
            raise StoreConfigError(
                f"store[{index}]", f"points at the same place as store[{seen[store.label]}] ({store.label})"
            )
        seen[store.label] = index
        stores.append(store)
    return stores
