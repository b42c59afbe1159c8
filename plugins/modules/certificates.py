#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: certificates
short_description: Converge every declared KSeF certificate of one subject in one task
version_added: 0.2.0
description:
  - The list form of M(ksef.credentials.certificate), on the same engine. One login and one
    C(POST /certificates/query) plan every entry of O(certificates); enrollments are polled together.
  - Certificates belong to the subject the module logs in as. Run the task once per subject (one inventory host
    per company, each with its own O(auth)) to converge many subjects.
  - 'A live certificate of a declared name that none of its stores holds and that this controller did not enroll
    for this context (its journal of enrollments in E(KSEF_JOURNAL_DIR), else
    C(~/.ansible/ksef-credentials/journal)) belongs to another host that declares the same certificate with the
    same login: the run fails before any change, naming the certificate and its serial number, instead of revoking
    it, and O(exclusive=managed) leaves it alone. Declare a subject''s certificates on one host only (see
    C(docs/role-company.md)), or set C(force: true) on the entry when it is this host''s own (its stores were lost).'
  - O(exclusive=managed) also revokes the certificates this collection manages (named C(ksef-credentials ...))
    that are not declared. Certificates with other names are never touched.
  - Each certificate succeeds or fails alone; the task fails after the others are done if any failed.
author:
  - ksef.credentials maintainers (@ksef-credentials)
extends_documentation_fragment:
  - ksef.credentials.connection
  - ksef.credentials.auth
  - ksef.credentials.plan
  - ksef.credentials.store_template
attributes:
  check_mode:
    support: full
    description: Reports exactly what would change. Enrolls, revokes and writes nothing.
  diff_mode:
    support: full
    description: The certificates' metadata before and after, and the plan for people.
options:
  certificates:
    description:
      - The declared certificates, each with the options of M(ksef.credentials.certificate). Names are unique.
    type: list
    elements: dict
    required: true
    suboptions:
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
          - V(Authentication) logs in to KSeF (XAdES, key usage Digital Signature). V(Offline) signs the
            QR code II of offline invoices (key usage Non-Repudiation) and cannot log in.
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
          - 'Bits of the key: V(256) for V(ec), V(2048) for V(rsa), the only sizes KSeF takes. Defaults
            to the size of O(certificates[].key_type).'
        type: int
      state:
        description:
          - V(present) makes sure an Active certificate with this name and type exists, valid for longer
            than O(certificates[].renew_before), and that every store holds it with its key.
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
          - 'Enroll a successor now even though the current certificate is fine (a compromised key, a
            schedule). Not idempotent on purpose: every run with V(true) renews.'
        type: bool
        default: false
      valid_from:
        description:
          - When a new certificate becomes valid (ISO 8601, for example V(2027-01-01T00:00:00Z)); KSeF's
            C(validFrom). Not set means from its issue. It is the only part of the validity KSeF lets
            a request choose; C(validTo) is KSeF's.
          - A certificate valid only later cannot be proven by a login; its predecessor is kept until
            then.
        type: str
      revoke_previous_after:
        description:
          - Grace period before a renewed or replaced certificate is revoked, counted from the issue of
            its successor. V(0s) revokes it in the same run, after every store holds the successor.
        type: str
        default: 0s
      verify:
        description:
          - 'Prove a new V(Authentication) certificate by logging in with it (XAdES) before any store
            is written. An V(Offline) certificate is checked locally (key usage, key pair): it cannot
            log in.'
        type: bool
        default: true
      purge:
        description:
          - With O(certificates[].state=absent), remove the revoked certificate and its key from every
            store.
        type: bool
        default: true
      force:
        description:
          - 'With O(certificates[].state=absent), also revoke the certificate this run logs in with (C(auth.certificate)
            or C(auth.pkcs12)) and empty its stores. Without it such a run fails before any change, naming
            the certificate: revoking it would lock the run''s later tasks and every later run that logs
            in with it out. A name that C(exclusive: managed) would revoke is refused the same way; declare
            it to keep it.'
          - Also lets the run supersede or revoke a live certificate of this name that no store of this
            host holds and this controller did not enroll for this context (its stores were lost). Without
            it such a certificate is taken for another host's (the same certificate declared on two hosts)
            and the run fails before any change.
        type: bool
        default: false
      store:
        description:
          - 'Where the credential''s value is kept: a token''s value, or a certificate with its private
            key. Each entry has a O(certificates[].store[].type) and options of that type only; an option
            of another type is an error that names it, for example C(store[1].mode).'
          - No store puts the value into a label, a diff, a result, a warning or an error message.
          - See C(docs/stores.md) for each store's guarantees.
        type: list
        elements: dict
        default: []
        suboptions:
          type:
            description:
              - V(file) is a local file (raw, env, json or yaml; pem or pkcs12 for a certificate), optionally
                ansible-vault encrypted.
              - V(hashicorp_vault) is one key of a HashiCorp Vault KV version 2 secret, written with check-and-set.
              - V(aws_secretsmanager) is an AWS Secrets Manager secret (needs C(boto3)).
              - V(aws_ssm) is an AWS Systems Manager Parameter Store SecureString parameter (needs C(boto3)).
            type: str
            required: true
            choices:
              - aws_secretsmanager
              - aws_ssm
              - file
              - hashicorp_vault
          path:
            description:
              - V(file) - the file's path (required). Its directory must exist. A symlink is written through.
              - V(hashicorp_vault) - the secret's path inside O(certificates[].store[].mount) (required),
                for example C(ksef/erp).
            type: str
          format:
            description:
              - V(file) - V(raw) is the value alone and a newline. V(env) is a C(KEY=value) line. V(json)
                and V(yaml) keep the value under O(certificates[].store[].key) of a mapping. Other lines
                and keys of the file are kept (yaml comments are not).
              - 'For a certificate: V(pem) is the certificate followed by its unencrypted private key,
                usable as both C(auth.certificate) and C(auth.private_key); V(pkcs12) is a PKCS#12 file
                encrypted with O(certificates[].store[].passphrase), usable as C(auth.pkcs12). V(env)
                cannot keep a certificate (PEM spans lines).'
              - Defaults to V(raw).
            type: str
            choices:
              - raw
              - env
              - json
              - yaml
              - pem
              - pkcs12
          key:
            description:
              - V(file) - the variable or key for V(env) (default C(KSEF_TOKEN)), V(json) and V(yaml)
                (default C(token)).
              - V(hashicorp_vault) - the key inside the secret's data (default C(token)); other keys are
                kept.
              - V(aws_secretsmanager) - when set, the secret is a JSON object and the value goes under
                this key; other keys are kept. Not set means the whole secret string is the value.
            type: str
          mode:
            description:
              - V(file) - permissions of the file as a quoted octal string, for example V('0600') (the
                default) or V('0400'). An unquoted number is refused (YAML reads V(644) as decimal).
              - Unless O(certificates[].store[].allow_shared_mode=true), a mode with any bit for the group
                or others (V('0640'), V('0644')) is refused.
              - The file is written to a temp file created C(0600) in the same directory, synced, given
                this mode and renamed over the target, so readers never see half a file or a wider mode.
            type: raw
          allow_shared_mode:
            description:
              - V(file) - allow a O(certificates[].store[].mode) that lets the group or others read or
                change the file, for an account that must read the secret and cannot own the file. Defaults
                to V(false).
            type: bool
          owner:
            description:
              - V(file) - owner (name or uid) of the file.
            type: str
          group:
            description:
              - V(file) - group (name or gid) of the file.
            type: str
          backup:
            description:
              - V(file) - before replacing the file, keep a timestamped copy next to it (also C(0600)).
              - Defaults to V(false).
            type: bool
          vault_password_file:
            description:
              - V(file) - encrypt the whole file with ansible-vault using the password in this file (or
                printed by this script, as with C(ansible-vault --vault-password-file)). C(ansible-vault
                view) shows the content.
              - The file is decrypted in memory only. Needs ansible-core on the host that runs the module.
            type: path
          vault_id:
            description:
              - V(file) - the vault id the encrypted file is labelled with (C($ANSIBLE_VAULT;1.2;AES256;ID)).
            type: str
          passphrase:
            description:
              - V(file) with O(certificates[].store[].format=pkcs12) - the passphrase that encrypts the
                PKCS#12 file (required there, refused elsewhere). Pass it from a vault, never in clear
                text.
            type: str
          url:
            description:
              - V(hashicorp_vault) - Vault's (or OpenBao's) address, for example C(https://vault.example.com:8200).
              - Defaults to the E(VAULT_ADDR) or E(BAO_ADDR) environment variable.
              - Plain C(http://) is refused for any host but loopback unless O(certificates[].store[].allow_insecure_http=true).
            type: str
          namespace:
            description:
              - V(hashicorp_vault) - Vault Enterprise (or OpenBao) namespace, sent as C(X-Vault-Namespace).
              - Defaults to the E(VAULT_NAMESPACE) or E(BAO_NAMESPACE) environment variable.
            type: str
          mount:
            description:
              - 'V(hashicorp_vault) - the KV version 2 mount. Defaults to C(secret). The version is checked
                before the first read: a KV version 1 mount is refused.'
            type: str
          auth_method:
            description:
              - V(hashicorp_vault) - V(token) uses O(certificates[].store[].token), E(VAULT_TOKEN), E(BAO_TOKEN)
                or O(certificates[].store[].token_file).
              - V(approle) logs in with O(certificates[].store[].role_id) and O(certificates[].store[].secret_id);
                V(jwt) with the role O(certificates[].store[].role_id) and O(certificates[].store[].jwt);
                V(cert) with the TLS client certificate O(certificates[].store[].client_cert) and O(certificates[].store[].client_key)
                (and the role O(certificates[].store[].role_id), if given).
              - A token got by a login is revoked when the task ends.
              - Defaults to V(token).
            type: str
            choices:
              - token
              - approle
              - jwt
              - cert
          mount_point:
            description:
              - V(hashicorp_vault) - where the auth method is mounted, for example C(ksef-approle). Defaults
                to the method's name (C(approle), C(jwt), C(cert)).
            type: str
          token:
            description:
              - V(hashicorp_vault) - a Vault token. Defaults to the E(VAULT_TOKEN) or E(BAO_TOKEN) environment
                variable, then to O(certificates[].store[].token_file).
            type: str
          token_file:
            description:
              - V(hashicorp_vault) - a file holding the token, as C(vault login) and C(bao login) write
                it. Defaults to the E(KSEF_VAULT_TOKEN_FILE) environment variable (an AWX credential injects
                it), then to C(~/.vault-token), when no token is given otherwise.
            type: path
          role_id:
            description:
              - V(hashicorp_vault) - the AppRole role id; for V(jwt) and V(cert), the role name.
              - Defaults to the E(ANSIBLE_HASHI_VAULT_ROLE_ID) environment variable.
            type: str
          secret_id:
            description:
              - V(hashicorp_vault) - the AppRole secret id. Defaults to E(ANSIBLE_HASHI_VAULT_SECRET_ID).
            type: str
          jwt:
            description:
              - V(hashicorp_vault) - the JSON Web Token for V(jwt) login. Defaults to E(ANSIBLE_HASHI_VAULT_JWT).
            type: str
          client_cert:
            description:
              - V(hashicorp_vault) - the TLS client certificate (PEM) for V(cert) login. Defaults to E(VAULT_CLIENT_CERT)
                or E(BAO_CLIENT_CERT).
            type: path
          client_key:
            description:
              - V(hashicorp_vault) - the private key of O(certificates[].store[].client_cert) (PEM, a
                file). Defaults to E(VAULT_CLIENT_KEY) or E(BAO_CLIENT_KEY).
            type: path
          validate_certs:
            description:
              - V(hashicorp_vault) - verify Vault's TLS certificate. Defaults to V(true), or V(false)
                when E(VAULT_SKIP_VERIFY) or E(BAO_SKIP_VERIFY) is set.
            type: bool
          ca_path:
            description:
              - V(hashicorp_vault) - a CA bundle (or a directory of hashed certificates) to verify Vault's
                certificate with. Defaults to E(VAULT_CACERT), E(BAO_CACERT), E(VAULT_CAPATH) or E(BAO_CAPATH).
            type: path
          allow_insecure_http:
            description:
              - V(hashicorp_vault) - allow plain C(http://) to a host that is not loopback. The Vault
                token and the credential then cross the network unencrypted. Defaults to V(false).
            type: bool
          cas:
            description:
              - V(hashicorp_vault) - write with check-and-set (C(options.cas) = the version read just
                before; C(0) when the secret is absent), so a concurrent writer makes the task fail instead
                of being overwritten.
              - Defaults to V(true).
            type: bool
          timeout:
            description:
              - V(hashicorp_vault) - seconds to wait for Vault, from 1 to 600. Defaults to C(30).
            type: int
          name:
            description:
              - V(aws_secretsmanager) - the secret's name or ARN (required). Created when absent.
              - V(aws_ssm) - the parameter's name (required), for example C(/ksef/erp/token).
            type: str
          kms_key_id:
            description:
              - V(aws_secretsmanager) - KMS key for a secret the store creates.
            type: str
          recovery_window_days:
            description:
              - V(aws_secretsmanager) - days a removed secret stays recoverable (7 to 30), or C(0) to
                delete at once.
              - Defaults to C(30).
            type: int
          key_id:
            description:
              - V(aws_ssm) - KMS key of the SecureString parameter. AWS's default key when not set.
            type: str
          region:
            description:
              - V(aws_secretsmanager), V(aws_ssm) - AWS region. Defaults to E(AWS_REGION) or the profile's
                region.
            type: str
          endpoint_url:
            description:
              - V(aws_secretsmanager), V(aws_ssm) - a different endpoint, for example a VPC endpoint or
                a local test server. Used for STS as well (the credential check before any change).
            type: str
          profile:
            description:
              - V(aws_secretsmanager), V(aws_ssm) - a profile from the AWS configuration files. Credentials
                otherwise come from O(certificates[].store[].access_key) and O(certificates[].store[].secret_key),
                or boto3's usual chain (environment, instance role).
            type: str
          access_key:
            description:
              - V(aws_secretsmanager), V(aws_ssm) - AWS access key id. Defaults to boto3's chain (E(AWS_ACCESS_KEY_ID),
                the profile, an instance role).
            type: str
          secret_key:
            description:
              - V(aws_secretsmanager), V(aws_ssm) - AWS secret access key, with O(certificates[].store[].access_key).
            type: str
          session_token:
            description:
              - V(aws_secretsmanager), V(aws_ssm) - AWS session token of temporary credentials, with O(certificates[].store[].access_key).
            type: str
          aws_ca_bundle:
            description:
              - V(aws_secretsmanager), V(aws_ssm) - a CA bundle to verify the endpoint with. Defaults
                to E(AWS_CA_BUNDLE), then the system's.
            type: path
          tags:
            description:
              - V(aws_secretsmanager), V(aws_ssm) - tags for the secret or parameter.
            type: dict
      # END generated by scripts/schema.py
  exclusive:
    description:
      - V(false) touches only the declared names. V(managed) also revokes managed certificates that are not
        declared.
    type: str
    choices: ["false", "managed"]
    default: "false"
  wait_timeout:
    description:
      - Seconds to wait for KSeF to issue the requested certificates. From 1 to 3600.
    type: int
    default: 120
  lock_timeout:
    description:
      - Seconds to wait for another run on the same certificates (same context and names, same host). From 0 to 86400.
    type: int
    default: 300
seealso:
  - module: ksef.credentials.certificate
"""

EXAMPLES = r"""
- name: The subject's certificates, nothing else managed left behind
  ksef.credentials.certificates:
    context:
      nip: "{{ company_nip }}"
    auth:
      certificate: "{{ seal_certificate_path }}"
      private_key: "{{ seal_key_path }}"
    exclusive: managed
    certificates:
      - name: automation-login
        store:
          - {type: file, path: /etc/ksef/automation-login.pem, format: pem}
      - name: offline-qr
        certificate_type: Offline
        store:
          - {type: file, path: /srv/pos/offline-qr.p12, format: pkcs12, passphrase: "{{ vault_p12 }}"}
"""

RETURN = r"""
certificates:
  description: One entry per name (declared, or revoked because of O(exclusive)), shaped as the result of
    M(ksef.credentials.certificate), plus C(failed) and C(msg) for a certificate that failed.
  returned: always
  type: dict
  sample:
    automation-login:
      name: automation-login
      serial_number: 0321C82DA41B4362
      status: Active
      certificate_type: Authentication
      actions: [{action: keep, reason: "active Authentication certificate valid to ...", reference_number: 0321C82DA41B4362}]
plan:
  description: Every step of every plan as {name, action, reference_number, reason}.
  returned: always
  type: list
  elements: dict
plan_text:
  description: The plan for people, one line per change and a summary line.
  returned: always
  type: list
  elements: str
  sample: ["+ automation-login: create (no active certificate named 'automation-login')", "Plan: 1 to create."]
summary:
  description: Number of plan steps per action.
  returned: always
  type: dict
  sample: {keep: 1, create: 1}
revoked:
  description: The certificates revoked by this run, as {name, reference_number}.
  returned: always
  type: list
  elements: dict
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
"""

# First: the code below is compiled once and kept for the next runs (AnsiballZ imports it from a zip).
from ansible_collections.ksef.credentials.plugins.module_utils import _bytecode  # noqa: F401  # pylint: disable=unused-import
from ansible_collections.ksef.credentials.plugins.module_utils._engine import run_many
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate import CertificateKind
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate_schema import CERTIFICATE_OPTIONS
from ansible_collections.ksef.credentials.plugins.module_utils._module import KsefModule
from ansible_collections.ksef.credentials.plugins.module_utils._saved_plan import PLAN_ARGUMENT_SPEC


def main():
    kind = CertificateKind()
    module = KsefModule(
        argument_spec=dict(
            # Declarations, not secrets: store secrets are marked no_log in the store options.
            certificates=dict(type="list", elements="dict", required=True, options=CERTIFICATE_OPTIONS, no_log=False),
            exclusive=dict(type="str", choices=list(kind.exclusive_choices), default="false"),
            wait_timeout=dict(type="int", default=120),
            lock_timeout=dict(type="int", default=300),
            **PLAN_ARGUMENT_SPEC,
            store_template=dict(CERTIFICATE_OPTIONS["store"]),
        ),
        supports_check_mode=True,
    )
    run_many(module, kind)


if __name__ == "__main__":
    main()
