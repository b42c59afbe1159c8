"""A real AnsibleModule built in-process, with the collection's `store` argument spec."""
from __future__ import annotations

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


def make_module(stores: list[dict] | None = None, *, check_mode: bool = False, extra_spec: dict | None = None):
    """An AnsibleModule whose only option is `store` (STORE_ARGSPEC), validated by ansible itself."""
    from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import STORE_ARGSPEC

    # ansible-core's public helper hands the module its arguments as AnsiballZ would
    with patch_module_args({"store": stores or [], "_ansible_check_mode": check_mode}):
        return basic.AnsibleModule(argument_spec={"store": STORE_ARGSPEC, **(extra_spec or {})},
                                   supports_check_mode=True)
