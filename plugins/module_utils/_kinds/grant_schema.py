# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one source of a declared permission grant's options: each entry of ksef.credentials.permissions (and of
the `declared` list of ksef.credentials.permission_info).

`GRANT_SCHEMA` is in the form of module documentation; the argument spec `GRANT_OPTIONS` is derived from it here.
`O(@...)` is a reference to an option of the same entry.
"""

from __future__ import annotations

# The grant kinds this collection manages. An EU representative is granted inside a NipVatUe context
# (context.nip_vat_ue), by the EU entity's administrator, and nothing else is granted there.
KINDS = ("person", "entity", "indirect", "authorization", "subunit", "eu_administrator", "eu_representative")

SUBJECT_SCHEMA = {
    "pesel": {"description": ["PESEL of the person (11 digits)."], "type": "str"},
    "nip": {"description": ["NIP of the person or of the entity (10 digits)."], "type": "str"},
    "fingerprint": {
        "description": [
            "SHA-256 fingerprint of the person's certificate (64 hex digits), for a certificate without"
            " a NIP or PESEL, with the person's C(pesel) or C(nip) too, or else C(birth_date) and C(id_document)."
        ],
        "type": "str",
    },
    "peppol_id": {
        "description": ["PEPPOL identifier of the entity of an authorization (C(kind: authorization))."],
        "type": "str",
    },
    "birth_date": {
        "description": ["Birth date (YYYY-MM-DD) of a person known by a fingerprint alone (no PESEL or NIP)."],
        "type": "str",
    },
    "id_document": {
        "description": ["Identity document (C(type), C(number), C(country)) of a person known by a fingerprint alone."],
        "type": "dict",
    },
    "first_name": {"description": ["First name of a person (C(kind: person))."], "type": "str"},
    "last_name": {"description": ["Last name of a person (C(kind: person))."], "type": "str"},
    "full_name": {"description": ["Full name of an entity (C(kind: entity)), 5 to 90 characters."], "type": "str"},
}

GRANT_SCHEMA = {
    "name": {
        "description": [
            "Stable identity of the grant within the context. It must match C(^[a-z0-9][a-z0-9_.-]{0,62}$).",
            "Recorded in the KSeF description as C([ksef.credentials:NAME]); a grant is one KSeF row per"
            " permission, each with this marker.",
        ],
        "type": "str",
        "required": True,
    },
    "kind": {
        "description": [
            "V(person): permissions of a person (C(POST /permissions/persons/grants)).",
            "V(entity): invoice permissions of another entity, for example an accounting office"
            " (C(POST /permissions/entities/grants)), with O(@can_delegate).",
            "V(indirect): invoice permissions this context (an intermediary, for example an accounting office) passes"
            " on to a person for its clients (C(POST /permissions/indirect/grants)), for one client (O(@target)) or"
            " for every client (O(@target=AllPartners)).",
            "V(authorization): an authorization of another entity (C(POST /permissions/authorizations/grants)), for"
            " example to issue invoices in this context's name (V(SelfInvoicing)); exactly one permission per grant;"
            " revoked through C(DELETE /permissions/authorizations/grants/{permissionId}).",
            "V(subunit): a person administers a subunit (C(POST /permissions/subunits/grants)): V(CredentialsManage)"
            " in the subunit O(@subunit), which the grant creates when it is an InternalId. Needs V(SubunitManage).",
            "V(eu_administrator): a certificate (O(@subject.fingerprint)) administers an EU entity"
            " (C(POST /permissions/eu-entities/administration/grants)): V(VatUeManage), V(InvoiceWrite),"
            " V(InvoiceRead) and V(Introspection) in the NipVatUe context C({nip}-{VAT UE}) the grant creates, named"
            " by O(@eu_entity).",
            "V(eu_representative): in the NipVatUe context of an EU entity (O(context.nip_vat_ue)), its"
            " administrator gives a certificate (O(@subject.fingerprint)) V(InvoiceWrite) and/or V(InvoiceRead)"
            " there (C(POST /permissions/eu-entities/grants), needs V(VatUeManage)). It is the only kind granted in"
            " a NipVatUe context, and it is granted nowhere else.",
            "Required when O(@state=present).",
        ],
        "type": "str",
        "choices": list(KINDS),
    },
    "description": {
        "description": [
            "Human text shown in KSeF before the name marker. Together with the marker and one space it must fit"
            " KSeF's 256 characters.",
            "KSeF cannot change a grant: a new text revokes the grant's rows and grants them again.",
        ],
        "type": "str",
        "default": "",
    },
    "subject": {
        "description": [
            "Who receives the permissions. A person (also of an indirect grant): one of O(@subject.pesel),"
            " O(@subject.nip) or"
            " O(@subject.fingerprint), with O(@subject.first_name) and O(@subject.last_name). An entity:"
            " O(@subject.nip) and O(@subject.full_name). An authorization: O(@subject.nip) or O(@subject.peppol_id),"
            " and O(@subject.full_name). An EU administrator or representative: O(@subject.fingerprint) with the"
            " person's names and O(@subject.pesel) or O(@subject.nip), or else O(@subject.birth_date) and"
            " O(@subject.id_document).",
            "Changed details (a name) revoke the grant's rows and grant them again.",
            "Required when O(@state=present).",
        ],
        "type": "dict",
        "suboptions": SUBJECT_SCHEMA,
    },
    "permissions": {
        "description": [
            "The permissions, official names or snake_case. A person: V(CredentialsManage), V(CredentialsRead),"
            " V(InvoiceWrite), V(InvoiceRead), V(Introspection), V(SubunitManage), V(EnforcementOperations),"
            " V(CollectiveIdentifierManage). An entity or an indirect grant: V(InvoiceWrite), V(InvoiceRead),"
            " V(CollectiveIdentifierManage) (KSeF 2.8.1). An authorization: one of V(SelfInvoicing), V(RRInvoicing),"
            " V(TaxRepresentative), V(PefInvoicing). A subunit"
            " administrator: V(CredentialsManage), the default. An EU administrator: all four of V(VatUeManage),"
            " V(InvoiceWrite), V(InvoiceRead), V(Introspection), the default.",
            "A permission added is granted alone; a permission removed has its row revoked alone.",
            "Required when O(@state=present).",
        ],
        "type": "list",
        "elements": "str",
    },
    "target": {
        "description": [
            "O(@kind=indirect) only, and required there: the NIP of the client whose invoices the person may handle"
            " (a selective grant; the client must have granted this context the permissions with"
            " C(can_delegate)), or V(AllPartners) for every client that did (a general grant).",
            "A change revokes the grant's rows and grants them again.",
        ],
        "type": "str",
    },
    "subunit": {
        "description": [
            "O(@kind=subunit) only, and required there: the subunit's InternalId (C({nip}-{5 digits}), this"
            " context's NIP, the unit's number and its check digit), or the NIP of a subordinate unit (a context with"
            " the LocalGovernmentUnit or VatGroupUnit role).",
            "A change revokes the grant and grants it again.",
        ],
        "type": "str",
    },
    "subunit_name": {
        "description": [
            "O(@kind=subunit) only: the subunit's name, 5 to 256 characters; required with an InternalId.",
            "A change revokes the grant and grants it again.",
        ],
        "type": "str",
    },
    "eu_entity": {
        "description": [
            "O(@kind=eu_administrator) only, and required there: the EU entity, as O(@eu_entity.vat_ue) (its VAT"
            " number with the country prefix), O(@eu_entity.name), O(@eu_entity.full_name) and O(@eu_entity.address).",
            "A change revokes the grant's rows and grants them again.",
        ],
        "type": "dict",
        "suboptions": {
            "vat_ue": {
                "description": ["VAT number with its country prefix, for example V(DE123456789)."],
                "type": "str",
            },
            "name": {"description": ["The EU entity's name in KSeF, 5 to 256 characters."], "type": "str"},
            "full_name": {"description": ["Its full name, up to 100 characters."], "type": "str"},
            "address": {"description": ["Its address, up to 512 characters."], "type": "str"},
        },
    },
    "can_delegate": {
        "description": [
            "O(@kind=entity) only: the entity may pass the permissions on to its people (indirect grants).",
            "A change revokes the grant's rows and grants them again.",
        ],
        "type": "bool",
        "default": False,
    },
    "state": {
        "description": [
            "V(present) makes sure KSeF holds one row per declared permission, as declared.",
            "V(absent) revokes every row with this name.",
        ],
        "type": "str",
        "choices": ["present", "absent"],
        "default": "present",
    },
}

_SPEC_KEYS = ("type", "required", "default", "choices", "elements", "no_log")


def argument_spec(schema: dict) -> dict:
    spec = {}
    for name, doc in schema.items():
        spec[name] = {key: doc[key] for key in _SPEC_KEYS if key in doc}
        if "suboptions" in doc:
            spec[name]["options"] = argument_spec(doc["suboptions"])
    return spec


GRANT_OPTIONS = argument_spec(GRANT_SCHEMA)
