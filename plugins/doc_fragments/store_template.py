# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # The `store_template` option of the list modules: the stores of a credential that declares none, and of a
    # name exclusive revokes (plugins/module_utils/_engine.py).
    DOCUMENTATION = r"""
options:
  # BEGIN generated from plugins/module_utils/_stores/_schema.py by scripts/schema.py (make schema)
  store_template:
    description:
      - 'The stores of every declared credential whose own C(store) list is empty: these entries, with
        each C({name}) in their string options replaced by the credential''s name (for example C(path:
        /etc/ksef/{name}.token)). Each entry must contain C({name}) somewhere.'
      - With C(exclusive) (in the modules that converge), a managed name that is no longer declared is
        revoked and its template stores are emptied too (only a store that holds its revoked value). Without
        a template the run cannot know where that value was, and warns.
      - Each entry takes the options of a store, as described below.
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
          - V(hashicorp_vault) - the secret's path inside O(store_template[].mount) (required), for example
            C(ksef/erp).
        type: str
      format:
        description:
          - V(file) - V(raw) is the value alone and a newline. V(env) is a C(KEY=value) line. V(json)
            and V(yaml) keep the value under O(store_template[].key) of a mapping. Other lines and keys
            of the file are kept (yaml comments are not).
          - 'For a certificate: V(pem) is the certificate followed by its unencrypted private key, usable
            as both C(auth.certificate) and C(auth.private_key); V(pkcs12) is a PKCS#12 file encrypted
            with O(store_template[].passphrase), usable as C(auth.pkcs12). V(env) cannot keep a certificate
            (PEM spans lines).'
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
          - Unless O(store_template[].allow_shared_mode=true), a mode with any bit for the group or others
            (V('0640'), V('0644')) is refused.
          - The file is written to a temp file created C(0600) in the same directory, synced, given this
            mode and renamed over the target, so readers never see half a file or a wider mode.
        type: raw
      allow_shared_mode:
        description:
          - V(file) - allow a O(store_template[].mode) that lets the group or others read or change the
            file, for an account that must read the secret and cannot own the file. Defaults to V(false).
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
      passphrase:
        description:
          - V(file) with O(store_template[].format=pkcs12) - the passphrase that encrypts the PKCS#12
            file (required there, refused elsewhere). Pass it from a vault, never in clear text.
        type: str
      url:
        description:
          - V(hashicorp_vault) - Vault's (or OpenBao's) address, for example C(https://vault.example.com:8200).
          - Defaults to the E(VAULT_ADDR) or E(BAO_ADDR) environment variable.
          - Plain C(http://) is refused for any host but loopback unless O(store_template[].allow_insecure_http=true).
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
          - V(hashicorp_vault) - V(token) uses O(store_template[].token), E(VAULT_TOKEN), E(BAO_TOKEN)
            or O(store_template[].token_file).
          - V(approle) logs in with O(store_template[].role_id) and O(store_template[].secret_id); V(jwt)
            with the role O(store_template[].role_id) and O(store_template[].jwt); V(cert) with the TLS
            client certificate O(store_template[].client_cert) and O(store_template[].client_key) (and
            the role O(store_template[].role_id), if given).
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
            variable, then to O(store_template[].token_file).
        type: str
      token_file:
        description:
          - V(hashicorp_vault) - a file holding the token, as C(vault login) and C(bao login) write it.
            Defaults to the E(KSEF_VAULT_TOKEN_FILE) environment variable (an AWX credential injects it),
            then to C(~/.vault-token), when no token is given otherwise.
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
          - V(hashicorp_vault) - the private key of O(store_template[].client_cert) (PEM, a file). Defaults
            to E(VAULT_CLIENT_KEY) or E(BAO_CLIENT_KEY).
        type: path
      validate_certs:
        description:
          - V(hashicorp_vault) - verify Vault's TLS certificate. Defaults to V(true), or V(false) when
            E(VAULT_SKIP_VERIFY) or E(BAO_SKIP_VERIFY) is set.
        type: bool
      ca_path:
        description:
          - V(hashicorp_vault) - a CA bundle (or a directory of hashed certificates) to verify Vault's
            certificate with. Defaults to E(VAULT_CACERT), E(BAO_CACERT), E(VAULT_CAPATH) or E(BAO_CAPATH).
        type: path
      allow_insecure_http:
        description:
          - V(hashicorp_vault) - allow plain C(http://) to a host that is not loopback. The Vault token
            and the credential then cross the network unencrypted. Defaults to V(false).
        type: bool
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
          - V(aws_secretsmanager), V(aws_ssm) - a different endpoint, for example a VPC endpoint or a
            local test server. Used for STS as well (the credential check before any change).
        type: str
      profile:
        description:
          - V(aws_secretsmanager), V(aws_ssm) - a profile from the AWS configuration files. Credentials
            otherwise come from O(store_template[].access_key) and O(store_template[].secret_key), or
            boto3's usual chain (environment, instance role).
        type: str
      access_key:
        description:
          - V(aws_secretsmanager), V(aws_ssm) - AWS access key id. Defaults to boto3's chain (E(AWS_ACCESS_KEY_ID),
            the profile, an instance role).
        type: str
      secret_key:
        description:
          - V(aws_secretsmanager), V(aws_ssm) - AWS secret access key, with O(store_template[].access_key).
        type: str
      session_token:
        description:
          - V(aws_secretsmanager), V(aws_ssm) - AWS session token of temporary credentials, with O(store_template[].access_key).
        type: str
      aws_ca_bundle:
        description:
          - V(aws_secretsmanager), V(aws_ssm) - a CA bundle to verify the endpoint with. Defaults to E(AWS_CA_BUNDLE),
            then the system's.
        type: path
      tags:
        description:
          - V(aws_secretsmanager), V(aws_ssm) - tags for the secret or parameter.
        type: dict
  # END generated by scripts/schema.py
"""
