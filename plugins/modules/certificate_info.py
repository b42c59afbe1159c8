#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_info
short_description: List the KSeF certificates of the logged-in subject with their validity, stores and findings
version_added: 0.2.0
description:
  - Lists every KSeF certificate of the subject the module logs in as (Active, Blocked, Revoked, Expired) with its
    serial number, type, status, validity, days to expiry, last use, and whether this collection manages it.
  - With O(declared), reads each declared certificate's stores (which serial number each holds, never the key) and
    reports the findings - V(missing), V(revoked_stored) (a store holds a revoked, expired or unknown certificate),
    V(store_missing), V(expiring) (within C(renew_before)) and V(undeclared) (an Active managed certificate not
    declared). Without it, V(expiring) uses O(renew_before) for every managed certificate.
  - Read-only. One login and one paged C(POST /certificates/query); it enrolls, revokes and writes nothing. Any
    login may list its subject's certificates, a KSeF-token login included.
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
  declared:
    description:
      - The declared certificates of this subject, each with the options of M(ksef.credentials.certificate)
        (C(name), C(certificate_type), C(state), C(renew_before), C(store), ...). Options that only steer a run are
        ignored.
      - A declared certificate without stores of its own has those of O(store_template), as in
        M(ksef.credentials.certificates).
    type: list
    elements: dict
  renew_before:
    description:
      - Policy for V(expiring) of managed certificates that are not declared (a declared one's own
        C(renew_before) wins).
    type: str
    default: 30d
seealso:
  - module: ksef.credentials.certificate
  - module: ksef.credentials.audit_report
"""

EXAMPLES = r"""
- name: The subject's certificates, and what differs from the declared ones
  ksef.credentials.certificate_info:
    context:
      nip: "5265877635"
    auth:
      certificate: /etc/ksef/automation-login.pem
      private_key: /etc/ksef/automation-login.pem
    declared:
      - name: automation-login
        store:
          - {type: file, path: /etc/ksef/automation-login.pem, format: pem}
  register: certificates

# A separate assert, not failed_when on the scan: its message lists the errors.
- name: No certificate finding is an error
  ansible.builtin.assert:
    that: certificates.summary.errors == 0
    fail_msg: "{{ certificates.findings | selectattr('severity', 'eq', 'error') | map(attribute='message') | join('; ') }}"
    quiet: true
"""

RETURN = r"""
kind:
  description:
    - The kind of credential this result lists (V(certificate)), so M(ksef.credentials.audit_report) takes
      it in O(ksef.credentials.audit_report#module:scans) without being told.
  returned: always
  type: str
  sample: certificate
certificates:
  description:
    - One row per certificate of the subject, newest request first.
    - C(reference) repeats C(serial_number) and C(since) repeats C(requested), under the keys every info module's
      rows share.
  returned: always
  type: list
  elements: dict
  sample:
    - serial_number: 0321C82DA41B4362
      reference: 0321C82DA41B4362
      since: "2026-11-30T10:00:00+00:00"
      name: automation-login
      certificate_name: ksef-credentials automation-login
      managed: true
      declared: true
      certificate_type: Authentication
      status: Active
      subject: "Nip:5265877635"
      valid_from: "2026-11-30T10:00:00+00:00"
      valid_to: "2028-11-29T10:00:00+00:00"
      days_to_expiry: 729
      requested: "2026-11-30T10:00:00+00:00"
      last_used: "2026-12-01T07:00:03+00:00"
      stores: [file:/etc/ksef/automation-login.pem]
      findings: []
findings:
  description:
    - Each finding with its kind, severity (V(error) or V(warning)), name, serial number, store and message.
    - C(reference) repeats C(serial_number), under the key every info module's findings share.
  returned: always
  type: list
  elements: dict
  sample:
    - kind: revoked_stored
      severity: error
      name: automation-login
      serial_number: 0321C82DA41B4362
      reference: 0321C82DA41B4362
      store: file:/etc/ksef/automation-login.pem
      message: file:/etc/ksef/automation-login.pem holds certificate 0321C82DA41B4362, which is Revoked
declared:
  description:
    - Each declared certificate (O(declared); empty without it) with C(name), C(state), C(references) (the serial
      numbers of its Active certificates, the key every info module's declared view shares), C(certificate_type)
      and its stores (C(label), C(serial_number) it holds, C(holds_active)).
  returned: always
  type: list
  elements: dict
  sample:
    - name: automation-login
      state: present
      references: [0321C82DA41B4362]
      certificate_type: Authentication
      stores: [{label: "file:/etc/ksef/automation-login.pem", serial_number: 0321C82DA41B4362, holds_active: true}]
summary:
  description:
    - Counts of certificates (C(certificates)), C(managed) ones, the findings per kind (C(findings)), all findings
      (C(findings_total)) and those of severity V(error) and V(warning) (C(errors), C(warnings)), as every info
      module counts them; and C(active) certificates.
  returned: always
  type: dict
  sample:
    certificates: 3
    managed: 2
    findings: {missing: 0, revoked_stored: 1, store_missing: 0, expiring: 0, undeclared: 0}
    findings_total: 1
    errors: 1
    warnings: 0
    active: 1
scanned_at:
  description: When the list was taken (ISO 8601).
  returned: always
  type: str
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
token_auth_end:
  description: The last day KSeF tokens authenticate, as this task was told (O(token_auth_end)).
  returned: always
  type: str
  sample: "2026-12-31"
"""

# First: the code below is compiled once and kept for the next runs (AnsiballZ imports it from a zip).
from ansible_collections.ksef.credentials.plugins.module_utils import _bytecode  # noqa: F401  # pylint: disable=unused-import

# isort: split
from ansible_collections.ksef.credentials.plugins.module_utils import _info
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate_audit import CERTIFICATE_AUDIT


def main():
    _info.run(CERTIFICATE_AUDIT, dict(renew_before=dict(type="str", default="30d")))


if __name__ == "__main__":
    main()
