# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one source of a declared token's options: ksef.credentials.token (top level), each entry of
ksef.credentials.tokens and of the role's `ksef_tokens`.

`TOKEN_SCHEMA` is in the form of module documentation (description, type, default, choices, ...); the argument
spec `TOKEN_OPTIONS` is derived from it here. `scripts/schema.py` writes the documentation into the modules and
the role's argument_specs; tests/unit/plugins/module_utils/kinds/test_token_schema.py checks every copy field by
field. `O(@...)` is a reference to an option of the same entry; the generator puts the entry's path in front.
"""

from __future__ import annotations

from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import STORE_ARGSPEC
from ansible_collections.ksef.credentials.plugins.module_utils._stores._schema import STORE_SCHEMA

TOKEN_SCHEMA = {
    "name": {
        "description": [
            "Stable identity of the token within the context. It must match C(^[a-z0-9][a-z0-9_.-]{0,62}$).",
            "Recorded in the KSeF description as C([ksef.credentials:NAME]).",
        ],
        "type": "str",
        "required": True,
    },
    "description": {
        "description": [
            "Human text shown in the KSeF web app before the name marker.",
            "Together with the marker and one space it must fit the 256-character KSeF limit. This is checked"
            " before any API call.",
            "A description cannot be changed on an existing token. A new text shows up when the token is next"
            " rotated or replaced. Until then the module warns.",
        ],
        "type": "str",
        "default": "",
    },
    "permissions": {
        "description": [
            "The token's permissions. Use the official names (V(InvoiceRead), V(InvoiceWrite), "
            "V(CredentialsRead), V(CredentialsManage), V(SubunitManage), V(EnforcementOperations), "
            "V(Introspection), V(CollectiveIdentifierManage)) or snake_case (V(invoice_read)).",
            "Required when O(@state=present).",
        ],
        "type": "list",
        "elements": "str",
    },
    "state": {
        "description": [
            "V(present) makes sure an Active token with this name and these permissions exists and the stores hold it.",
            "V(absent) revokes every Pending or Active token with this name. The token this run logged in "
            "with is kept unless the run allows it (C(force) of M(ksef.credentials.token), C(revoke_auth_token) "
            "of M(ksef.credentials.tokens)).",
        ],
        "type": "str",
        "choices": ["present", "absent"],
        "default": "present",
    },
    "rotate_after": {
        "description": [
            "Rotate the current token once it is this old, for example V(90d), V(12h), V(30m), V(2w) or V(1d12h).",
            "Not set means no rotation because of age.",
        ],
        "type": "str",
    },
    "rotate": {
        "description": [
            "Issue a new token now even though the current one is fine. Use it for a compromised token or a "
            "scheduled rotation.",
            "This is not idempotent on purpose. Every run with V(true) rotates.",
        ],
        "type": "bool",
        "default": False,
    },
    "revoke_previous_after": {
        "description": [
            "Grace period before a replaced token is revoked, counted from the creation of its successor. "
            "Consumers that cached the old value keep working until then.",
            "V(0s) revokes it in the same run, after every store holds the new value.",
            "A token kept for a grace period is revoked by the first run after the period ends.",
        ],
        "type": "str",
        "default": "0s",
    },
    "verify": {
        "description": [
            "Prove a new token by logging in with it (KSeF token authentication) before any store is written.",
            "Each proof is one KSeF-token login and its session close (C(POST /auth/challenge), "
            "C(POST /auth/ksef-token), C(GET /auth/{referenceNumber}), C(POST /auth/token/redeem), "
            "C(DELETE /auth/sessions/current)). The close counts against 30 per minute per context, so set "
            "V(false) when issuing many tokens at once.",
        ],
        "type": "bool",
        "default": True,
    },
    "purge": {
        "description": [
            "With O(@state=absent), remove the revoked token's value from every store, with the history a store "
            "keeps of it (see C(docs/stores.md)). A value of a token that stays alive (the one this run logged in "
            "with, when it is not revoked) is kept.",
            "Set V(false) to leave the stores as they are.",
        ],
        "type": "bool",
        "default": True,
    },
    "store": STORE_SCHEMA,
}

# Keys of the documentation that are also keys of an argument spec.
_SPEC_KEYS = ("type", "required", "default", "choices", "elements", "no_log")


def argument_spec(schema: dict) -> dict:
    """An argument spec from options in documentation form; `store` takes the store types' own spec."""
    spec = {}
    for name, doc in schema.items():
        if name == "store":
            spec[name] = dict(STORE_ARGSPEC, default=[])
            continue
        spec[name] = {key: doc[key] for key in _SPEC_KEYS if key in doc}
    return spec


TOKEN_OPTIONS = argument_spec(TOKEN_SCHEMA)
