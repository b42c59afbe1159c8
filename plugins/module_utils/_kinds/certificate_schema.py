# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one source of a declared KSeF certificate's options: ksef.credentials.certificate (top level) and each
entry of ksef.credentials.certificates.

In the form of module documentation; `CERTIFICATE_OPTIONS` (the argument spec) is derived from it, and
`scripts/schema.py` writes it into the modules. `O(@...)` is a reference to an option of the same entry.
"""

from __future__ import annotations

from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token_schema import argument_spec
from ansible_collections.ksef.credentials.plugins.module_utils._stores._schema import STORE_SCHEMA

CERTIFICATE_SCHEMA = {
    "name": {
        "description": [
            "Stable identity of the certificate among the subject's certificates. It must match"
            " C(^[a-z0-9][a-z0-9_-]{0,62}$) (KSeF allows no dot in a certificate name).",
            "KSeF keeps it as the certificate's name, C(ksef-credentials NAME), which the MCU shows.",
        ],
        "type": "str",
        "required": True,
    },
    "certificate_type": {
        "description": [
            "V(Authentication) logs in to KSeF (XAdES, key usage Digital Signature). V(Offline) signs the QR code II"
            " of offline invoices (key usage Non-Repudiation) and cannot log in.",
            "A certificate has one type for life: declaring the other type enrolls a replacement and revokes the"
            " old certificate.",
        ],
        "type": "str",
        "choices": ["Authentication", "Offline"],
        "default": "Authentication",
    },
    "key_type": {
        "description": [
            "The private key made on the host that runs the module: V(ec) (NIST P-256, what KSeF recommends) or"
            " V(rsa). The key never leaves that host except into the stores; KSeF gets the CSR only.",
        ],
        "type": "str",
        "choices": ["ec", "rsa"],
        "default": "ec",
    },
    "key_size": {
        "description": [
            "Bits of the key: V(256) for V(ec), V(2048) for V(rsa), the only sizes KSeF takes. Defaults to the"
            " size of O(@key_type).",
        ],
        "type": "int",
    },
    "state": {
        "description": [
            "V(present) makes sure an Active certificate with this name and type exists, valid for longer than"
            " O(@renew_before), and that every store holds it with its key.",
            "V(absent) revokes every Active certificate with this name.",
        ],
        "type": "str",
        "choices": ["present", "absent"],
        "default": "present",
    },
    "renew_before": {
        "description": [
            "Renew the certificate once its end of validity (C(validTo)) is this close, for example V(30d), V(2w)"
            " or V(12h). KSeF decides how long a certificate is valid.",
        ],
        "type": "str",
        "default": "30d",
    },
    "renew": {
        "description": [
            "Enroll a successor now even though the current certificate is fine (a compromised key, a schedule)."
            " Not idempotent on purpose: every run with V(true) renews.",
        ],
        "type": "bool",
        "default": False,
    },
    "valid_from": {
        "description": [
            "When a new certificate becomes valid (ISO 8601, for example V(2027-01-01T00:00:00Z)); KSeF's"
            " C(validFrom). Not set means from its issue. It is the only part of the validity KSeF lets a request"
            " choose; C(validTo) is KSeF's.",
            "A certificate valid only later cannot be proven by a login; its predecessor is kept until then.",
        ],
        "type": "str",
    },
    "revoke_previous_after": {
        "description": [
            "Grace period before a renewed or replaced certificate is revoked, counted from the issue of its"
            " successor. V(0s) revokes it in the same run, after every store holds the successor.",
        ],
        "type": "str",
        "default": "0s",
    },
    "verify": {
        "description": [
            "Prove a new V(Authentication) certificate by logging in with it (XAdES) before any store is"
            " written. An V(Offline) certificate is checked locally (key usage, key pair): it cannot log in.",
        ],
        "type": "bool",
        "default": True,
    },
    "purge": {
        "description": [
            "With O(@state=absent), remove the revoked certificate and its key from every store.",
        ],
        "type": "bool",
        "default": True,
    },
    "force": {
        "description": [
            "With O(@state=absent), also revoke the certificate this run logs in with (C(auth.certificate) or"
            " C(auth.pkcs12)) and empty its stores. Without it such a run fails before any change, naming the"
            " certificate: revoking it would lock the run's later tasks and every later run that logs in with it"
            " out. A name that C(exclusive: managed) would revoke is refused the same way; declare it to keep it.",
            "Also lets the run supersede or revoke a live certificate of this name that no store of this host holds"
            " and this controller did not enroll for this context (its stores were lost). Without it such a"
            " certificate is taken for another host's (the same certificate declared on two hosts) and the run"
            " fails before any change.",
        ],
        "type": "bool",
        "default": False,
    },
    "store": STORE_SCHEMA,
}

CERTIFICATE_OPTIONS = argument_spec(CERTIFICATE_SCHEMA)
