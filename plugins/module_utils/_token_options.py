# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options that declare one token: the same for ksef.credentials.token and each entry of
ksef.credentials.tokens, so the two modules cannot drift apart."""
from __future__ import annotations

from ansible_collections.ksef.credentials.plugins.module_utils._stores import STORE_ARGSPEC

TOKEN_OPTIONS = dict(
    name=dict(type="str", required=True),
    description=dict(type="str", default=""),
    permissions=dict(type="list", elements="str"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    store=dict(STORE_ARGSPEC, default=[]),
    rotate_after=dict(type="str"),
    rotate=dict(type="bool", default=False),
    revoke_previous_after=dict(type="str", default="0s"),
    verify=dict(type="bool", default=True),
    purge=dict(type="bool", default=False),
)
