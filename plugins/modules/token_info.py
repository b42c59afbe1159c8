#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: token_info
short_description: List the KSeF 2.0 tokens of a context with their age, last use and drift from the declared state
version_added: 0.1.0
description:
  - Lists the tokens of one KSeF context with their scopes, author, creation and last use, age, and whether they
    are due for rotation or unused for too long.
  - With O(declared), compares the declared tokens (the options of M(ksef.credentials.token), for example the
    C(ksef_tokens) list of the C(ksef.credentials.tokens) role) with KSeF and with what their stores hold, and
    returns the findings. See C(docs/audit.md).
  - Read-only. One authentication and one paged C(GET /tokens); it never creates, revokes or writes anything,
    so a token with only V(CredentialsRead) is enough.
  - Never returns a token value, only reference numbers. Stores of O(declared) are read to learn which token
    they hold; the value itself stays inside the module.
author:
  - ksef.credentials maintainers (@ksef-credentials)
extends_documentation_fragment:
  - ksef.credentials.connection
  - ksef.credentials.auth
  - ksef.credentials.store_template
attributes:
  check_mode:
    support: full
    description: The module never changes anything; it behaves the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
options:
  status:
    description:
      - Only tokens with one of these statuses. Not set means every status.
    type: list
    elements: str
    choices: [Pending, Active, Revoking, Revoked, Failed]
  name:
    description:
      - Only managed tokens with one of these names (the C([ksef.credentials:NAME]) marker).
    type: list
    elements: str
  description:
    description:
      - Only tokens whose full description contains this text (case-insensitive).
    type: str
  author:
    description:
      - Only tokens whose author identifier (NIP, PESEL or certificate fingerprint) contains this text.
    type: str
  author_type:
    description:
      - Only tokens whose author identifier is of this type.
    type: str
    choices: [Nip, Pesel, Fingerprint]
  managed:
    description:
      - V(true) lists only managed tokens (with a name marker), V(false) only the others. Not set lists both.
    type: bool
  rotate_after:
    description:
      - Policy age after which a token is due for rotation, for example V(90d). A declared token's own
        C(rotate_after) takes precedence.
    type: str
  unused_after:
    description:
      - A live token not used for this long is reported as unused, for example V(30d). A token never used
        counts from its creation.
    type: str
  declared:
    description:
      - The declared tokens of this context, each with the options of M(ksef.credentials.token) (C(name),
        C(permissions), C(state), C(rotate_after), C(store), ...). Options that only steer a run are ignored.
      - When set, RV(findings) compares them with every token of the context, whatever the filters.
      - A declared token without stores of its own has those of O(store_template), as in M(ksef.credentials.tokens),
        so the scan reads where the role keeps it.
    type: list
    elements: dict
notes:
  - Listing every token of a context needs V(CredentialsRead) or V(CredentialsManage). Without them KSeF lists
    only the login token itself (KSeF token login) or the tokens the caller created.
  - The KSeF-token login of this module updates the C(lastUseDate) of the token it logs in with.
seealso:
  - module: ksef.credentials.token
  - name: Audit guide
    description: Running an audit with read-only credentials and writing the reports.
    link: https://github.com/ksef-credentials/ksef.credentials/blob/main/docs/audit.md
"""

EXAMPLES = r"""
- name: Every live token of the company, flag those older than 90 days or unused for 30 days
  ksef.credentials.token_info:
    environment: prod
    context:
      nip: "5265877635"
    auth:
      ksef_token: "{{ auditor_token }}"   # a token with only CredentialsRead
    status: [Pending, Active]
    rotate_after: 90d
    unused_after: 30d
  register: inventory

- name: Tokens created by hand (no name marker)
  ksef.credentials.token_info:
    api_url: "{{ ksef_api_url }}"
    context: {nip: "5265877635"}
    auth: {ksef_token: "{{ auditor_token }}"}
    managed: false
    status: [Active]

- name: Drift of the declared tokens (the same list the tokens role applies)
  ksef.credentials.token_info:
    api_url: "{{ ksef_api_url }}"
    context: {nip: "5265877635"}
    auth: {ksef_token: "{{ auditor_token }}"}
    declared: "{{ ksef_tokens }}"
  register: drift

# A separate assert, not failed_when on the scan: its message lists what drifts (token_auth_end is always there as
# information, so only warnings and errors count).
- name: No declared token drifts
  ansible.builtin.assert:
    that: drift.findings | rejectattr('severity', 'eq', 'info') | list | length == 0
    fail_msg: "{{ drift.findings | rejectattr('severity', 'eq', 'info') | map(attribute='message') | join('; ') }}"
    quiet: true
"""

RETURN = r"""
kind:
  description:
    - The kind of credential this result lists (V(token)), so M(ksef.credentials.audit_report) takes
      it in O(ksef.credentials.audit_report#module:scans) without being told.
  returned: always
  type: str
  sample: token
tokens:
  description: The tokens that match the filters, newest first.
  returned: always
  type: list
  elements: dict
  contains:
    reference_number:
      description: "The token's reference number."
      type: str
      returned: always
    reference:
      description: "The same reference number, under the key every info module's rows share."
      type: str
      returned: always
    since:
      description: "The same time as C(created), under the key every info module's rows share."
      type: str
      returned: always
    name:
      description: "The managed name; null for an unmanaged token."
      type: str
      returned: always
    managed:
      description: "Whether the description carries a name marker."
      type: bool
      returned: always
    declared:
      description: "Whether O(declared) declares this token's name (state present)."
      type: bool
      returned: always
    description:
      description: "The human text of the description (without the marker)."
      type: str
      returned: always
    permissions:
      description: "Official permission names."
      type: list
      returned: always
      elements: str
    status:
      description: "V(Pending), V(Active), V(Revoking), V(Revoked) or V(Failed)."
      type: str
      returned: always
    author:
      description: "The author identifier, with C(type) (V(Nip), V(Pesel) or V(Fingerprint)) and C(value)."
      type: dict
      returned: always
    created:
      description: "Creation time (ISO 8601)."
      type: str
      returned: always
    last_used:
      description: "Last successful login with the token (ISO 8601); null when never used."
      type: str
      returned: always
    age_days:
      description: "Whole days since creation."
      type: int
      returned: always
    unused_days:
      description: "Whole days since the last use (since creation when never used)."
      type: int
      returned: always
    rotate_after:
      description: "The rotation age that applies (the declared one, else O(rotate_after)); null without one."
      type: str
      returned: always
    rotation_due:
      description: "Whether a live token is older than its rotate_after; null without one."
      type: bool
      returned: always
    unused:
      description: "Whether a live token is unused for O(unused_after); null without it."
      type: bool
      returned: always
    stores:
      description: "Labels of the declared stores that hold this token."
      type: list
      returned: always
      elements: str
    findings:
      description: "Kinds of the findings about this token."
      type: list
      returned: always
      elements: str
    token_auth_end:
      description:
        - "For a live token, the days left until the end of token authentication (O(token_auth_end)), or
          C(past the end of token authentication); null for a token that no longer authenticates."
      type: str
      returned: always
  sample:
    - reference_number: 20251010-EC-1DCE3E3000-12ECB5B36E-45
      reference: 20251010-EC-1DCE3E3000-12ECB5B36E-45
      since: "2025-10-10T08:15:02.123456+00:00"
      name: erp-sender
      managed: true
      declared: true
      description: ERP invoice sender
      permissions: [InvoiceRead, InvoiceWrite]
      status: Active
      author: {type: Nip, value: "5265877635"}
      created: "2025-10-10T08:15:02.123456+00:00"
      last_used: "2025-12-01T06:00:00+00:00"
      age_days: 95
      unused_days: 43
      rotate_after: 90d
      rotation_due: true
      unused: true
      stores: ["file:/etc/erp/ksef.token"]
      findings: [rotation_overdue, unused, token_auth_end]
      token_auth_end: 27 days left until the end of token authentication (2026-12-31)
findings:
  description:
    - Drift and policy findings, most serious first. Kinds are V(missing), V(scope_differs), V(store_missing),
      V(store_stale), V(rotation_overdue), V(extra_managed), V(unmanaged), V(unused) and V(token_auth_end).
    - Drift and policy findings need O(declared), O(rotate_after) or O(unused_after).
    - V(token_auth_end) is always there, one per live token and one for the token this task logged in with, with
      the days left until the end of token authentication; severity C(info), C(warning) within 30 days, C(error)
      once past.
    - Each has C(kind), C(severity), C(name), C(reference_number) (also as C(reference), the key every info
      module's findings share), C(store) and C(message).
  returned: always
  type: list
  elements: dict
  sample:
    - kind: store_stale
      severity: error
      name: erp-sender
      reference_number: 20251010-EC-1DCE3E3000-12ECB5B36E-45
      reference: 20251010-EC-1DCE3E3000-12ECB5B36E-45
      store: file:/etc/erp/ksef.token
      message: file:/etc/erp/ksef.token holds 20250710-EC-... (a revoked or unknown token), not the current token
declared:
  description:
    - Each declared token (O(declared); empty without it) with C(name), C(state), C(references) (its Pending and
      Active tokens, the key every info module's declared view shares), and the keys of RV(declared_tokens).
  returned: always
  type: list
  elements: dict
  sample:
    - name: erp-sender
      state: present
      references: [20251010-EC-1DCE3E3000-12ECB5B36E-45]
      permissions: [InvoiceRead, InvoiceWrite]
      rotate_after: 90d
      reference_number: 20251010-EC-1DCE3E3000-12ECB5B36E-45
      stores:
        - {label: "file:/etc/erp/ksef.token", reference_number: 20251010-EC-1DCE3E3000-12ECB5B36E-45, holds_current: true}
declared_tokens:
  description: Each declared token, its current token and what each of its stores holds (RV(declared) without
    C(references); see its sample).
  returned: always
  type: list
  elements: dict
summary:
  description:
    - Counts of the listed tokens (C(tokens)), C(managed) ones, the findings per kind (C(findings)), all findings
      (C(findings_total)) and those of severity V(error) and V(warning) (C(errors), C(warnings)), as every info
      module counts them; and C(live) and C(unmanaged) tokens.
  returned: always
  type: dict
  sample: {tokens: 3, managed: 2, findings: {missing: 0, unmanaged: 1}, findings_total: 1, errors: 0, warnings: 1,
           live: 3, unmanaged: 1}
context:
  description: The scanned context.
  returned: always
  type: dict
  sample: {type: Nip, value: "5265877635"}
api_url:
  description: The KSeF API base URL that was scanned.
  returned: always
  type: str
token_auth_end:
  description: The last day KSeF tokens authenticate, as this task was told (O(token_auth_end)).
  returned: always
  type: str
  sample: "2026-12-31"
scanned_at:
  description: When the list was read (ISO 8601, UTC).
  returned: always
  type: str
api_calls:
  description: Requests sent to KSeF, per operation.
  returned: always
  type: dict
  sample: {"GET /tokens": 1, "POST /auth/challenge": 1}
"""

# First: the code below is compiled once and kept for the next runs (AnsiballZ imports it from a zip).
from ansible_collections.ksef.credentials.plugins.module_utils import _bytecode  # noqa: F401  # pylint: disable=unused-import

# isort: split
from ansible_collections.ksef.credentials.plugins.module_utils import _info
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token_audit import TOKEN_AUDIT


def main():
    _info.run(
        TOKEN_AUDIT,
        dict(
            status=dict(type="list", elements="str", choices=["Pending", "Active", "Revoking", "Revoked", "Failed"]),
            name=dict(type="list", elements="str"),
            description=dict(type="str"),
            author=dict(type="str"),
            author_type=dict(type="str", choices=["Nip", "Pesel", "Fingerprint"]),
            managed=dict(type="bool"),
            rotate_after=dict(type="str"),
            unused_after=dict(type="str"),
        ),
    )


if __name__ == "__main__":
    main()
