#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: credentials
short_description: Converge the declared KSeF permission grants, tokens and certificates of one company with one login
version_added: 0.3.0
description:
  - One task for every credential of a company. It logs in once, then converges the declared permission grants
    (as M(ksef.credentials.permissions) does), certificates (as M(ksef.credentials.certificates) does) and tokens
    (as M(ksef.credentials.tokens) does) in that one session, and closes it.
  - Every kind is planned first. Then the changes that make something (a grant, an enrollment, a token, and the
    revokes that are part of such a change, for example a grant's changed rows) are carried out in the order
    grants, certificates, tokens; then the revokes that only take something away (a name declared absent or no
    longer declared, unmanaged objects of an exclusive) in the reverse order, tokens, certificates, grants. A token
    that needs a permission granted in the same task is created after the grant's operation ended, and a grant
    removed together with the tokens that depend on it is revoked after them.
  - A token carries only permissions its creator holds, and the access token of a session carries the permissions
    of its login. After grants were made, the session is refreshed (C(POST /auth/token/refresh)) before the next
    kind issues anything, so a login by certificate (XAdES) creates tokens with the permissions just granted to
    it. A KSeF-token login keeps the permissions of its token.
  - A token that needs a permission a grant of this task was to give the identity that logs in, and did not (the
    grant failed, is still in progress at KSeF, or the grants could not be converged), is not created; C(held_back)
    says which and why, and the task fails naming it.
  - A kind with nothing declared and no exclusive (O(grants_exclusive), O(certificates_exclusive),
    O(tokens_exclusive)) is skipped without any request. A failure of one kind never stops the others. The task
    fails at the end naming every failure.
  - 'KSeF certificates belong to the subject that logs in (the seal''s or the person''s NIP), not to the context
    it acts for. Certificates declared by a login with O(auth.on_behalf=true), or O(certificates_exclusive) with
    it, are refused before any request: declare them once, on the host whose context is the subject''s own NIP,
    and only tokens on the hosts of the companies it acts for (see C(docs/role-company.md)).'
  - 'A live certificate of a declared name that none of its stores holds and that this controller did not enroll
    for this context (its journal of enrollments, O(journal_dir)) belongs to another host that declares the same
    certificate with the same login: the run fails before any change, naming the certificate and its serial
    number, instead of revoking it, and O(certificates_exclusive=managed) leaves it alone. Declare a subject''s
    certificates on one host only (see C(docs/role-company.md)), or set C(force: true) on the entry when it is
    this host''s own (its stores were lost).'
  - Without O(certificates) this needs what M(ksef.credentials.tokens) needs (a KSeF token with
    V(CredentialsManage) is enough); certificates need a login with a signature (O(auth.certificate) or
    O(auth.pkcs12)). Grants need V(CredentialsManage) in the context; see C(docs/permissions.md).
author:
  - ksef.credentials maintainers (@ksef-credentials)
extends_documentation_fragment:
  - ksef.credentials.connection
  - ksef.credentials.auth
attributes:
  check_mode:
    support: full
    description: Returns the plan of every kind. Grants, enrolls, creates, revokes and writes nothing.
  diff_mode:
    support: full
    description: The metadata of every credential that changes, per kind, before and after, and the plans for people.
options:
  grants:
    description:
      - The declared permission grants of the context, each with the options of one entry of
        O(ksef.credentials.permissions#module:grants). Names are unique among the grants (a grant and a token may
        share a name).
      - Grants are made before the certificates and tokens of the same task, and revoked after them.
    type: list
    elements: dict
    default: []
    suboptions:
      # BEGIN generated from plugins/module_utils/_kinds/grant_schema.py by scripts/schema.py (make schema) [grants]
      name:
        description:
          - Stable identity of the grant within the context. It must match C(^[a-z0-9][a-z0-9_.-]{0,62}$).
          - Recorded in the KSeF description as C([ksef.credentials:NAME]); a grant is one KSeF row per
            permission, each with this marker.
        type: str
        required: true
      kind:
        description:
          - 'V(person): permissions of a person (C(POST /permissions/persons/grants)).'
          - 'V(entity): invoice permissions of another entity, for example an accounting office (C(POST
            /permissions/entities/grants)), with O(grants[].can_delegate).'
          - 'V(indirect): invoice permissions this context (an intermediary, for example an accounting
            office) passes on to a person for its clients (C(POST /permissions/indirect/grants)), for
            one client (O(grants[].target)) or for every client (O(grants[].target=AllPartners)).'
          - 'V(authorization): an authorization of another entity (C(POST /permissions/authorizations/grants)),
            for example to issue invoices in this context''s name (V(SelfInvoicing)); exactly one permission
            per grant; revoked through C(DELETE /permissions/authorizations/grants/{permissionId}).'
          - 'V(subunit): a person administers a subunit (C(POST /permissions/subunits/grants)): V(CredentialsManage)
            in the subunit O(grants[].subunit), which the grant creates when it is an InternalId. Needs
            V(SubunitManage).'
          - 'V(eu_administrator): a certificate (O(grants[].subject.fingerprint)) administers an EU entity
            (C(POST /permissions/eu-entities/administration/grants)): V(VatUeManage), V(InvoiceWrite),
            V(InvoiceRead) and V(Introspection) in the NipVatUe context C({nip}-{VAT UE}) the grant creates,
            named by O(grants[].eu_entity).'
          - 'V(eu_representative): in the NipVatUe context of an EU entity (O(context.nip_vat_ue)), its
            administrator gives a certificate (O(grants[].subject.fingerprint)) V(InvoiceWrite) and/or
            V(InvoiceRead) there (C(POST /permissions/eu-entities/grants), needs V(VatUeManage)). It is
            the only kind granted in a NipVatUe context, and it is granted nowhere else.'
          - Required when O(grants[].state=present).
        type: str
        choices:
          - person
          - entity
          - indirect
          - authorization
          - subunit
          - eu_administrator
          - eu_representative
      description:
        description:
          - Human text shown in KSeF before the name marker. Together with the marker and one space it
            must fit KSeF's 256 characters.
          - 'KSeF cannot change a grant: a new text revokes the grant''s rows and grants them again.'
        type: str
        default: ''
      subject:
        description:
          - 'Who receives the permissions. A person (also of an indirect grant): one of O(grants[].subject.pesel),
            O(grants[].subject.nip) or O(grants[].subject.fingerprint), with O(grants[].subject.first_name)
            and O(grants[].subject.last_name). An entity: O(grants[].subject.nip) and O(grants[].subject.full_name).
            An authorization: O(grants[].subject.nip) or O(grants[].subject.peppol_id), and O(grants[].subject.full_name).
            An EU administrator or representative: O(grants[].subject.fingerprint) with the person''s
            names and O(grants[].subject.pesel) or O(grants[].subject.nip), or else O(grants[].subject.birth_date)
            and O(grants[].subject.id_document).'
          - Changed details (a name) revoke the grant's rows and grant them again.
          - Required when O(grants[].state=present).
        type: dict
        suboptions:
          pesel:
            description:
              - PESEL of the person (11 digits).
            type: str
          nip:
            description:
              - NIP of the person or of the entity (10 digits).
            type: str
          fingerprint:
            description:
              - SHA-256 fingerprint of the person's certificate (64 hex digits), for a certificate without
                a NIP or PESEL, with the person's C(pesel) or C(nip) too, or else C(birth_date) and C(id_document).
            type: str
          peppol_id:
            description:
              - 'PEPPOL identifier of the entity of an authorization (C(kind: authorization)).'
            type: str
          birth_date:
            description:
              - Birth date (YYYY-MM-DD) of a person known by a fingerprint alone (no PESEL or NIP).
            type: str
          id_document:
            description:
              - Identity document (C(type), C(number), C(country)) of a person known by a fingerprint
                alone.
            type: dict
          first_name:
            description:
              - 'First name of a person (C(kind: person)).'
            type: str
          last_name:
            description:
              - 'Last name of a person (C(kind: person)).'
            type: str
          full_name:
            description:
              - 'Full name of an entity (C(kind: entity)), 5 to 90 characters.'
            type: str
      permissions:
        description:
          - 'The permissions, official names or snake_case. A person: V(CredentialsManage), V(CredentialsRead),
            V(InvoiceWrite), V(InvoiceRead), V(Introspection), V(SubunitManage), V(EnforcementOperations),
            V(CollectiveIdentifierManage). An entity or an indirect grant: V(InvoiceWrite), V(InvoiceRead),
            V(CollectiveIdentifierManage) (KSeF 2.8.1). An authorization: one of V(SelfInvoicing), V(RRInvoicing),
            V(TaxRepresentative), V(PefInvoicing). A subunit administrator: V(CredentialsManage), the
            default. An EU administrator: all four of V(VatUeManage), V(InvoiceWrite), V(InvoiceRead),
            V(Introspection), the default.'
          - A permission added is granted alone; a permission removed has its row revoked alone.
          - Required when O(grants[].state=present).
        type: list
        elements: str
      target:
        description:
          - 'O(grants[].kind=indirect) only, and required there: the NIP of the client whose invoices
            the person may handle (a selective grant; the client must have granted this context the permissions
            with C(can_delegate)), or V(AllPartners) for every client that did (a general grant).'
          - A change revokes the grant's rows and grants them again.
        type: str
      subunit:
        description:
          - 'O(grants[].kind=subunit) only, and required there: the subunit''s InternalId (C({nip}-{5
            digits}), this context''s NIP, the unit''s number and its check digit), or the NIP of a subordinate
            unit (a context with the LocalGovernmentUnit or VatGroupUnit role).'
          - A change revokes the grant and grants it again.
        type: str
      subunit_name:
        description:
          - 'O(grants[].kind=subunit) only: the subunit''s name, 5 to 256 characters; required with an
            InternalId.'
          - A change revokes the grant and grants it again.
        type: str
      eu_entity:
        description:
          - 'O(grants[].kind=eu_administrator) only, and required there: the EU entity, as O(grants[].eu_entity.vat_ue)
            (its VAT number with the country prefix), O(grants[].eu_entity.name), O(grants[].eu_entity.full_name)
            and O(grants[].eu_entity.address).'
          - A change revokes the grant's rows and grants them again.
        type: dict
        suboptions:
          vat_ue:
            description:
              - VAT number with its country prefix, for example V(DE123456789).
            type: str
          name:
            description:
              - The EU entity's name in KSeF, 5 to 256 characters.
            type: str
          full_name:
            description:
              - Its full name, up to 100 characters.
            type: str
          address:
            description:
              - Its address, up to 512 characters.
            type: str
      can_delegate:
        description:
          - 'O(grants[].kind=entity) only: the entity may pass the permissions on to its people (indirect
            grants).'
          - A change revokes the grant's rows and grants them again.
        type: bool
        default: false
      state:
        description:
          - V(present) makes sure KSeF holds one row per declared permission, as declared.
          - V(absent) revokes every row with this name.
        type: str
        choices:
          - present
          - absent
        default: present
      # END generated by scripts/schema.py
  grants_exclusive:
    description:
      - V(false) touches only declared grant names.
      - V(managed) also revokes the rows of managed grants (with a name marker) whose name is not declared.
      - V(all) also revokes every unmanaged row (made in the web app or by other tools) of the grant kinds declared
        in O(grants).
      - Neither touches rows authored by C(System), grants this context received from others, or the Owner.
    type: str
    choices: ['false', managed, all]
    default: 'false'
  grants_force:
    description:
      - Allow revoking the V(CredentialsManage) of the identity this run logs in with, or of the last listed holder
        of V(CredentialsManage) in the context (O(ksef.credentials.permissions#module:force)). O(revoke_auth_token)
        does not apply to grants.
    type: bool
    default: false
  certificates:
    description:
      - The declared certificates of the subject that logs in, each with the options of
        M(ksef.credentials.certificate). Names are unique.
    type: list
    elements: dict
    default: []
    suboptions:
      # BEGIN generated from plugins/module_utils/_kinds/certificate_schema.py by scripts/schema.py (make schema) [certificates]
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
  certificates_exclusive:
    description:
      - V(managed) also revokes the certificates this collection manages (named C(ksef-credentials ...)) that are
        not declared. V(false) touches only declared names.
    type: str
    choices: ['false', managed]
    default: 'false'
  # BEGIN generated from plugins/module_utils/_stores/_schema.py by scripts/schema.py (make schema) [certificates_store_template]
  certificates_store_template:
    description:
      - 'The stores of every declared certificate whose own C(store) list is empty: these entries, with
        each C({name}) in their string options replaced by the certificate''s name (for example C(path:
        /etc/ksef/{name}.token)). Each entry must contain C({name}) somewhere.'
      - With O(certificates_exclusive), a managed name that is no longer declared is revoked and its template
        stores are emptied too (only a store that holds its revoked value). Without a template the run
        cannot know where that value was, and warns.
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
          - V(hashicorp_vault) - the secret's path inside O(certificates_store_template[].mount) (required),
            for example C(ksef/erp).
        type: str
      format:
        description:
          - V(file) - V(raw) is the value alone and a newline. V(env) is a C(KEY=value) line. V(json)
            and V(yaml) keep the value under O(certificates_store_template[].key) of a mapping. Other
            lines and keys of the file are kept (yaml comments are not).
          - 'For a certificate: V(pem) is the certificate followed by its unencrypted private key, usable
            as both C(auth.certificate) and C(auth.private_key); V(pkcs12) is a PKCS#12 file encrypted
            with O(certificates_store_template[].passphrase), usable as C(auth.pkcs12). V(env) cannot
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
          - Unless O(certificates_store_template[].allow_shared_mode=true), a mode with any bit for the
            group or others (V('0640'), V('0644')) is refused.
          - The file is written to a temp file created C(0600) in the same directory, synced, given this
            mode and renamed over the target, so readers never see half a file or a wider mode.
        type: raw
      allow_shared_mode:
        description:
          - V(file) - allow a O(certificates_store_template[].mode) that lets the group or others read
            or change the file, for an account that must read the secret and cannot own the file. Defaults
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
          - V(file) with O(certificates_store_template[].format=pkcs12) - the passphrase that encrypts
            the PKCS#12 file (required there, refused elsewhere). Pass it from a vault, never in clear
            text.
        type: str
      url:
        description:
          - V(hashicorp_vault) - Vault's (or OpenBao's) address, for example C(https://vault.example.com:8200).
          - Defaults to the E(VAULT_ADDR) or E(BAO_ADDR) environment variable.
          - Plain C(http://) is refused for any host but loopback unless O(certificates_store_template[].allow_insecure_http=true).
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
          - V(hashicorp_vault) - V(token) uses O(certificates_store_template[].token), E(VAULT_TOKEN),
            E(BAO_TOKEN) or O(certificates_store_template[].token_file).
          - V(approle) logs in with O(certificates_store_template[].role_id) and O(certificates_store_template[].secret_id);
            V(jwt) with the role O(certificates_store_template[].role_id) and O(certificates_store_template[].jwt);
            V(cert) with the TLS client certificate O(certificates_store_template[].client_cert) and O(certificates_store_template[].client_key)
            (and the role O(certificates_store_template[].role_id), if given).
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
            variable, then to O(certificates_store_template[].token_file).
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
          - V(hashicorp_vault) - the private key of O(certificates_store_template[].client_cert) (PEM,
            a file). Defaults to E(VAULT_CLIENT_KEY) or E(BAO_CLIENT_KEY).
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
            otherwise come from O(certificates_store_template[].access_key) and O(certificates_store_template[].secret_key),
            or boto3's usual chain (environment, instance role).
        type: str
      access_key:
        description:
          - V(aws_secretsmanager), V(aws_ssm) - AWS access key id. Defaults to boto3's chain (E(AWS_ACCESS_KEY_ID),
            the profile, an instance role).
        type: str
      secret_key:
        description:
          - V(aws_secretsmanager), V(aws_ssm) - AWS secret access key, with O(certificates_store_template[].access_key).
        type: str
      session_token:
        description:
          - V(aws_secretsmanager), V(aws_ssm) - AWS session token of temporary credentials, with O(certificates_store_template[].access_key).
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
  tokens:
    description:
      - The declared tokens of the context, each with the options of M(ksef.credentials.token). Names are unique.
    type: list
    elements: dict
    default: []
    suboptions:
      # BEGIN generated from plugins/module_utils/_kinds/token_schema.py by scripts/schema.py (make schema) [tokens]
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
  tokens_exclusive:
    description:
      - V(false) touches only declared names; V(managed) also revokes managed tokens whose name is not declared;
        V(all) also revokes unmanaged tokens, except adopted ones. As O(ksef.credentials.tokens#module:exclusive).
    type: str
    choices: ['false', managed, all]
    default: 'false'
  # BEGIN generated from plugins/module_utils/_stores/_schema.py by scripts/schema.py (make schema) [tokens_store_template]
  tokens_store_template:
    description:
      - 'The stores of every declared token whose own C(store) list is empty: these entries, with each
        C({name}) in their string options replaced by the token''s name (for example C(path: /etc/ksef/{name}.token)).
        Each entry must contain C({name}) somewhere.'
      - With O(tokens_exclusive), a managed name that is no longer declared is revoked and its template
        stores are emptied too (only a store that holds its revoked value). Without a template the run
        cannot know where that value was, and warns.
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
          - V(hashicorp_vault) - the secret's path inside O(tokens_store_template[].mount) (required),
            for example C(ksef/erp).
        type: str
      format:
        description:
          - V(file) - V(raw) is the value alone and a newline. V(env) is a C(KEY=value) line. V(json)
            and V(yaml) keep the value under O(tokens_store_template[].key) of a mapping. Other lines
            and keys of the file are kept (yaml comments are not).
          - 'For a certificate: V(pem) is the certificate followed by its unencrypted private key, usable
            as both C(auth.certificate) and C(auth.private_key); V(pkcs12) is a PKCS#12 file encrypted
            with O(tokens_store_template[].passphrase), usable as C(auth.pkcs12). V(env) cannot keep a
            certificate (PEM spans lines).'
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
          - Unless O(tokens_store_template[].allow_shared_mode=true), a mode with any bit for the group
            or others (V('0640'), V('0644')) is refused.
          - The file is written to a temp file created C(0600) in the same directory, synced, given this
            mode and renamed over the target, so readers never see half a file or a wider mode.
        type: raw
      allow_shared_mode:
        description:
          - V(file) - allow a O(tokens_store_template[].mode) that lets the group or others read or change
            the file, for an account that must read the secret and cannot own the file. Defaults to V(false).
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
          - V(file) with O(tokens_store_template[].format=pkcs12) - the passphrase that encrypts the PKCS#12
            file (required there, refused elsewhere). Pass it from a vault, never in clear text.
        type: str
      url:
        description:
          - V(hashicorp_vault) - Vault's (or OpenBao's) address, for example C(https://vault.example.com:8200).
          - Defaults to the E(VAULT_ADDR) or E(BAO_ADDR) environment variable.
          - Plain C(http://) is refused for any host but loopback unless O(tokens_store_template[].allow_insecure_http=true).
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
          - V(hashicorp_vault) - V(token) uses O(tokens_store_template[].token), E(VAULT_TOKEN), E(BAO_TOKEN)
            or O(tokens_store_template[].token_file).
          - V(approle) logs in with O(tokens_store_template[].role_id) and O(tokens_store_template[].secret_id);
            V(jwt) with the role O(tokens_store_template[].role_id) and O(tokens_store_template[].jwt);
            V(cert) with the TLS client certificate O(tokens_store_template[].client_cert) and O(tokens_store_template[].client_key)
            (and the role O(tokens_store_template[].role_id), if given).
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
            variable, then to O(tokens_store_template[].token_file).
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
          - V(hashicorp_vault) - the private key of O(tokens_store_template[].client_cert) (PEM, a file).
            Defaults to E(VAULT_CLIENT_KEY) or E(BAO_CLIENT_KEY).
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
            otherwise come from O(tokens_store_template[].access_key) and O(tokens_store_template[].secret_key),
            or boto3's usual chain (environment, instance role).
        type: str
      access_key:
        description:
          - V(aws_secretsmanager), V(aws_ssm) - AWS access key id. Defaults to boto3's chain (E(AWS_ACCESS_KEY_ID),
            the profile, an instance role).
        type: str
      secret_key:
        description:
          - V(aws_secretsmanager), V(aws_ssm) - AWS secret access key, with O(tokens_store_template[].access_key).
        type: str
      session_token:
        description:
          - V(aws_secretsmanager), V(aws_ssm) - AWS session token of temporary credentials, with O(tokens_store_template[].access_key).
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
  adopt:
    description:
      - Tokens only. Take over an unmanaged Active token whose value a store already holds, as
        O(ksef.credentials.tokens#module:adopt).
    type: bool
    default: false
  revoke_auth_token:
    description:
      - Allow O(tokens_exclusive) and O(tokens[].state=absent) to revoke the token this run logged in with.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait, per kind, for grant and revoke operations to end, new tokens to become Active and
        enrollments to end, from 1 to 3600.
    type: int
    default: 120
  lock_timeout:
    description:
      - Seconds to wait for another run on one of these credentials on the same host, from 0 to 86400.
    type: int
    default: 300
  journal_dir:
    description:
      - Where the grant operations still in progress are remembered between runs (one JSON file per context, no
        secret), as O(ksef.credentials.permissions#module:journal_dir). Defaults to E(KSEF_JOURNAL_DIR), else
        C(~/.ansible/ksef-credentials/journal).
      - The certificates enrolled for the context and not yet revoked are remembered there too (their serial
        numbers), as this host's even when no store holds them (see O(certificates)). Keep it where the next
        run finds it.
    type: path
  drift:
    description:
      - Also return each kind's findings against the declarations in its section (C(drift)), as
        O(ksef.credentials.tokens#module:drift). Certificates have no findings here yet (see
        M(ksef.credentials.certificate_info)).
    type: bool
    default: false
  plan_file:
    description:
      - Write the plan of every converged kind to this file as one JSON document, atomically, in check mode too.
        It holds each kind's saved plan (as O(ksef.credentials.tokens#module:plan_file) writes it) under C(kinds),
        and no secret value.
      - The directory must exist. Mutually exclusive with O(apply_plan).
    type: path
  apply_plan:
    description:
      - Carry out the plan saved by O(plan_file). Before any request the task fails when the file holds plans
        for other kinds than this run converges. Each kind is then carried out only if nothing its own plan was
        made from has moved (as O(ksef.credentials.tokens#module:apply_plan)); a kind whose plan moved changes
        nothing, reports C(moved) in its section, and fails the task.
      - Mutually exclusive with O(plan_file).
    type: path
notes:
  - 'Requests of a run that changes nothing: one login and its close, ceil(R/100)
    C(POST /permissions/query/persons/grants) for R rows when grants are declared (with O(grants_exclusive) or a grant
    declared absent, 3 more at least, C(POST /permissions/query/authorizations/grants),
    C(POST /permissions/query/subunits/grants) and C(POST /permissions/query/eu-entities/grants), one page per 100
    rows each; without them, those of the kinds declared), one C(POST /certificates/query)
    when certificates are declared, and ceil(T/100) C(GET /tokens) for T managed tokens.'
seealso:
  - module: ksef.credentials.permissions
  - module: ksef.credentials.tokens
  - module: ksef.credentials.certificates
"""

EXAMPLES = r"""
- name: A person's permission to send invoices, and the ERP's token that needs it, in one task and one login
  ksef.credentials.credentials:
    environment: test
    context: {nip: "5265877635"}
    auth:
      certificate: /etc/ksef/admin.crt.pem
      private_key: /etc/ksef/admin.key.pem
    grants_exclusive: managed
    grants:
      - name: automation-invoicing
        kind: person
        description: Automation sends invoices
        subject: {pesel: "85011512342", first_name: Jan, last_name: Kowalski}  # the person of the certificate
        permissions: [InvoiceWrite]
    tokens:
      - name: erp-sender
        permissions: [InvoiceWrite]
        store:
          - type: file
            path: /etc/erp/erp-sender.token

- name: The certificates and tokens of the company the seal belongs to, with one login
  ksef.credentials.credentials:
    environment: test
    context: {nip: "5265877635"}
    auth:
      certificate: /etc/ksef/seal.crt.pem
      private_key: /etc/ksef/seal.key.pem
    certificates_exclusive: managed
    certificates:
      - name: automation-login
        store:
          - type: file
            path: /etc/ksef/automation-login.pem
            format: pem
    tokens:
      - name: erp-sender
        permissions: [InvoiceWrite, InvoiceRead]
        rotate_after: 90d
    tokens_store_template:
      - type: file
        path: /etc/erp/{name}.token

- name: A client company of the office - tokens only, the office's seal acting on its behalf
  ksef.credentials.credentials:
    environment: test
    context: {nip: "7010001453"}
    auth:
      certificate: /etc/ksef/automation-login.pem
      private_key: /etc/ksef/automation-login.pem
      on_behalf: true
    tokens:
      - name: erp-sender
        permissions: [InvoiceWrite, InvoiceRead]
        store:
          - type: file
            path: /etc/erp/client-7010001453.token
"""

RETURN = r"""
grants:
  description:
    - What M(ksef.credentials.permissions) returns (C(changed), C(plan), C(plan_text), C(summary), C(revoked), and
      per name under C(grants), with C(permission_ids) and each action's C(operation) and C(status)), or
      C(skipped=true) when nothing was declared, or C(failed) and C(msg) when the kind stopped as a whole.
  returned: always
  type: dict
  sample:
    changed: true
    plan: [{name: automation-invoicing, action: create, reference_number: null, reason: "grant InvoiceWrite"}]
    plan_text: ["+ automation-invoicing: create (grant InvoiceWrite (no grant named 'automation-invoicing'))",
                "Plan: 1 to create."]
    summary: {create: 1}
    revoked: []
    grants: {automation-invoicing: {name: automation-invoicing, kind: person, permissions: [InvoiceWrite],
             permission_ids: [0d3f9a4e-5b61-4c1e-8f0a-3c2b1d0e9f8a], status: Active}}
certificates:
  description:
    - What M(ksef.credentials.certificates) returns (C(changed), C(plan), C(plan_text), C(summary), C(revoked),
      and per name under C(certificates)), or C(skipped=true) when nothing was declared, or C(failed) and C(msg)
      when the kind stopped as a whole (the other kind still ran).
  returned: always
  type: dict
  sample:
    changed: false
    plan: [{name: automation-login, action: keep, reference_number: 01F2C3A4B5D6E7F8, reason: active}]
    plan_text: ["Plan: no changes."]
    summary: {keep: 1}
    revoked: []
    certificates: {automation-login: {name: automation-login, status: Active, actions: []}}
tokens:
  description:
    - What M(ksef.credentials.tokens) returns (C(changed), C(plan), C(plan_text), C(summary), C(revoked),
      C(drift) with O(drift=true), C(moved) when its saved plan moved, and per name under C(tokens)), or
      C(skipped=true) when nothing was declared, or C(failed) and C(msg) when the kind stopped as a whole.
  returned: always
  type: dict
  sample:
    changed: true
    plan: [{name: erp-sender, action: create, reference_number: null, reason: "no active token named 'erp-sender'"}]
    plan_text: ["+ erp-sender: create (no active token named 'erp-sender')", "Plan: 1 to create."]
    summary: {create: 1}
    revoked: []
    tokens: {erp-sender: {name: erp-sender, status: Active, permissions: [InvoiceRead, InvoiceWrite]}}
plan:
  description: Every kind's plan rows, grants first, then certificates, then tokens, each with C(kind) (V(grant),
    V(certificate) or V(token)).
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: certificate, name: automation-login, action: keep, reference_number: 01F2C3A4B5D6E7F8, reason: active}
plan_text:
  description:
    - 'The plan for people, a heading line per kind (C(grants:), C(certificates:), C(tokens:)) followed by its lines
      and its C(Plan:) summary line. A kind with nothing to show (only C(Plan: no changes.)) is left out; when no
      kind has anything, the plan is the one line C(Plan: no changes.) The diff''s C(prepared) text is the same.'
    - 'When more than one kind is converged and something changes, a last line says the order, for example
      C(Order: grants are made first, then tokens; revoked in reverse order, grants last.)'
  returned: always
  type: list
  elements: str
  sample: ["grants:", "  + automation-invoicing: create (...)", "  Plan: 1 to create.", "tokens:",
           "  + erp-sender: create (...)", "  Plan: 1 to create.",
           "Order: grants are made first, then tokens; revoked in reverse order, grants last."]
summary:
  description: How many plan steps of every kind have each action.
  returned: always
  type: dict
  sample: {create: 1, keep: 1}
revoked:
  description: The credentials revoked by this run, as C(kind), C(name) (null for unmanaged tokens) and C(reference_number).
  returned: always
  type: list
  elements: dict
held_back:
  description:
    - What this run did not issue because it needs a permission a grant of this run was to give the identity that
      logs in, and did not, as C(kind), C(name) and C(reason) (the permissions and the grant's failure). Each is
      also a failure of the task. Empty in check mode.
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: token, name: erp-sender, reason: "not issued (skipped): it needs InvoiceWrite, and grant
       automation-invoicing failed: ...; a later run issues it"}
api_calls:
  description: Requests sent to KSeF in this run, per operation (one login for every kind).
  returned: always
  type: dict
  sample: {"GET /tokens": 1, "POST /auth/xades-signature": 1, "POST /certificates/query": 1}
"""

# First: the code below is compiled once and kept for the next runs (AnsiballZ imports it from a zip).
from ansible_collections.ksef.credentials.plugins.module_utils import _bytecode  # noqa: F401  # pylint: disable=unused-import
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate_schema import CERTIFICATE_OPTIONS
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_schema import GRANT_OPTIONS
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token_schema import TOKEN_OPTIONS
from ansible_collections.ksef.credentials.plugins.module_utils._many_kinds import company_kinds, run_kinds
from ansible_collections.ksef.credentials.plugins.module_utils._module import TOKENS_NOT_IN_NIP_VAT_UE, KsefModule
from ansible_collections.ksef.credentials.plugins.module_utils._saved_plan import PLAN_ARGUMENT_SPEC


def main():
    kinds = company_kinds()
    grants, certificates, tokens = kinds
    lists = {
        # Declarations, not secrets: store secrets are marked no_log in the store options.
        kind.plural: dict(type="list", elements="dict", default=[], options=options, no_log=False)
        for kind, options in zip(kinds, (GRANT_OPTIONS, CERTIFICATE_OPTIONS, TOKEN_OPTIONS))
    }
    module = KsefModule(
        argument_spec=dict(
            **lists,
            grants_exclusive=dict(type="str", choices=list(grants.exclusive_choices), default="false"),
            grants_force=dict(type="bool", default=False),
            certificates_exclusive=dict(type="str", choices=list(certificates.exclusive_choices), default="false"),
            certificates_store_template=dict(CERTIFICATE_OPTIONS["store"]),
            tokens_exclusive=dict(type="str", choices=list(tokens.exclusive_choices), default="false"),
            tokens_store_template=dict(TOKEN_OPTIONS["store"], no_log=False),  # stores, not a token
            adopt=dict(type="bool", default=False),
            revoke_auth_token=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=120),
            lock_timeout=dict(type="int", default=300),
            journal_dir=dict(type="path"),
            drift=dict(type="bool", default=False),
            **PLAN_ARGUMENT_SPEC,
        ),
        supports_check_mode=True,
    )
    if module.params.get("tokens") or module.params.get("tokens_exclusive") != "false":
        module.refuse_context_type("NipVatUe", TOKENS_NOT_IN_NIP_VAT_UE)
    run_kinds(module, kinds)


if __name__ == "__main__":
    main()
