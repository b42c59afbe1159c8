#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: tokens
short_description: Declare every KSeF 2.0 token of one context in one call; converge them with few API calls
version_added: 0.2.0
description:
  - Brings the tokens of one KSeF context (a NIP or an InternalId) to the declared set in O(tokens), like
    M(ksef.credentials.token) does for one token, with one login and one paged C(GET /tokens) for the whole set.
  - Every entry of O(tokens) takes the options of M(ksef.credentials.token) and is planned by the same planner
    (create, replace, rotate, copy, revoke, keep, retain, wait). A token is recognised by the name marker
    C([ksef.credentials:NAME]) at the end of its description.
  - Apply makes every C(POST /tokens) first, then waits for all pending tokens of the context together (one
    C(GET /tokens) per poll), then, per token, logs in with the new token (O(tokens[].verify)), writes its stores
    and only then revokes what it supersedes. Each token is all or nothing as in M(ksef.credentials.token); a
    failing token never undoes another one. The task fails after the rest is done if any token failed.
  - O(exclusive) also revokes tokens that are not declared. O(adopt) takes over unmanaged tokens whose value is
    already in a store. See C(docs/tokens.md).
  - A run that changes nothing costs one login and ceil(T/100) C(GET /tokens) calls for T managed tokens.
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
    description: Returns the plan. Makes no POST or DELETE call and writes no store.
  diff_mode:
    support: full
    description: Shows the metadata of every token that changes, before and after (never a value).
options:
  tokens:
    description:
      - The declared tokens of the context. Names must be unique; a name declared twice fails before any API call.
      - Options are those of M(ksef.credentials.token); errors name the entry, for example C(tokens[3].name).
    type: list
    elements: dict
    required: true
    suboptions:
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
          - A description cannot be changed on an existing token. A new text shows up when the token is
            next rotated or replaced. Until then the module warns.
        type: str
        default: ''
      permissions:
        description:
          - The token's permissions. Use the official names (V(InvoiceRead), V(InvoiceWrite), V(CredentialsRead),
            V(CredentialsManage), V(SubunitManage), V(EnforcementOperations), V(Introspection), V(CollectiveIdentifierManage))
            or snake_case (V(invoice_read)).
          - Required when O(tokens[].state=present).
        type: list
        elements: str
      state:
        description:
          - V(present) makes sure an Active token with this name and these permissions exists and the
            stores hold it.
          - V(absent) revokes every Pending or Active token with this name. The token this run logged
            in with is kept unless the run allows it (C(force) of M(ksef.credentials.token), C(revoke_auth_token)
            of M(ksef.credentials.tokens)).
        type: str
        choices:
          - present
          - absent
        default: present
      rotate_after:
        description:
          - Rotate the current token once it is this old, for example V(90d), V(12h), V(30m), V(2w) or
            V(1d12h).
          - Not set means no rotation because of age.
        type: str
      rotate:
        description:
          - Issue a new token now even though the current one is fine. Use it for a compromised token
            or a scheduled rotation.
          - This is not idempotent on purpose. Every run with V(true) rotates.
        type: bool
        default: false
      revoke_previous_after:
        description:
          - Grace period before a replaced token is revoked, counted from the creation of its successor.
            Consumers that cached the old value keep working until then.
          - V(0s) revokes it in the same run, after every store holds the new value.
          - A token kept for a grace period is revoked by the first run after the period ends.
        type: str
        default: 0s
      verify:
        description:
          - Prove a new token by logging in with it (KSeF token authentication) before any store is written.
          - Each proof is one KSeF-token login and its session close (C(POST /auth/challenge), C(POST
            /auth/ksef-token), C(GET /auth/{referenceNumber}), C(POST /auth/token/redeem), C(DELETE /auth/sessions/current)).
            The close counts against 30 per minute per context, so set V(false) when issuing many tokens
            at once.
        type: bool
        default: true
      purge:
        description:
          - With O(tokens[].state=absent), remove the revoked token's value from every store, with the
            history a store keeps of it (see C(docs/stores.md)). A value of a token that stays alive (the
            one this run logged in with, when it is not revoked) is kept.
          - Set V(false) to leave the stores as they are.
        type: bool
        default: true
      store:
        description:
          - 'Where the credential''s value is kept: a token''s value, or a certificate with its private
            key. Each entry has a O(tokens[].store[].type) and options of that type only; an option of
            another type is an error that names it, for example C(store[1].mode).'
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
              - V(hashicorp_vault) - the secret's path inside O(tokens[].store[].mount) (required), for
                example C(ksef/erp).
            type: str
          format:
            description:
              - V(file) - V(raw) is the value alone and a newline. V(env) is a C(KEY=value) line. V(json)
                and V(yaml) keep the value under O(tokens[].store[].key) of a mapping. Other lines and
                keys of the file are kept (yaml comments are not).
              - 'For a certificate: V(pem) is the certificate followed by its unencrypted private key,
                usable as both C(auth.certificate) and C(auth.private_key); V(pkcs12) is a PKCS#12 file
                encrypted with O(tokens[].store[].passphrase), usable as C(auth.pkcs12). V(env) cannot
                keep a certificate (PEM spans lines).'
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
              - Unless O(tokens[].store[].allow_shared_mode=true), a mode with any bit for the group or
                others (V('0640'), V('0644')) is refused.
              - The file is written to a temp file created C(0600) in the same directory, synced, given
                this mode and renamed over the target, so readers never see half a file or a wider mode.
            type: raw
          allow_shared_mode:
            description:
              - V(file) - allow a O(tokens[].store[].mode) that lets the group or others read or change
                the file, for an account that must read the secret and cannot own the file. Defaults to
                V(false).
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
              - V(file) with O(tokens[].store[].format=pkcs12) - the passphrase that encrypts the PKCS#12
                file (required there, refused elsewhere). Pass it from a vault, never in clear text.
            type: str
          url:
            description:
              - V(hashicorp_vault) - Vault's (or OpenBao's) address, for example C(https://vault.example.com:8200).
              - Defaults to the E(VAULT_ADDR) or E(BAO_ADDR) environment variable.
              - Plain C(http://) is refused for any host but loopback unless O(tokens[].store[].allow_insecure_http=true).
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
              - V(hashicorp_vault) - V(token) uses O(tokens[].store[].token), E(VAULT_TOKEN), E(BAO_TOKEN)
                or O(tokens[].store[].token_file).
              - V(approle) logs in with O(tokens[].store[].role_id) and O(tokens[].store[].secret_id);
                V(jwt) with the role O(tokens[].store[].role_id) and O(tokens[].store[].jwt); V(cert)
                with the TLS client certificate O(tokens[].store[].client_cert) and O(tokens[].store[].client_key)
                (and the role O(tokens[].store[].role_id), if given).
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
                variable, then to O(tokens[].store[].token_file).
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
              - V(hashicorp_vault) - the private key of O(tokens[].store[].client_cert) (PEM, a file).
                Defaults to E(VAULT_CLIENT_KEY) or E(BAO_CLIENT_KEY).
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
                otherwise come from O(tokens[].store[].access_key) and O(tokens[].store[].secret_key),
                or boto3's usual chain (environment, instance role).
            type: str
          access_key:
            description:
              - V(aws_secretsmanager), V(aws_ssm) - AWS access key id. Defaults to boto3's chain (E(AWS_ACCESS_KEY_ID),
                the profile, an instance role).
            type: str
          secret_key:
            description:
              - V(aws_secretsmanager), V(aws_ssm) - AWS secret access key, with O(tokens[].store[].access_key).
            type: str
          session_token:
            description:
              - V(aws_secretsmanager), V(aws_ssm) - AWS session token of temporary credentials, with O(tokens[].store[].access_key).
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
      - V(false) touches only declared names.
      - V(managed) also revokes managed tokens (with a name marker) whose name is not declared.
      - V(all) also revokes unmanaged tokens (without a marker, made in the web app or by other tools), except
        adopted ones.
      - The token this run logged in with (O(auth.ksef_token)) is never revoked unless O(revoke_auth_token=true).
        With a reused session (O(auth.access_token)) KSeF does not say which token opened it, so every token
        holding V(CredentialsManage) is kept (only such a token can open a session that revokes tokens).
    type: str
    choices: ['false', managed, all]
    default: 'false'
  adopt:
    description:
      - Take over an unmanaged Active token instead of issuing a new one, when its description equals the declared
        O(tokens[].description), its permissions equal the declared ones, and a store of that entry already holds
        its value (a value starts with its reference number). The token is kept as it is, without a name marker,
        and is replaced by a managed token at its next rotation.
      - When a matching token exists but no store holds its value, the plan creates a new token and says why.
    type: bool
    default: false
  revoke_auth_token:
    description:
      - Allow O(exclusive) and O(tokens[].state=absent) to revoke the token this run logged in with.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for all pending tokens to become Active, from 1 to 3600. Each poll is one C(GET /tokens)
        for the whole context. A token still Pending then (or Failed) is revoked and counts as failed.
    type: int
    default: 120
  lock_timeout:
    description:
      - Seconds to wait for another run on one of these tokens on the same host (the locks of
        M(ksef.credentials.token)). From 0 to 86400.
    type: int
    default: 300
  drift:
    description:
      - Also judge every token of the context against the declared ones and return the findings as RV(drift)
        (the findings of M(ksef.credentials.token_info)), from the same C(GET /tokens) list the plan is made from.
      - The list then covers unmanaged tokens too, so it may take more pages.
    type: bool
    default: false
notes:
  - Listing every token needs V(CredentialsRead) or V(CredentialsManage); creating and revoking needs
    V(CredentialsManage).
  - Without O(adopt) and with O(exclusive) other than V(all), the list asks KSeF for managed tokens only
    (C(description=[ksef.credentials:)), so unmanaged tokens cost no pages.
seealso:
  - module: ksef.credentials.token
  - name: KSeF tokens (official documentation)
    description: Token management in KSeF 2.0.
    link: https://github.com/CIRFMF/ksef-docs/blob/main/tokeny-ksef.md
"""

EXAMPLES = r"""
- name: Every token of one company, nothing else left behind
  ksef.credentials.tokens:
    environment: prod
    context:
      nip: "5265877635"
    auth:
      ksef_token: "{{ vault_ksef_manager_token }}"
    exclusive: managed
    tokens:
      - name: erp-sender
        description: ERP invoice sender (SAP PRD)
        permissions: [InvoiceWrite, InvoiceRead]
        rotate_after: 90d
        revoke_previous_after: 1d
        store:
          - type: file
            path: /etc/erp/ksef.token
      - name: archiver
        description: Nightly invoice archive download
        permissions: [invoice_read]
        store:
          - type: hashicorp_vault
            url: https://vault.example.com
            path: ksef/5265877635/archiver
      - name: old-branch
        state: absent

- name: Preview the plan (no call mutates anything)
  ksef.credentials.tokens:
    api_url: "{{ ksef_api_url }}"
    context: {nip: "5265877635"}
    auth: {ksef_token: "{{ ksef_manager_token }}"}
    exclusive: all
    tokens: "{{ ksef_tokens }}"
  check_mode: true
  diff: true
  register: preview

- name: Take over a token made in the web app whose value is already in /etc/erp/ksef.token
  ksef.credentials.tokens:
    api_url: "{{ ksef_api_url }}"
    context: {nip: "5265877635"}
    auth: {ksef_token: "{{ ksef_manager_token }}"}
    adopt: true
    tokens:
      - name: erp-sender
        description: ERP invoice sender
        permissions: [InvoiceWrite, InvoiceRead]
        store:
          - type: file
            path: /etc/erp/ksef.token
"""

RETURN = r"""
plan:
  description:
    - Every step, in order, as C(name), C(action), C(reference_number) and C(reason). C(name) is null for
      unmanaged tokens.
    - Actions are V(create), V(replace), V(rotate), V(copy), V(revoke), V(purge) (changes) and V(keep), V(wait),
      V(retain) (reports). For V(replace) and V(rotate), C(reference_number) is the token being superseded.
  returned: always
  type: list
  elements: dict
  sample:
    - name: erp-sender
      action: keep
      reference_number: 20251010-EC-1DCE3E3000-12ECB5B36E-45
      reason: active with the declared permissions
    - name: archiver
      action: create
      reference_number: null
      reason: no active token named 'archiver'
    - name: null
      action: revoke
      reference_number: 20250101-EC-2A0B0CE000-E228129563-11
      reason: "unmanaged token 'test' not declared (exclusive: all)"
plan_text:
  description:
    - The plan for people. One line per change, V(+) create, V(~) rotate or copy, V(-/+) replace, V(-) revoke
      or purge, each with the token's name and the reason, then a summary line. Steps that change nothing are
      not listed; the revoke of the token a rotation or replacement supersedes is part of that change.
  returned: always
  type: list
  elements: str
  sample:
    - "+ archiver: create (no active token named 'archiver')"
    - "Plan: 1 to create."
drift:
  description:
    - With O(drift=true), the findings of the context, as C(kind), C(severity), C(name), C(reference_number)
      (also as C(reference), the key every kind's findings share), C(store) and C(message) (see
      M(ksef.credentials.token_info)).
  returned: when O(drift=true)
  type: list
  elements: dict
  sample:
    - kind: scope_differs
      severity: error
      name: erp-sender
      reference_number: 20251010-EC-1DCE3E3000-12ECB5B36E-45
      reference: 20251010-EC-1DCE3E3000-12ECB5B36E-45
      store: null
      message: "token 'erp-sender' has permissions InvoiceRead, declared InvoiceRead,InvoiceWrite"
summary:
  description: How many plan steps have each action.
  returned: always
  type: dict
  sample: {"create": 1, "keep": 1, "revoke": 1}
tokens:
  description:
    - Per name, what M(ksef.credentials.token) returns for one token (C(reference_number), C(status),
      C(permissions), C(description), C(created), C(actions), C(stores)), plus C(declared) (false for undeclared
      names revoked by O(exclusive)), C(adopted) (the adopted reference number or null) and, for a token that
      failed, C(failed) and C(msg).
  returned: always
  type: dict
  sample:
    erp-sender:
      name: erp-sender
      reference_number: 20251010-EC-1DCE3E3000-12ECB5B36E-45
      status: Active
      permissions: [InvoiceRead, InvoiceWrite]
      description: ERP invoice sender (SAP PRD)
      created: "2025-10-10T08:15:02.123456+00:00"
      actions: [{action: keep, reason: active with the declared permissions,
                 reference_number: 20251010-EC-1DCE3E3000-12ECB5B36E-45}]
      stores: [{label: "file:/etc/erp/ksef.token", reference_number: 20251010-EC-1DCE3E3000-12ECB5B36E-45}]
      declared: true
      adopted: null
revoked:
  description: Tokens revoked in this run, as C(name) (null for unmanaged) and C(reference_number).
  returned: always
  type: list
  elements: dict
  sample: [{name: old-branch, reference_number: 20250710-EC-220B0CE000-E228129563-96}]
failed_tokens:
  description: Names of the tokens that failed (the task fails after doing the rest).
  returned: failure
  type: list
  elements: str
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
from ansible_collections.ksef.credentials.plugins.module_utils._engine import run_many
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token import TOKEN
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token_schema import TOKEN_OPTIONS
from ansible_collections.ksef.credentials.plugins.module_utils._module import TOKENS_NOT_IN_NIP_VAT_UE, KsefModule
from ansible_collections.ksef.credentials.plugins.module_utils._saved_plan import PLAN_ARGUMENT_SPEC


def main():
    module = KsefModule(
        argument_spec=dict(
            # permissions (needed when state is present) are checked with the other values, naming tokens[i].
            # Declarations, not secrets: store secrets are marked no_log in the store options.
            tokens=dict(type="list", elements="dict", required=True, options=TOKEN_OPTIONS, no_log=False),
            exclusive=dict(type="str", choices=list(TOKEN.exclusive_choices), default="false"),
            adopt=dict(type="bool", default=False),
            revoke_auth_token=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=120),
            lock_timeout=dict(type="int", default=300),
            **PLAN_ARGUMENT_SPEC,
            store_template=dict(TOKEN_OPTIONS["store"]),
            drift=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    module.refuse_context_type("NipVatUe", TOKENS_NOT_IN_NIP_VAT_UE)
    run_many(module, TOKEN)


if __name__ == "__main__":
    main()
