#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: permission_info
short_description: Inventory of the permission grants of one KSeF 2.0 context and what differs from the declared
version_added: 0.2.0
description:
  - Lists every permission row in force in the context (C(POST /permissions/query/persons/grants),
    C(PermissionsInCurrentContext), pages of 100), of people and entities, and the indirect grants made from here;
    the authorizations granted from here (C(POST /permissions/query/authorizations/grants), C(Granted)); and the
    subunit administrators and the EU entities' administrators granted from here
    (C(POST /permissions/query/subunits/grants), C(POST /permissions/query/eu-entities/grants)). The Owner
    holds every permission and is never listed.
  - In a NipVatUe context (O(context.nip_vat_ue)), where its administrator holds V(VatUeManage) and no other
    listing permission, only C(POST /permissions/query/eu-entities/grants), with the EU entity's administrators (the rows
    of a fingerprint that holds V(VatUeManage), granted by the company) and its representatives
    (V(eu_representative), every other row).
  - With O(declared) (the O(ksef.credentials.permissions#module:grants) of M(ksef.credentials.permissions)), judges
    the rows against them. Findings (RV(findings)) are V(undeclared_manager) (error; a row holding
    V(CredentialsManage) that no declaration keeps), V(missing), V(differs), V(undeclared) and V(inactive)
    (warnings), and V(system_authored) (info; a row granted by C(System), ZAW-FA or test data, which the collection
    never revokes).
  - When it logs in with a KSeF token (O(auth.ksef_token)), one more finding, V(token_auth_end), about that login,
    with the days left until the end of token authentication (O(token_auth_end)), or past it (info before, warning
    within 30 days, error once past; its C(reference_number) is the token's). See docs/migration.md.
  - Changes nothing.
author:
  - ksef.credentials maintainers (@ksef-credentials)
extends_documentation_fragment:
  - ksef.credentials.connection
  - ksef.credentials.auth
attributes:
  check_mode:
    support: full
    description: Reads only, in check mode too.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
options:
  declared:
    description:
      - The declared grants of this context, each with the options of an entry of
        O(ksef.credentials.permissions#module:grants). Without it, only V(inactive) and V(system_authored) are
        reported.
    type: list
    elements: dict
notes:
  - Listing needs V(CredentialsManage) or V(CredentialsRead).
seealso:
  - module: ksef.credentials.permissions
"""

EXAMPLES = r"""
- name: Who holds what in the company's context, and what nobody declared
  ksef.credentials.permission_info:
    context: {nip: "5265877635"}
    auth: {ksef_token: "{{ vault_ksef_auditor_token }}"}
    declared: "{{ ksef_grants }}"
  register: grants

# A task of its own fails the play with the error findings as its message (failed_when on the task above would
# say only "Action failed: Unknown error.").
- name: No grant finding is an error
  ansible.builtin.assert:
    that: grants.summary.errors == 0
    fail_msg: "{{ grants.findings | selectattr('severity', 'eq', 'error') | map(attribute='message') | join('; ') }}"
    quiet: true
"""

RETURN = r"""
kind:
  description:
    - The kind of credential this result lists (V(grant)), so M(ksef.credentials.audit_report) takes
      it in O(ksef.credentials.audit_report#module:scans) without being told.
  returned: always
  type: str
  sample: grant
grants:
  description:
    - One row per permission in force in the context.
    - C(reference) repeats C(permission_id) and C(since) repeats C(start_date), under the keys every info module's
      rows share. C(kind) here is the grant's kind (V(person), V(entity), ...).
  returned: always
  type: list
  elements: dict
  sample:
    - permission_id: 0d3f9a4e-5b61-4c1e-8f0a-3c2b1d0e9f8a
      reference: 0d3f9a4e-5b61-4c1e-8f0a-3c2b1d0e9f8a
      since: "2026-12-04T12:00:00+00:00"
      name: erp-operator
      managed: true
      declared: true
      kind: person
      permission: InvoiceRead
      subject: {pesel: "85011512342", first_name: Jan, last_name: Kowalski}
      description: ERP operator [ksef.credentials:erp-operator]
      can_delegate: false
      author: "Nip:5265877635"
      state: Active
      start_date: "2026-12-04T12:00:00+00:00"
      findings: []
findings:
  description:
    - Each finding with its kind, severity (V(error), V(warning) or V(info)), name, permission id
      (C(permission_id); C(reference_number) for the V(token_auth_end) finding), store and message.
    - C(reference) repeats the permission id (the token's reference number for V(token_auth_end)), under the key
      every info module's findings share.
  returned: always
  type: list
  elements: dict
  sample:
    - kind: undeclared_manager
      severity: error
      name: null
      permission_id: 0d3f9a4e-5b61-4c1e-8f0a-3c2b1d0e9f8a
      reference: 0d3f9a4e-5b61-4c1e-8f0a-3c2b1d0e9f8a
      store: null
      message: "Pesel:85011512342 holds CredentialsManage (granted by Nip:5265877635) and no declaration keeps it: it
        can manage every credential of the context"
declared:
  description:
    - Each declared grant (O(declared); empty without it) with C(name), C(state), C(references) (the permission ids
      of the rows in force that carry its name, the key every info module's declared view shares), C(grant_kind)
      and C(permissions).
  returned: always
  type: list
  elements: dict
  sample:
    - name: erp-operator
      state: present
      references: [0d3f9a4e-5b61-4c1e-8f0a-3c2b1d0e9f8a]
      grant_kind: person
      permissions: [InvoiceRead]
token_auth_end:
  description: The last day KSeF tokens authenticate, as this task was told (O(token_auth_end)).
  returned: always
  type: str
  sample: "2026-12-31"
summary:
  description:
    - Counts of rows (C(grants)), C(managed) ones, the findings per kind (C(findings)), all findings
      (C(findings_total)) and those of severity V(error) and V(warning) (C(errors), C(warnings)), as every info
      module counts them.
  returned: always
  type: dict
  sample: {"grants": 4, "managed": 3, "findings": {"undeclared_manager": 1, "system_authored": 1},
           "findings_total": 2, "errors": 1, "warnings": 0}
api_calls:
  description: Requests sent to KSeF in this run, per operation.
  returned: always
  type: dict
context:
  description: The context this task logged in to.
  returned: always
  type: dict
  sample: {type: Nip, value: "5265877635"}
api_url:
  description: The KSeF API base URL that was scanned.
  returned: always
  type: str
scanned_at:
  description: When the list was read (ISO 8601, UTC).
  returned: always
  type: str
"""

# First: the code below is compiled once and kept for the next runs (AnsiballZ imports it from a zip).
from ansible_collections.ksef.credentials.plugins.module_utils import _bytecode  # noqa: F401  # pylint: disable=unused-import

# isort: split
from ansible_collections.ksef.credentials.plugins.module_utils import _info
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_audit import GRANT_AUDIT


def main():
    _info.run(GRANT_AUDIT, {})


if __name__ == "__main__":
    main()
