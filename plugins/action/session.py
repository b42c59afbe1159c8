# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of ksef.credentials.session: hides a result that carries live session tokens.

A module cannot mark its own result no_log (Ansible drops `_ansible_no_log` from module returns), but an
action plugin can. When the module returns an access or refresh token, the result is marked
`_ansible_no_log`, so callbacks, `-v` output and logs show it censored even when the task forgot
`no_log: true`. The registered variable still holds the tokens for later tasks.
"""

from __future__ import annotations

from ansible_collections.ksef.credentials.plugins.plugin_utils._module_action import ModuleAction, load_module

# Result keys whose values are credentials.
SECRET_KEYS = ("access_token", "refresh_token")


class ActionModule(ModuleAction):
    """Runs the module as every KSeF module does (plugin_utils/_module_action.py), then hides a result with tokens."""

    MODULE = load_module("session")
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if any(result.get(key) for key in SECRET_KEYS):
            result["_ansible_no_log"] = True
        return result
