"""Small shared helpers for the store tests (token values shaped like KSeF's, certificate bundles, a TokenMeta)."""
from __future__ import annotations

import secrets

from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import TokenMeta

CONTEXT = "nip-5265877635"


def token_value(reference_number: str | None = None, context: str = CONTEXT) -> tuple[str, str]:
    """(value, reference number) of a fresh value shaped like a KSeF token."""
    ref = reference_number or f"20251010-EC-{secrets.token_hex(5).upper()}-{secrets.token_hex(5).upper()}-{secrets.token_hex(1).upper()}"
    return f"{ref}|{context}|{secrets.token_hex(32)}", ref


def jwt_with(claims: dict) -> str:
    """An unsigned-looking JWT carrying `claims` (KSeF's access and refresh tokens are JWTs)."""
    import base64
    import json

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{secrets.token_urlsafe(64)}"


def meta_for(reference_number: str, name: str = "erp-sender") -> TokenMeta:
    return TokenMeta(name=name, reference_number=reference_number, permissions=["InvoiceRead", "InvoiceWrite"],
                     created="2025-10-10T08:00:00+00:00", context=CONTEXT)


def certificate_value(key_type: str = "rsa") -> tuple[str, str]:
    """(bundle, serial number) of a certificate with its key, as the certificate module stores it (RSA: the
    largest bundle a store must take)."""
    import base64
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    from ansible_collections.ksef.credentials.plugins.module_utils import _certificate_bundle

    key = _certificate_bundle.generate_key(key_type, 2048 if key_type == "rsa" else 256)
    serial = secrets.randbits(60) | (1 << 60)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Firma Kowalski Sp. z o.o.")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(serial).not_valid_before(datetime.datetime(2026, 1, 1))
                   .not_valid_after(datetime.datetime(2028, 1, 1)).sign(key, hashes.SHA256()))
    der = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
    return _certificate_bundle.compose(der, key), "%016X" % serial
