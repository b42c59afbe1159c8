#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: token
short_description: Declare a KSeF 2.0 token; create, replace, rotate, store and revoke it idempotently
version_added: 0.1.0
description:
  - Makes a KSeF token with a stable O(name) exist (O(state=present)) with the declared O(permissions), its value
    held by every store in O(store), or makes sure no token with that name is left (O(state=absent)).
  - The name is written into the token's description as C([ksef.credentials:NAME]) after the human
    O(description), so the token is found again on the next run and after a rotation. Tokens without such a
    marker are never touched.
  - A token's permissions cannot be changed. Declaring other permissions creates a replacement token and
    revokes the old one.
  - A token's value is returned by KSeF once, at creation. This module writes it to the stores and reads each
    back, and never returns or logs it.
  - Rotation is all or nothing. A new token must be Active, must log in (O(verify)) and must be in every store
    before the previous one is revoked. If any step fails, the stores already written are restored, the new
    token is revoked and the previous token stays. See C(docs/rotation.md).
  - Two runs on the same token on one host are serialised by a lock file under C(~/.ansible/tmp/ksef-locks/).
  - Listing tokens needs V(CredentialsRead) or V(CredentialsManage). Creating and revoking needs
    V(CredentialsManage). A token can only get permissions its creator holds.
author:
  - ksef.credentials maintainers (@ksef-credentials)
extends_documentation_fragment:
  - ksef.credentials.connection
  - ksef.credentials.auth
  - ksef.credentials.plan
  - ksef.credentials.stores
attributes:
  check_mode:
    support: full
    description: Reports exactly what would change. Makes no POST or DELETE call and writes no store.
  diff_mode:
    support: full
    description: Shows the token's metadata before and after (never its value).
options:
  # BEGIN generated from plugins/module_utils/_kinds/token_schema.py by scripts/schema.py (make schema)
  name:
    description:
      - Stable identity of the token within the context. It must match C(^[a-z0-9][a-z0-9_.-]{0,62}$).
      - Recorded in the KSeF description as C([ksef.credentials:NAME]).
    type: str
    required: true
  description:
    description:
      - Human text shown in the KSeF web app before the name marker.
      - Together with the marker and one space it must fit the 256-character KSeF limit. This is checked
        before any API call.
      - A description cannot be changed on an existing token. A new text shows up when the token is next
        rotated or replaced. Until then the module warns.
    type: str
    default: ''
  permissions:
    description:
      - The token's permissions. Use the official names (V(InvoiceRead), V(InvoiceWrite), V(CredentialsRead),
        V(CredentialsManage), V(SubunitManage), V(EnforcementOperations), V(Introspection), V(CollectiveIdentifierManage))
        or snake_case (V(invoice_read)).
      - Required when O(state=present).
    type: list
    elements: str
  state:
    description:
      - V(present) makes sure an Active token with this name and these permissions exists and the stores
        hold it.
      - V(absent) revokes every Pending or Active token with this name. The token this run logged in with
        is kept unless the run allows it (C(force) of M(ksef.credentials.token), C(revoke_auth_token)
        of M(ksef.credentials.tokens)).
    type: str
    choices:
      - present
      - absent
    default: present
  rotate_after:
    description:
      - Rotate the current token once it is this old, for example V(90d), V(12h), V(30m), V(2w) or V(1d12h).
      - Not set means no rotation because of age.
    type: str
  rotate:
    description:
      - Issue a new token now even though the current one is fine. Use it for a compromised token or a
        scheduled rotation.
      - This is not idempotent on purpose. Every run with V(true) rotates.
    type: bool
    default: false
  revoke_previous_after:
    description:
      - Grace period before a replaced token is revoked, counted from the creation of its successor. Consumers
        that cached the old value keep working until then.
      - V(0s) revokes it in the same run, after every store holds the new value.
      - A token kept for a grace period is revoked by the first run after the period ends.
    type: str
    default: 0s
  verify:
    description:
      - Prove a new token by logging in with it (KSeF token authentication) before any store is written.
      - Each proof is one KSeF-token login and its session close (C(POST /auth/challenge), C(POST /auth/ksef-token),
        C(GET /auth/{referenceNumber}), C(POST /auth/token/redeem), C(DELETE /auth/sessions/current)).
        The close counts against 30 per minute per context, so set V(false) when issuing many tokens at
        once.
    type: bool
    default: true
  purge:
    description:
      - With O(state=absent), remove the revoked token's value from every store, with the history a store
        keeps of it (see C(docs/stores.md)). A value of a token that stays alive (the one this run logged
        in with, when it is not revoked) is kept.
      - Set V(false) to leave the stores as they are.
    type: bool
    default: true
  # END generated by scripts/schema.py
  wait_timeout:
    description:
      - Seconds to wait for a new token to become Active. Each poll is one C(GET /tokens) call. From 1 to 3600.
      - When the time runs out, or the token becomes Failed, the token is revoked and the task fails.
    type: int
    default: 120
  force:
    description:
      - With O(state=absent), also revoke the token this run logged in with (O(auth.ksef_token)).
    type: bool
    default: false
  lock_timeout:
    description:
      - Seconds to wait for another run on the same token (same context and name, same host) to finish.
        From 0 to 86400.
    type: int
    default: 300
notes:
  - The value is written to every O(store) and read back before a previous token is revoked. If a store lost the
    value and another store still holds it, the value is copied across. If no store holds the value of the current
    token, a new token is issued, because KSeF never returns a value twice.
  - Without stores, the value of a new token is not kept anywhere; the module warns when that happens.
  - The orphan rule covers a run that died after creating a token but before storing it. Such a token is newer
    than the current one and no store holds it. It is revoked by a later run once it is older than 10 minutes.
    A younger one is left alone, because it may belong to a rotation that is still running.
seealso:
  - name: KSeF tokens (official documentation)
    description: Token management in KSeF 2.0.
    link: https://github.com/CIRFMF/ksef-docs/blob/main/tokeny-ksef.md
"""

EXAMPLES = r"""
- name: ERP token that sends and reads invoices, kept in a root-only file
  ksef.credentials.token:
    api_url: "{{ ksef_api_url }}"
    context:
      nip: "5265877635"
    auth:
      ksef_token: "{{ ksef_manager_token }}"
    name: erp-sender
    description: ERP invoice sender (SAP PRD)
    permissions: [InvoiceWrite, InvoiceRead]
    store:
      - type: file
        path: /etc/erp/ksef.token
        owner: erp
        mode: "0600"

- name: Rotate every 90 days, keep the old token working for a day, env file for a systemd unit
  ksef.credentials.token:
    environment: prod
    context:
      nip: "5265877635"
    auth:
      certificate: /etc/ksef/seal.pem
      private_key: /etc/ksef/seal.key
      private_key_passphrase: "{{ vault_seal_passphrase }}"
    name: archiver
    description: Nightly invoice archive download
    permissions: [invoice_read]
    rotate_after: 90d
    revoke_previous_after: 1d
    store:
      - type: file
        path: /etc/archiver/ksef.env
        format: env
        key: KSEF_TOKEN
      - type: file
        path: /srv/backup/archiver-ksef.yml
        format: yaml
        vault_password_file: /etc/ansible/vault.pass

- name: Rotate now (for example after a leak)
  ksef.credentials.token:
    api_url: "{{ ksef_api_url }}"
    context: {nip: "5265877635"}
    auth: {ksef_token: "{{ ksef_manager_token }}"}
    name: erp-sender
    description: ERP invoice sender (SAP PRD)
    permissions: [InvoiceWrite, InvoiceRead]
    rotate: true
    store:
      - type: file
        path: /etc/erp/ksef.token

- name: Preview a permission change (no call mutates anything)
  ksef.credentials.token:
    api_url: "{{ ksef_api_url }}"
    context: {nip: "5265877635"}
    auth: {ksef_token: "{{ ksef_manager_token }}"}
    name: erp-sender
    permissions: [InvoiceRead]
    store:
      - type: file
        path: /etc/erp/ksef.token
  check_mode: true
  diff: true
  register: preview

- name: Decommission a token, remove its value too
  ksef.credentials.token:
    api_url: "{{ ksef_api_url }}"
    context: {internal_id: "5265877635-00001"}
    auth: {ksef_token: "{{ ksef_manager_token }}"}
    name: old-branch
    state: absent
    purge: true
    store:
      - type: file
        path: /etc/branch/ksef.token
"""

RETURN = r"""
name:
  description: The token's name.
  returned: always
  type: str
  sample: erp-sender
reference_number:
  description:
    - Reference number of the current token after the run. It is null in check mode when a token would be
      issued, and after O(state=absent).
  returned: always
  type: str
  sample: 20251010-EC-1DCE3E3000-12ECB5B36E-45
status:
  description: V(Active) or V(Pending) for the current token. V(absent) when no token with this name is left.
  returned: always
  type: str
  sample: Active
permissions:
  description: Permissions of the current token (official names).
  returned: always
  type: list
  elements: str
  sample: [InvoiceRead, InvoiceWrite]
description:
  description: Human text of the current token's description (without the name marker).
  returned: always
  type: str
  sample: ERP invoice sender (SAP PRD)
created:
  description: When the current token was created (ISO 8601).
  returned: always
  type: str
  sample: "2025-10-10T08:15:02.123456+00:00"
actions:
  description:
    - Every step of the plan, in order. Each has an action, a reason and the reference number it concerns.
    - Actions are V(create), V(replace), V(rotate), V(copy), V(revoke), V(purge) (these are changes), and
      V(keep), V(wait), V(retain) (these are reports).
    - For V(create), V(replace) and V(rotate), C(reference_number) is the new token and C(replaces) is the
      token it supersedes. In check mode the new token's reference number is null.
  returned: always
  type: list
  elements: dict
  sample:
    - action: rotate
      reason: age 91d reached rotate_after 90d
      reference_number: 20251010-EC-1DCE3E3000-12ECB5B36E-45
      replaces: 20250710-EC-220B0CE000-E228129563-96
    - action: revoke
      reason: superseded by the new token
      reference_number: 20250710-EC-220B0CE000-E228129563-96
stores:
  description: Each store's label and the reference number of the token it holds after the run.
  returned: always
  type: list
  elements: dict
  sample:
    - label: file:/etc/erp/ksef.token
      reference_number: 20251010-EC-1DCE3E3000-12ECB5B36E-45
declared:
  description: Always true here; the entry has the shape of one entry of RV(ksef.credentials.tokens#module:tokens).
  returned: always
  type: bool
  sample: true
adopted:
  description: Always null here (M(ksef.credentials.tokens) can adopt unmanaged tokens).
  returned: always
  type: str
  sample: null
moved:
  description: With O(apply_plan), when the saved plan no longer matches, what moved since it was made, one line
    each, naming the token it concerns. Nothing was changed.
  returned: failure of O(apply_plan)
  type: list
  elements: str
  sample: ["erp-sender: store file:/etc/erp/ksef.token held 20251010-EC-1A2B3C4D5E-F6A7B8C9D0-01, now nothing"]
api_calls:
  description: Requests sent to KSeF in this run, per operation.
  returned: always
  type: dict
  sample: {"GET /tokens": 1, "POST /auth/challenge": 1}
"""

# First: the code below is compiled once and kept for the next runs (AnsiballZ imports it from a zip).
from ansible_collections.ksef.credentials.plugins.module_utils import _bytecode  # noqa: F401  # pylint: disable=unused-import
from ansible_collections.ksef.credentials.plugins.module_utils._engine import run_one
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token import TOKEN
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token_schema import TOKEN_OPTIONS
from ansible_collections.ksef.credentials.plugins.module_utils._module import TOKENS_NOT_IN_NIP_VAT_UE, KsefModule
from ansible_collections.ksef.credentials.plugins.module_utils._saved_plan import PLAN_ARGUMENT_SPEC


def main():
    module = KsefModule(
        argument_spec=dict(
            TOKEN_OPTIONS,
            wait_timeout=dict(type="int", default=120),
            force=dict(type="bool", default=False),
            lock_timeout=dict(type="int", default=300),
            **PLAN_ARGUMENT_SPEC,
        ),
        required_if=[("state", "present", ("permissions",))],
        supports_check_mode=True,
    )
    module.refuse_context_type("NipVatUe", TOKENS_NOT_IN_NIP_VAT_UE)
    run_one(module, TOKEN, TOKEN_OPTIONS)


if __name__ == "__main__":
    main()
