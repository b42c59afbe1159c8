# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A KSeF certificate and its private key as one value: the key made here, the CSR KSeF takes, the PEM bundle the
stores keep (certificate first, then the unencrypted PKCS#8 key), and its PKCS#12 form.

The bundle is the secret value of a managed certificate, as a token's value is of a token: it reaches KSeF never
(only the CSR, which holds the public key) and the stores only.
"""

from __future__ import annotations

import base64

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID
except ImportError:  # pragma: no cover - the module reports the missing library
    x509 = None  # type: ignore[assignment]

# The key types KSeF takes for a CSR (certyfikaty-KSeF.md): RSA 2048 or EC P-256; EC is recommended.
KEY_TYPES = {"ec": (256,), "rsa": (2048,)}
DEFAULT_KEY_SIZES = {"ec": 256, "rsa": 2048}
BEGIN_CERTIFICATE = "-----BEGIN CERTIFICATE-----"

# CertificateEnrollmentDataResponse field -> attribute, in the order of the documentation's OID table.
_ENROLLMENT_ATTRIBUTES = (
    ("commonName", "COMMON_NAME"),
    ("surname", "SURNAME"),
    ("serialNumber", "SERIAL_NUMBER"),
    ("countryName", "COUNTRY_NAME"),
    ("organizationName", "ORGANIZATION_NAME"),
    ("givenName", "GIVEN_NAME"),
    ("uniqueIdentifier", "X500_UNIQUE_IDENTIFIER"),
    ("organizationIdentifier", "ORGANIZATION_IDENTIFIER"),
)


class BundleError(KsefError):
    """A value that is not a certificate with its private key."""


def _serialization():
    """cryptography's serialization, imported at the first use: it loads SSH keys, ciphers and bcrypt with it (about
    4 ms of every module process), and a run that only reads a certificate, or holds none, never needs it."""
    from cryptography.hazmat.primitives import serialization

    return serialization


def generate_key(key_type: str, key_size: int):
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key) -> str:
    serialization = _serialization()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def load_key(pem: str):
    return _serialization().load_pem_private_key(pem.encode("ascii"), password=None)


def csr_base64(key, enrollment_data: dict) -> str:
    """Base64 of the DER PKCS#10 request for `key` with exactly the subject KSeF returned (any change: 25003)."""
    attributes = []
    for field, oid_name in _ENROLLMENT_ATTRIBUTES:
        value = enrollment_data.get(field)
        for item in value if isinstance(value, list) else [value]:
            if item not in (None, ""):
                attributes.append(x509.NameAttribute(getattr(NameOID, oid_name), str(item)))
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes)).sign(key, hashes.SHA256())
    return base64.b64encode(csr.public_bytes(_serialization().Encoding.DER)).decode("ascii")


def compose(certificate_der_base64: str, key) -> str:
    """The bundle: certificate PEM, then the PKCS#8 key PEM (no trailing newline; files add one)."""
    serialization = _serialization()
    certificate = x509.load_der_x509_certificate(base64.b64decode(certificate_der_base64))
    if certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        raise BundleError("KSeF returned a certificate for another public key than the one this run enrolled")
    return (certificate.public_bytes(serialization.Encoding.PEM).decode("ascii") + key_pem(key)).strip()


def validity(certificate_der_base64: str) -> tuple:
    """(notBefore, notAfter) of a certificate KSeF returned (Base64 DER), as aware datetimes."""
    certificate = x509.load_der_x509_certificate(base64.b64decode(certificate_der_base64))
    return certificate.not_valid_before_utc, certificate.not_valid_after_utc


def certificate_of(value: str | None):
    """The certificate at the start of a bundle, or None when `value` is not one."""
    if not value or BEGIN_CERTIFICATE not in value or x509 is None:
        return None
    try:
        return x509.load_pem_x509_certificate(value.encode("ascii", "ignore"))
    except ValueError:
        return None


def serial_number(value: str | None) -> str | None:
    """The KSeF serial number (16 upper-case hex digits) of the certificate in a bundle, or None."""
    certificate = certificate_of(value)
    return None if certificate is None else "%016X" % certificate.serial_number


def split(value: str):
    """(certificate, private key) of a bundle; BundleError when either is missing or they do not match."""
    certificate = certificate_of(value)
    if certificate is None:
        raise BundleError("the value holds no PEM certificate")
    serialization = _serialization()
    try:
        key = serialization.load_pem_private_key(value.encode("ascii", "ignore"), password=None)
    except (ValueError, TypeError):
        raise BundleError("the value holds no unencrypted PEM private key next to the certificate") from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, spki) != certificate.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ):
        raise BundleError("the private key does not belong to the certificate")
    return certificate, key


def to_pkcs12(value: str, passphrase: str, friendly_name: str) -> bytes:
    from cryptography.hazmat.primitives.serialization import pkcs12

    certificate, key = split(value)
    return pkcs12.serialize_key_and_certificates(
        friendly_name.encode("utf-8"),
        key,
        certificate,
        None,
        _serialization().BestAvailableEncryption(passphrase.encode("utf-8")),
    )


def from_pkcs12(data: bytes, passphrase: str) -> str:
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        key, certificate, _chain = pkcs12.load_key_and_certificates(data, passphrase.encode("utf-8"))
    except ValueError:
        raise BundleError(
            "cannot open the PKCS#12 file with the passphrase (wrong passphrase, or not PKCS#12)"
        ) from None
    if key is None or certificate is None:
        raise BundleError("the PKCS#12 file must hold a certificate and its private key")
    return compose(base64.b64encode(certificate.public_bytes(_serialization().Encoding.DER)).decode("ascii"), key)
