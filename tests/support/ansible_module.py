"""A real AnsibleModule built in-process, with the collection's `store` argument spec."""
from __future__ import annotations

import json

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes


def make_module(stores: list[dict] | None = None, *, check_mode: bool = False, extra_spec: dict | None = None):
    """An AnsibleModule whose only option is `store` (STORE_ARGSPEC), validated by ansible itself."""
    from ansible_collections.ksef.credentials.plugins.module_utils._stores import STORE_ARGSPEC

    args = {"store": stores or [], "_ansible_check_mode": check_mode}
    # what AnsiballZ hands a module: the JSON args and the serialization profile
    saved_profile = basic._ANSIBLE_PROFILE
    basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    basic._ANSIBLE_PROFILE = "legacy"
    try:
        return basic.AnsibleModule(argument_spec={"store": STORE_ARGSPEC, **(extra_spec or {})},
                                   supports_check_mode=True)
    finally:
        basic._ANSIBLE_ARGS = None
        basic._ANSIBLE_PROFILE = saved_profile
