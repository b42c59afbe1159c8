#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: permissions
short_description: Declare the KSeF 2.0 permission grants of one context in one call
version_added: 0.2.0
description:
  - Brings the permission grants of one KSeF context to the declared set in O(grants), the permissions of people
    (O(grants[].kind=person)), the invoice permissions of other entities (O(grants[].kind=entity)) and the invoice
    permissions an intermediary passes on to its people for its clients (O(grants[].kind=indirect)), and the
    authorizations of other entities (O(grants[].kind=authorization)), the administrators of subunits
    (O(grants[].kind=subunit)) and of EU entities (O(grants[].kind=eu_administrator)).
  - In the NipVatUe context of an EU entity (O(context.nip_vat_ue)), logged in by the EU administrator's
    certificate fingerprint (O(auth.subject_identifier_type=certificate_fingerprint)), the entity's representatives
    (O(grants[].kind=eu_representative)) and nothing else, listed by C(POST /permissions/query/eu-entities/grants)
    alone. A row of that list does not say whether it is an administrator's or a representative's; every row of a
    fingerprint that holds V(VatUeManage) is read as an administrator's (the company's grant, never touched here),
    every other as a representative's. A kind in a context where KSeF does not grant it fails before any request.
  - KSeF lists one row per permission, each with its own C(permissionId). A declared grant is recognised by the name
    marker C([ksef.credentials:NAME]) at the end of the description of each of its rows. A row exactly as declared is
    kept; a declared permission no row carries is granted, all of a grant's missing permissions in one request; a row
    no longer declared is revoked alone.
  - KSeF has no update. A changed description, subject detail or O(grants[].can_delegate) revokes the rows it
    concerns and grants them again, and the revokes are waited for before the grant (break-before-make).
  - Every grant and revoke is an operation KSeF finishes later. The run waits for all of them together within
    O(wait_timeout); one still in progress then fails its grant, the task is changed (KSeF was asked), and the
    operation is kept in a journal (O(journal_dir)); the next run waits for it instead of sending it again and
    reports it as a C(resume) action with its final C(status). Each grant's result gives its C(permission_ids), and
    each action its C(operation) and final C(status).
  - A change revokes before it grants; a grant that fails after its revokes leaves the grant missing, the message
    says so, and the next run grants it again. Check digits (NIP, PESEL, a subunit's InternalId) are checked before
    any request.
  - A run never revokes the V(CredentialsManage) of the identity it logs in with (the certificate's subject, or the
    author of the KSeF token), nor of the last listed holder of V(CredentialsManage) in the context, unless
    O(force=true). Such a revoke is retained and the run warns.
  - The plan ends with the calls the run sends per operation (grants, revokes, at least one status read per
    operation, the listing after the grants, the C(GET /tokens) of the dependency check) and what is left of each
    this hour in this context; KSeF allows 120 an hour for each. It warns for every operation that needs more than
    120 or more than is left. Before the first grant or revoke the run checks that these calls fit the limits within
    O(max_retry_wait) (the status reads also within O(wait_timeout)); if not, it changes nothing and fails naming the
    operation and the wait. See C(docs/permissions.md).
author:
  - ksef.credentials maintainers (@ksef-credentials)
extends_documentation_fragment:
  - ksef.credentials.connection
  - ksef.credentials.auth
  - ksef.credentials.plan
attributes:
  check_mode:
    support: full
    description: Returns the plan. Lists the rows, grants and revokes nothing.
  diff_mode:
    support: full
    description: Shows every grant that changes, before and after.
options:
  grants:
    description:
      - The declared grants of the context. Names must be unique; a name declared twice fails before any API call.
      - Errors name the entry, for example C(grants[3].subject.pesel).
    type: list
    elements: dict
    required: true
    suboptions:
      # BEGIN generated from plugins/module_utils/_kinds/grant_schema.py by scripts/schema.py (make schema)
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
  exclusive:
    description:
      - V(false) touches only declared names.
      - V(managed) also revokes the rows of managed grants (with a name marker) whose name is not declared.
      - V(all) also revokes every unmanaged row (without a marker, made in the web app or by other tools) of the
        kinds declared in O(grants).
      - Neither touches rows authored by C(System) (ZAW-FA, test data), grants this context received from others,
        or the Owner (never listed).
    type: str
    choices: ['false', managed, all]
    default: 'false'
  force:
    description:
      - Allow revoking the V(CredentialsManage) of the identity this run logs in with, or of the last listed holder
        of V(CredentialsManage) in the context.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for the operations of this run (and of an earlier run that left them in progress), from 1
        to 3600. Each round reads C(GET /permissions/operations/{referenceNumber}) of every operation still at 100
        once, at once, then after 1, 2, 4, 8, 16 and 32 seconds and then once a minute, and waits for room in that
        endpoint's limits.
    type: int
    default: 120
  lock_timeout:
    description:
      - Seconds to wait for another run on one of these grants on the same host. From 0 to 86400.
    type: int
    default: 300
  journal_dir:
    description:
      - Where the operations still in progress are remembered between runs (one JSON file per context, no secret).
        Defaults to E(KSEF_JOURNAL_DIR), else C(~/.ansible/ksef-credentials/journal). Keep it where the next run of
        the same context finds it (on AWX, a persistent path).
    type: path
notes:
  - Listing needs V(CredentialsManage) or V(CredentialsRead); granting and revoking needs V(CredentialsManage).
  - A run that changes nothing costs one login and ceil(R/100) C(POST /permissions/query/persons/grants) for R
    rows in the context (plus one C(GET /tokens/{referenceNumber}) with a KSeF-token login, for the lockout guard).
    With O(exclusive) set to V(managed) or V(all), or a grant declared absent, it also lists the rows of their own
    endpoints, one page per 100 rows each, 3 queries more at least (C(POST /permissions/query/authorizations/grants),
    C(POST /permissions/query/subunits/grants) and C(POST /permissions/query/eu-entities/grants)); without them, only
    those of the kinds declared (V(authorization), V(subunit), V(eu_administrator)).
seealso:
  - module: ksef.credentials.tokens
  - name: KSeF permissions (official documentation)
    description: Permission grants in KSeF 2.0.
    link: https://github.com/CIRFMF/ksef-docs/blob/main/uprawnienia.md
"""

EXAMPLES = r"""
- name: The people and the accounting office of one company, nothing else the collection made
  ksef.credentials.permissions:
    environment: prod
    context:
      nip: "5265877635"
    auth:
      ksef_token: "{{ vault_ksef_manager_token }}"
    exclusive: managed
    grants:
      - name: erp-operator
        kind: person
        description: ERP operator
        subject: {pesel: "85011512342", first_name: Jan, last_name: Kowalski}
        permissions: [InvoiceRead, InvoiceWrite]
      - name: office
        kind: entity
        description: Accounting office
        subject: {nip: "1234563218", full_name: Biuro Rachunkowe sp. z o.o.}
        permissions: [invoice_read]
        can_delegate: true
      - name: former-clerk
        state: absent

- name: Review the plan, then apply exactly that plan
  ksef.credentials.permissions:
    api_url: "{{ ksef_api_url }}"
    context: {nip: "5265877635"}
    auth: {ksef_token: "{{ ksef_manager_token }}"}
    grants: "{{ ksef_grants }}"
    plan_file: /var/tmp/grants.plan.json
  check_mode: true
"""

RETURN = r"""
plan:
  description:
    - Every step, in order, as C(name), C(action), C(reference_number) (the C(permissionId) of the row) and
      C(reason). C(name) is null for unmanaged rows.
    - Actions are V(create) (grant permissions no row carries), V(replace) (grant again after revoking changed
      rows), V(revoke) (changes), V(keep) and V(retain) (the lockout guard; a row KSeF lists as Inactive; an
      operation still in progress).
    - A revoke after which KSeF revokes managed tokens (their author loses a permission they carry) also has
      C(breaks), the names of those tokens.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: erp-operator, action: revoke, reference_number: 0d3f9a4e-5b61-4c1e-8f0a-3c2b1d0e9f8a,
       reason: description changed}
    - {name: erp-operator, action: replace, reference_number: null, reason: grant InvoiceRead again as declared}
plan_text:
  description:
    - The plan for people, one line per change (a revoke that breaks managed tokens names them) and per row held
      back (a V(retain) for the lockout guard, an inactive row, or a declared permission held through another
      grant's row), a summary line and the permission calls the plan needs. An unmanaged row is named by its kind,
      permission and subject.
  returned: always
  type: list
  elements: str
  sample:
    - "+ erp-operator: create (grant InvoiceRead, InvoiceWrite (no grant named 'erp-operator'))"
    - "Plan: 1 to create."
    - "Calls: POST /permissions/persons/grants 1, GET /permissions/operations/{referenceNumber} at least 1, POST
      /permissions/query/persons/grants up to 3; left this hour in this context: POST /permissions/persons/grants
      120, GET /permissions/operations/{referenceNumber} 120, POST /permissions/query/persons/grants 119 (KSeF
      allows 120 an hour per operation and context)."
summary:
  description: How many plan steps have each action.
  returned: always
  type: dict
  sample: {"create": 1, "keep": 2, "revoke": 1}
grants:
  description:
    - Per name, C(kind), C(subject), C(target) (an indirect grant's client or V(AllPartners), a subunit's
      identifier, an EU entity's VAT number; else null), C(permissions), C(permission_ids) (in the order of
      C(permissions)), C(can_delegate), C(description) and C(status) after the run (V(Inactive) when KSeF lists
      any of its rows so, with those permissions in C(inactive); else V(Active)), C(held_elsewhere) (each declared
      permission the subject already holds through another grant's row, which this grant does not give again, as
      C(permission), C(permission_id), C(author) and C(name), null for an unmanaged row), C(actions) (each with the
      C(operation) KSeF carried it out in and its final C(status), V(done), V(failed) or V(in progress); first, a
      C(resume) action for each operation an earlier run left in progress and this run waited for), C(declared)
      (false for names revoked by O(exclusive)), and for a grant that failed C(failed) and
      C(msg).
  returned: always
  type: dict
  sample:
    erp-operator:
      name: erp-operator
      kind: person
      target: null
      subject: {pesel: "85011512342", first_name: Jan, last_name: Kowalski}
      permissions: [InvoiceWrite, InvoiceRead]
      permission_ids: [0d3f9a4e-5b61-4c1e-8f0a-3c2b1d0e9f8a, 7a1c2e3f-0b4d-4e5f-9a8b-1c2d3e4f5a6b]
      can_delegate: false
      description: ERP operator [ksef.credentials:erp-operator]
      status: Active
      inactive: []
      held_elsewhere: []
      actions: [{action: create, reason: "grant InvoiceRead, InvoiceWrite (no grant named 'erp-operator')",
                 reference_number: erp-operator, operation: 20261204-EG-2A0B0CE000-E228129563-11, status: done}]
      declared: true
revoked:
  description: Rows revoked in this run, as C(name) (null for unmanaged) and C(reference_number) (the permissionId).
  returned: always
  type: list
  elements: dict
failed_grants:
  description: Names of the grants that failed (the task fails after doing the rest).
  returned: failure
  type: list
  elements: str
moved:
  description: With O(apply_plan), when the saved plan no longer matches, what moved since it was made. Nothing was
    changed.
  returned: failure of O(apply_plan)
  type: list
  elements: str
api_calls:
  description: Requests sent to KSeF in this run, per operation.
  returned: always
  type: dict
  sample: {"POST /permissions/query/persons/grants": 1, "POST /auth/challenge": 1}
"""

# First: the code below is compiled once and kept for the next runs (AnsiballZ imports it from a zip).
from ansible_collections.ksef.credentials.plugins.module_utils import _bytecode  # noqa: F401  # pylint: disable=unused-import
from ansible_collections.ksef.credentials.plugins.module_utils._engine import run_many
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant import GRANT
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_schema import GRANT_OPTIONS
from ansible_collections.ksef.credentials.plugins.module_utils._module import KsefModule
from ansible_collections.ksef.credentials.plugins.module_utils._saved_plan import PLAN_ARGUMENT_SPEC


def main():
    module = KsefModule(
        argument_spec=dict(
            grants=dict(type="list", elements="dict", required=True, options=GRANT_OPTIONS),
            exclusive=dict(type="str", choices=list(GRANT.exclusive_choices), default="false"),
            force=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=120),
            lock_timeout=dict(type="int", default=300),
            journal_dir=dict(type="path"),
            **PLAN_ARGUMENT_SPEC,
        ),
        supports_check_mode=True,
    )
    run_many(module, GRANT)


if __name__ == "__main__":
    main()
