#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: certificate
short_description: Declare a KSeF certificate; enroll, store, renew before expiry and revoke it idempotently
version_added: 0.2.0
description:
  - Makes a KSeF certificate with a stable O(name) exist (O(state=present)) with the declared O(certificate_type),
    its certificate and private key held by every store in O(store), or makes sure no certificate with that name is
    left (O(state=absent)).
  - A KSeF certificate belongs to the subject the module logs in as (the NIP, PESEL or fingerprint of the
    certificate in O(auth)), not to the O(context). Its subject data comes from that login certificate; KSeF refuses
    any other. The context only serves the login.
  - 'A live certificate of O(name) that no store in O(store) holds and that this controller did not enroll for this
    O(context) (its journal of enrollments in E(KSEF_JOURNAL_DIR), else C(~/.ansible/ksef-credentials/journal))
    belongs to another host that declares the same
    certificate with the same login: the run fails before any change, naming the certificate and its serial number,
    instead of revoking it. Declare a subject''s certificates on one host only (see C(docs/role-company.md)), or set
    O(force=true) when it is this host''s own (its stores were lost).'
  - KSeF enrolls certificates only for a session opened with a signature. A O(auth.ksef_token) login is refused
    before any request. A qualified certificate, or a KSeF Authentication certificate this module manages, works.
  - The private key is made on the host that runs the module and goes nowhere but the stores; KSeF gets a PKCS#10
    request (CSR) with the public key.
  - The name is kept in KSeF as the certificate's name, C(ksef-credentials NAME), so the certificate is found again
    on the next run. The stores recognise their value by the certificate's serial number.
  - Renewal makes before it breaks. The successor is enrolled, retrieved, proven by a login (O(verify)) and written
    to every store (and read back) before the previous certificate is revoked. If any step fails, the stores
    already written are restored and the new certificate is revoked.
  - Two runs on the same certificate on one host are serialised by a lock file under C(~/.ansible/tmp/ksef-locks/).
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
    description: Reports exactly what would change. Enrolls, revokes and writes nothing.
  diff_mode:
    support: full
    description: Shows the certificate's metadata before and after (never its key).
options:
  # BEGIN generated from plugins/module_utils/_kinds/certificate_schema.py by scripts/schema.py (make schema)
  name:
    description:
      - Stable identity of the certificate among the subject's certificates. It must match C(^[a-z0-9][a-z0-9_-]{0,62}$)
        (KSeF allows no dot in a certificate name).
      - KSeF keeps it as the certificate's name, C(ksef-credentials NAME), which the MCU shows.
    type: str
    required: true
  certificate_type:
    description:
      - V(Authentication) logs in to KSeF (XAdES, key usage Digital Signature). V(Offline) signs the QR
        code II of offline invoices (key usage Non-Repudiation) and cannot log in.
      - 'A certificate has one type for life: declaring the other type enrolls a replacement and revokes
        the old certificate.'
    type: str
    choices:
      - Authentication
      - Offline
    default: Authentication
  key_type:
    description:
      - 'The private key made on the host that runs the module: V(ec) (NIST P-256, what KSeF recommends)
        or V(rsa). The key never leaves that host except into the stores; KSeF gets the CSR only.'
    type: str
    choices:
      - ec
      - rsa
    default: ec
  key_size:
    description:
      - 'Bits of the key: V(256) for V(ec), V(2048) for V(rsa), the only sizes KSeF takes. Defaults to
        the size of O(key_type).'
    type: int
  state:
    description:
      - V(present) makes sure an Active certificate with this name and type exists, valid for longer than
        O(renew_before), and that every store holds it with its key.
      - V(absent) revokes every Active certificate with this name.
    type: str
    choices:
      - present
      - absent
    default: present
  renew_before:
    description:
      - Renew the certificate once its end of validity (C(validTo)) is this close, for example V(30d),
        V(2w) or V(12h). KSeF decides how long a certificate is valid.
    type: str
    default: 30d
  renew:
    description:
      - 'Enroll a successor now even though the current certificate is fine (a compromised key, a schedule).
        Not idempotent on purpose: every run with V(true) renews.'
    type: bool
    default: false
  valid_from:
    description:
      - When a new certificate becomes valid (ISO 8601, for example V(2027-01-01T00:00:00Z)); KSeF's C(validFrom).
        Not set means from its issue. It is the only part of the validity KSeF lets a request choose;
        C(validTo) is KSeF's.
      - A certificate valid only later cannot be proven by a login; its predecessor is kept until then.
    type: str
  revoke_previous_after:
    description:
      - Grace period before a renewed or replaced certificate is revoked, counted from the issue of its
        successor. V(0s) revokes it in the same run, after every store holds the successor.
    type: str
    default: 0s
  verify:
    description:
      - 'Prove a new V(Authentication) certificate by logging in with it (XAdES) before any store is written.
        An V(Offline) certificate is checked locally (key usage, key pair): it cannot log in.'
    type: bool
    default: true
  purge:
    description:
      - With O(state=absent), remove the revoked certificate and its key from every store.
    type: bool
    default: true
  force:
    description:
      - 'With O(state=absent), also revoke the certificate this run logs in with (C(auth.certificate)
        or C(auth.pkcs12)) and empty its stores. Without it such a run fails before any change, naming
        the certificate: revoking it would lock the run''s later tasks and every later run that logs in
        with it out. A name that C(exclusive: managed) would revoke is refused the same way; declare it
        to keep it.'
      - Also lets the run supersede or revoke a live certificate of this name that no store of this host
        holds and this controller did not enroll for this context (its stores were lost). Without it such
        a certificate is taken for another host's (the same certificate declared on two hosts) and the
        run fails before any change.
    type: bool
    default: false
  # END generated by scripts/schema.py
  wait_timeout:
    description:
      - Seconds to wait for KSeF to issue a requested certificate. Each poll is one
        C(GET /certificates/enrollments/{referenceNumber}) call. From 1 to 3600.
    type: int
    default: 120
  lock_timeout:
    description:
      - Seconds to wait for another run on the same certificate (same context and name, same host) to finish.
        From 0 to 86400.
    type: int
    default: 300
notes:
  - The calls of a run with nothing to change are one login and one C(POST /certificates/query). Enrolling adds
    C(GET /certificates/enrollments/data), C(POST /certificates/enrollments), the status polls, one
    C(POST /certificates/retrieve) and one C(POST /certificates/query), and the proving login.
  - KSeF limits the certificates a subject may hold and request (for a NIP 100 active and 300 requests; for a PESEL
    or a fingerprint 6 and 12). Renewing with O(revoke_previous_after) keeps two certificates alive for a while.
  - See C(docs/certificates.md) for the bootstrap from a qualified certificate to a managed KSeF certificate.
seealso:
  - name: KSeF certificates (official documentation)
    description: Enrollment, retrieval and revocation of KSeF certificates.
    link: https://github.com/CIRFMF/ksef-docs/blob/main/certyfikaty-KSeF.md
  - module: ksef.credentials.certificates
"""

EXAMPLES = r"""
- name: A KSeF login certificate for automation, renewed 30 days before it expires
  ksef.credentials.certificate:
    api_url: "{{ ksef_api_url }}"
    context:
      nip: "5265877635"
    auth:
      certificate: /etc/ksef/seal.pem
      private_key: /etc/ksef/seal.key
      private_key_passphrase: "{{ vault_seal_passphrase }}"
    name: automation-login
    certificate_type: Authentication
    renew_before: 30d
    store:
      - type: file
        path: /etc/ksef/automation-login.pem
        format: pem

- name: From now on, log in with the managed certificate itself (it can renew itself)
  ksef.credentials.token:
    api_url: "{{ ksef_api_url }}"
    context:
      nip: "5265877635"
    auth:
      certificate: /etc/ksef/automation-login.pem
      private_key: /etc/ksef/automation-login.pem
    name: erp-sender
    permissions: [InvoiceWrite]
    store:
      - type: file
        path: /etc/erp/ksef.token

- name: An offline-invoicing certificate as PKCS#12 and in Vault, the old one kept for a day after renewal
  ksef.credentials.certificate:
    context:
      nip: "5265877635"
    auth:
      pkcs12: /etc/ksef/seal.p12
      pkcs12_passphrase: "{{ vault_seal_p12 }}"
    name: offline-qr
    certificate_type: Offline
    key_type: rsa
    revoke_previous_after: 1d
    store:
      - type: file
        path: /srv/pos/offline-qr.p12
        format: pkcs12
        passphrase: "{{ vault_offline_p12_passphrase }}"
      - type: hashicorp_vault
        url: https://vault.example.com:8200
        path: ksef/offline-qr
        key: bundle

- name: Revoke it and remove it from the stores
  ksef.credentials.certificate:
    context:
      nip: "5265877635"
    auth:
      certificate: /etc/ksef/seal.pem
      private_key: /etc/ksef/seal.key
    name: offline-qr
    state: absent
    store:
      - type: file
        path: /srv/pos/offline-qr.p12
        format: pkcs12
        passphrase: "{{ vault_offline_p12_passphrase }}"
"""

RETURN = r"""
name:
  description: The certificate's name.
  returned: always
  type: str
  sample: automation-login
reference_number:
  description:
    - Serial number of the current certificate after the run (the same as RV(serial_number)). Null in check mode
      when a certificate would be enrolled, and after O(state=absent).
  returned: always
  type: str
  sample: 0321C82DA41B4362
serial_number:
  description: Serial number of the current certificate (16 hexadecimal digits).
  returned: always
  type: str
  sample: 0321C82DA41B4362
status:
  description: V(Active) for the current certificate; V(absent) when no certificate with this name is left.
  returned: always
  type: str
  sample: Active
certificate_type:
  description: V(Authentication) or V(Offline).
  returned: always
  type: str
  sample: Authentication
valid_from:
  description: Start of the current certificate's validity (ISO 8601).
  returned: always
  type: str
  sample: "2026-11-30T10:00:00+00:00"
valid_to:
  description: End of the current certificate's validity (ISO 8601); renewal starts O(renew_before) earlier.
  returned: always
  type: str
  sample: "2028-11-29T10:00:00+00:00"
created:
  description: When the current certificate was requested (ISO 8601).
  returned: always
  type: str
  sample: "2026-11-30T10:00:00+00:00"
actions:
  description:
    - Every step of the plan, in order, each with an action, a reason and the serial number it concerns.
    - Actions are V(create), V(renew), V(replace), V(copy), V(revoke), V(purge) (changes), V(keep) and V(retain)
      (reports). For V(create), V(renew) and V(replace), C(replaces) is the certificate superseded.
  returned: always
  type: list
  elements: dict
  sample:
    - action: renew
      reason: valid to 2026-12-20T10:00:00+00:00, 20d left, within renew_before 30d
      reference_number: 0321F21DA462A362
      replaces: 0321C82DA41B4362
    - action: revoke
      reason: superseded by the new certificate
      reference_number: 0321C82DA41B4362
stores:
  description: Each store's label and the serial number of the certificate it holds after the run.
  returned: always
  type: list
  elements: dict
  sample:
    - label: file:/etc/ksef/automation-login.pem
      reference_number: 0321F21DA462A362
declared:
  description: Always true here; the entry has the shape of one entry of RV(ksef.credentials.certificates#module:certificates).
  returned: always
  type: bool
  sample: true
adopted:
  description: Always null (certificates are not adopted).
  returned: always
  type: str
  sample: null
moved:
  description: With O(apply_plan), when the saved plan no longer matches, what moved since it was made, one line
    each, naming the certificate it concerns. Nothing was changed.
  returned: failure of O(apply_plan)
  type: list
  elements: str
  sample: ["erp-sender: store file:/etc/erp/ksef.token held 20251010-EC-1A2B3C4D5E-F6A7B8C9D0-01, now nothing"]
api_calls:
  description: Requests sent to KSeF in this run, per operation.
  returned: always
  type: dict
  sample: {"POST /certificates/query": 1, "POST /auth/challenge": 1}
"""

# First: the code below is compiled once and kept for the next runs (AnsiballZ imports it from a zip).
from ansible_collections.ksef.credentials.plugins.module_utils import _bytecode  # noqa: F401  # pylint: disable=unused-import
from ansible_collections.ksef.credentials.plugins.module_utils._engine import run_one
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate import CertificateKind
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate_schema import CERTIFICATE_OPTIONS
from ansible_collections.ksef.credentials.plugins.module_utils._module import KsefModule
from ansible_collections.ksef.credentials.plugins.module_utils._saved_plan import PLAN_ARGUMENT_SPEC


def main():
    module = KsefModule(
        argument_spec=dict(
            CERTIFICATE_OPTIONS,
            wait_timeout=dict(type="int", default=120),
            lock_timeout=dict(type="int", default=300),
            **PLAN_ARGUMENT_SPEC,
        ),
        supports_check_mode=True,
    )
    run_one(module, CertificateKind(), CERTIFICATE_OPTIONS)


if __name__ == "__main__":
    main()
