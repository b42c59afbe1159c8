"""A real AnsibleModule built in-process, with the collection's `store` argument spec."""
from __future__ import annotations

import contextlib
import json

from ansible.module_utils import basic

try:  # ansible-core 2.19 and later: the public helper hands a module its arguments as AnsiballZ would
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core 2.16 to 2.18 read them from basic._ANSIBLE_ARGS
    @contextlib.contextmanager
    def patch_module_args(args: dict):
        previous = basic._ANSIBLE_ARGS  # pylint: disable=protected-access
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()  # pylint: disable=protected-access
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = previous  # pylint: disable=protected-access


def make_module(stores: list[dict] | None = None, *, check_mode: bool = False, extra_spec: dict | None = None):
    """An AnsibleModule whose only option is `store` (STORE_ARGSPEC), validated by ansible itself."""
    from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import STORE_ARGSPEC

    with patch_module_args({"store": stores or [], "_ansible_check_mode": check_mode}):
        return basic.AnsibleModule(argument_spec={"store": STORE_ARGSPEC, **(extra_spec or {})},
                                   supports_check_mode=True)
