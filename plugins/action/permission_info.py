# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of ksef.credentials.permission_info: the module, run in the worker on the controller."""

from __future__ import annotations

from ansible_collections.ksef.credentials.plugins.plugin_utils._module_action import ModuleAction, load_module


class ActionModule(ModuleAction):
    MODULE = load_module("permission_info")
