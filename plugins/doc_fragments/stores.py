# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # The `store` option: where a token's value is delivered (plugins/module_utils/_stores/).
    DOCUMENTATION = r"""
options:
  # BEGIN generated from plugins/module_utils/_stores/_schema.py by scripts/schema.py (make schema)
  store:
    description:
      - Where the token's value is kept. Each entry has a O(store[].type) and options of that type only;
        an option of another type is an error that names it, for example C(store[1].mode).
      - No store puts the value into a label, a diff, a result, a warning or an error message.
      - See C(docs/stores.md) for each store's guarantees.
    type: list
    elements: dict
    default: []
    suboptions:
      type:
        description:
          - V(file) is a local file (raw, env, json or yaml), optionally ansible-vault encrypted.
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
          - V(hashicorp_vault) - the secret's path inside O(store[].mount) (required), for example C(ksef/erp).
        type: str
      format:
        description:
          - V(file) - V(raw) is the value alone and a newline. V(env) is a C(KEY=value) line. V(json)
            and V(yaml) keep the value under O(store[].key) of a mapping. Other lines and keys of the
            file are kept (yaml comments are not).
          - Defaults to V(raw).
        type: str
        choices:
          - raw
          - env
          - json
          - yaml
      key:
        description:
          - V(file) - the variable or key for V(env) (default C(KSEF_TOKEN)), V(json) and V(yaml) (default
            C(token)).
          - V(hashicorp_vault) - the key inside the secret's data (default C(token)); other keys are kept.
          - V(aws_secretsmanager) - when set, the secret is a JSON object and the value goes under this
            key; other keys are kept. Not set means the whole secret string is the value.
        type: str
      mode:
        description:
          - V(file) - permissions of the file as a quoted octal string, for example V('0600') (the default)
            or V('0400'). An unquoted number is refused (YAML reads V(644) as decimal).
          - Unless O(store[].allow_shared_mode=true), a mode with any bit for the group or others (V('0640'),
            V('0644')) is refused.
          - The file is written to a temp file created C(0600) in the same directory, synced, given this
            mode and renamed over the target, so readers never see half a file or a wider mode.
        type: raw
      allow_shared_mode:
        description:
          - V(file) - allow a O(store[].mode) that lets the group or others read or change the file, for
            an account that must read the secret and cannot own the file. Defaults to V(false).
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
          - V(file) - encrypt the whole file with ansible-vault using the password in this file (or printed
            by this script, as with C(ansible-vault --vault-password-file)). C(ansible-vault view) shows
            the content.
          - The file is decrypted in memory only. Needs ansible-core on the host that runs the module.
        type: path
      vault_id:
        description:
          - V(file) - the vault id the encrypted file is labelled with (C($ANSIBLE_VAULT;1.2;AES256;ID)).
        type: str
      url:
        description:
          - V(hashicorp_vault) - Vault's address, for example C(https://vault.example.com:8200).
          - Defaults to the E(VAULT_ADDR) environment variable.
        type: str
      namespace:
        description:
          - V(hashicorp_vault) - Vault Enterprise namespace, sent as C(X-Vault-Namespace).
          - Defaults to the E(VAULT_NAMESPACE) environment variable.
        type: str
      mount:
        description:
          - V(hashicorp_vault) - the KV version 2 mount. Defaults to C(secret).
        type: str
      auth_method:
        description:
          - V(hashicorp_vault) - V(token) uses O(store[].token) or E(VAULT_TOKEN); V(approle) logs in
            with O(store[].role_id) and O(store[].secret_id) at C(/v1/auth/approle/login).
          - Defaults to V(token).
        type: str
        choices:
          - token
          - approle
      token:
        description:
          - V(hashicorp_vault) - a Vault token. Defaults to the E(VAULT_TOKEN) environment variable.
        type: str
      role_id:
        description:
          - V(hashicorp_vault) - AppRole role id.
        type: str
      secret_id:
        description:
          - V(hashicorp_vault) - AppRole secret id.
        type: str
      validate_certs:
        description:
          - V(hashicorp_vault) - verify Vault's TLS certificate. Defaults to V(true).
        type: bool
      ca_path:
        description:
          - V(hashicorp_vault) - a CA bundle to verify Vault's certificate with.
        type: path
      cas:
        description:
          - V(hashicorp_vault) - write with check-and-set (C(options.cas) = the version read just before;
            C(0) when the secret is absent), so a concurrent writer makes the task fail instead of being
            overwritten.
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
          - V(aws_secretsmanager) - days a removed secret stays recoverable (7 to 30), or C(0) to delete
            at once.
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
          - V(aws_secretsmanager), V(aws_ssm) - a different endpoint, for example a VPC endpoint.
        type: str
      profile:
        description:
          - V(aws_secretsmanager), V(aws_ssm) - a profile from the AWS configuration files. Credentials
            otherwise come from boto3's usual chain (environment, instance role).
        type: str
      tags:
        description:
          - V(aws_secretsmanager), V(aws_ssm) - tags for the secret or parameter.
        type: dict
  # END generated by scripts/schema.py
"""
