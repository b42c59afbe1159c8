# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build and XAdES-sign the KSeF 2.0 AuthTokenRequest; load the signing certificate and key.

The signature is XAdES-BES, enveloped, made by signxml (auth/podpis-xades.md): RSA-SHA256 (PKCS#1 v1.5) or
ECDSA-SHA256 (R||S), SHA-256 digests, inclusive C14N, SignedProperties with SigningTime and
SigningCertificateV2, KeyInfo with the X509Certificate.

Error messages name the option at fault and never contain key material or passphrases.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import pkcs12 as pkcs12_format
    from cryptography.x509.oid import NameOID
    from lxml import etree
    from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureConstructionMethod, SignatureMethod
    from signxml.xades import XAdESSigner
except ImportError as exc:  # reported by KsefModule through missing_required_lib when XAdES login is asked for
    XADES_IMPORT_ERROR: ImportError | None = exc
    XADES_MISSING_LIBRARY: str | None = (exc.name or "signxml").partition(".")[0]
else:
    XADES_IMPORT_ERROR = None
    XADES_MISSING_LIBRARY = None

AUTH_NAMESPACE = "http://ksef.mf.gov.pl/auth/token/2.0"
CONTEXT_ELEMENTS = {"nip": "Nip", "internalid": "InternalId", "nipvatue": "NipVatUe"}
SUBJECT_IDENTIFIER_TYPES = ("certificateSubject", "certificateFingerprint")
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256

# Identifier patterns KSeF reads from the certificate subject (auth/podpis-xades.md).
PESEL_PATTERN = re.compile(r"(PNOPL|PESEL).*?(\d{11})")
NIP_PATTERN = re.compile(r"(TINPL|NIP).*?(\d{10})")
SEAL_NIP_PATTERN = re.compile(r"(VATPL).*?(\d{10})")


class XadesCredentialsError(KsefConfigError):
    """A signing credential option is unusable; `option` (also `option_name`) says which one."""

    def __init__(self, option_name: str, message: str):
        super().__init__(option_name, f"{option_name}: {message}")
        self.option_name = option_name
        self.reason = message


@dataclass(frozen=True)
class SigningCredentials:
    """The certificate a XAdES login signs with, and its private key (never shown)."""

    certificate: x509.Certificate
    private_key: Any = field(repr=False)  # rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


# ---------------------------------------------------------------- the request document


def build_auth_token_request(
    challenge: str,
    context_type: str,
    context_value: str,
    subject_identifier_type: str = "certificateSubject",
    authorization_policy: dict | None = None,
) -> bytes:
    """The unsigned AuthTokenRequest (schema v2.0). authorization_policy is shaped like the JSON one:
    {"allowedIps": {"ip4Addresses": [...], "ip4Ranges": [...], "ip4Masks": [...]}}."""
    element = CONTEXT_ELEMENTS.get(str(context_type).replace("_", "").lower())
    if element is None:
        raise ValueError(f"context type {context_type!r} is not one of Nip, InternalId, NipVatUe")
    if subject_identifier_type not in SUBJECT_IDENTIFIER_TYPES:
        raise ValueError(
            f"subject identifier type {subject_identifier_type!r} is not one of {', '.join(SUBJECT_IDENTIFIER_TYPES)}"
        )

    def sub(parent, name, text=None):
        child = etree.SubElement(parent, f"{{{AUTH_NAMESPACE}}}{name}")
        if text is not None:
            child.text = str(text)
        return child

    root = etree.Element(f"{{{AUTH_NAMESPACE}}}AuthTokenRequest", nsmap={None: AUTH_NAMESPACE})
    sub(root, "Challenge", challenge)
    sub(sub(root, "ContextIdentifier"), element, context_value)
    sub(root, "SubjectIdentifierType", subject_identifier_type)
    allowed = (authorization_policy or {}).get("allowedIps")
    if allowed:
        ips = sub(sub(root, "AuthorizationPolicy"), "AllowedIps")
        # The XSD sequence order: addresses, then ranges, then masks.
        for key, name in (("ip4Addresses", "Ip4Address"), ("ip4Ranges", "Ip4Range"), ("ip4Masks", "Ip4Mask")):
            for value in allowed.get(key) or ():
                sub(ips, name, value)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


# ---------------------------------------------------------------- credentials


def looks_like_content(value) -> bool:
    """Whether an option that takes a path or the content itself holds the content (PEM, DER)."""
    if isinstance(value, bytes):
        return value.lstrip().startswith(b"-----BEGIN") or value[:1] == b"\x30"
    return "-----BEGIN" in value or "\n" in value


def _read(option: str, value, echo_path: bool) -> bytes:
    """Return the option's bytes: the value itself (PEM/DER content) or the file it names."""
    if looks_like_content(value):
        return value if isinstance(value, bytes) else value.encode()
    path = value.decode() if isinstance(value, bytes) else value
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        where = f" {path}" if echo_path else ""
        raise XadesCredentialsError(option, f"cannot read the file{where}: {exc.strerror}") from None


def _load_certificate(option: str, data: bytes) -> x509.Certificate:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise XadesCredentialsError(option, "is not a PEM or DER X.509 certificate") from None


def _load_private_key(data: bytes, passphrase: str | None):
    password = passphrase.encode() if passphrase else None
    encrypted = b"ENCRYPTED" in data
    loader = serialization.load_pem_private_key if b"-----BEGIN" in data else serialization.load_der_private_key
    try:
        return loader(data, password if encrypted else None)
    except TypeError:
        raise XadesCredentialsError(
            "private_key_passphrase", "the private key is encrypted; a passphrase is required"
        ) from None
    except ValueError:
        if encrypted and password:
            raise XadesCredentialsError("private_key_passphrase", "wrong passphrase for private_key") from None
        raise XadesCredentialsError("private_key", "is not a PEM or DER private key") from None
    except Exception:  # noqa: BLE001 - unsupported algorithms raise library-specific errors
        raise XadesCredentialsError("private_key", "is not a usable private key") from None


def _check_key(option: str, key, certificate: x509.Certificate) -> None:
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise XadesCredentialsError(
                option, f"RSA key of {key.key_size} bits; KSeF requires at least {MIN_RSA_BITS}"
            )
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.key_size < MIN_EC_BITS:
            raise XadesCredentialsError(
                option, f"EC curve {key.curve.name} of {key.curve.key_size} bits; KSeF requires at least {MIN_EC_BITS}"
            )
    else:
        raise XadesCredentialsError(option, f"unsupported key type {type(key).__name__}; use RSA or ECDSA")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, spki) != certificate.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ):
        raise XadesCredentialsError(option, "does not match the certificate's public key")


def _check_validity(option: str, certificate: x509.Certificate, now: datetime.datetime | None = None) -> None:
    """KSeF refuses a certificate outside its validity (21115) after a challenge and a signature: say so first."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if now > certificate.not_valid_after_utc:
        raise XadesCredentialsError(
            option,
            "the certificate expired on %s and KSeF refuses it (21115); renew it, or give a valid one"
            % certificate.not_valid_after_utc.isoformat(),
        )
    if now < certificate.not_valid_before_utc:
        raise XadesCredentialsError(
            option,
            "the certificate is valid only from %s and KSeF refuses it until then (21115)"
            % certificate.not_valid_before_utc.isoformat(),
        )


def load_signing_credentials(
    certificate=None,
    private_key=None,
    private_key_passphrase: str | None = None,
    pkcs12=None,
    pkcs12_passphrase: str | None = None,
) -> SigningCredentials:
    """Load the XAdES signing certificate and key: PEM (path or content) for certificate and private_key,
    or a PKCS#12 file (path or bytes). Raises XadesCredentialsError naming the option at fault."""
    if pkcs12 is not None and (certificate is not None or private_key is not None):
        raise XadesCredentialsError("pkcs12", "is mutually exclusive with certificate and private_key")
    if pkcs12 is not None:
        data = _read("pkcs12", pkcs12, echo_path=True)
        password = pkcs12_passphrase.encode() if pkcs12_passphrase else None
        try:
            key, cert, _chain = pkcs12_format.load_key_and_certificates(data, password)
        except ValueError:
            if data[:1] != b"\x30":
                raise XadesCredentialsError("pkcs12", "is not a PKCS#12 file") from None
            raise XadesCredentialsError(
                "pkcs12_passphrase", "wrong passphrase for pkcs12, or a damaged PKCS#12 file"
            ) from None
        if cert is None or key is None:
            raise XadesCredentialsError("pkcs12", "must hold both the certificate and its private key")
        _check_key("pkcs12", key, cert)
        _check_validity("pkcs12", cert)
        return SigningCredentials(cert, key)
    if certificate is None or private_key is None:
        missing = "certificate" if certificate is None else "private_key"
        raise XadesCredentialsError(missing, "is required for XAdES authentication (or give pkcs12)")
    cert = _load_certificate("certificate", _read("certificate", certificate, echo_path=True))
    key = _load_private_key(_read("private_key", private_key, echo_path=False), private_key_passphrase)
    _check_key("private_key", key, cert)
    _check_validity("certificate", cert)
    return SigningCredentials(cert, key)


# ---------------------------------------------------------------- identity


def certificate_identity(cert: x509.Certificate) -> dict:
    """What KSeF reads from the certificate: {"type": "Nip"|"Pesel"|"Fingerprint", "value", "fingerprint",
    "kind": "person"|"seal"}. "Fingerprint" means the subject has no identifier KSeF recognises."""

    def values(oid):
        return [str(a.value) for a in cert.subject.get_attributes_for_oid(oid)]

    fingerprint = cert.fingerprint(hashes.SHA256()).hex().upper()
    for org_id in values(NameOID.ORGANIZATION_IDENTIFIER):
        match = SEAL_NIP_PATTERN.search(org_id)
        if match:
            return {"type": "Nip", "value": match.group(2), "fingerprint": fingerprint, "kind": "seal"}
    for serial in values(NameOID.SERIAL_NUMBER):
        for id_type, pattern in (("Pesel", PESEL_PATTERN), ("Nip", NIP_PATTERN)):
            match = pattern.search(serial)
            if match:
                return {"type": id_type, "value": match.group(2), "fingerprint": fingerprint, "kind": "person"}
    person = bool(values(NameOID.GIVEN_NAME) or values(NameOID.SURNAME)) or not values(NameOID.ORGANIZATION_NAME)
    return {
        "type": "Fingerprint",
        "value": fingerprint,
        "fingerprint": fingerprint,
        "kind": "person" if person else "seal",
    }


def check_subject_identifier(
    credentials: SigningCredentials, subject_identifier_type: str, option_name: str = "certificate"
) -> dict:
    """Fail early when certificateSubject is asked of a certificate without a NIP/PESEL; return its identity."""
    identity = certificate_identity(credentials.certificate)
    if subject_identifier_type == "certificateSubject" and identity["type"] == "Fingerprint":
        raise XadesCredentialsError(
            option_name,
            "the certificate subject has no NIP or PESEL that KSeF recognises "
            "(serialNumber TINPL-/PNOPL-, organizationIdentifier VATPL-); "
            "use subject identifier type certificateFingerprint "
            f"(fingerprint {identity['fingerprint']})",
        )
    return identity


def check_acts_as_context(identity: dict, context, option_name: str = "certificate") -> None:
    """Fail before any request when the certificate names a NIP other than the context's: KSeF refuses that login
    with 415 unless the NIP was granted permissions in the context (auth.on_behalf says it was)."""
    if identity["type"] != "Nip" or context.type not in ("Nip", "InternalId"):
        return  # a PESEL or a fingerprint may act for any context it holds permissions in: KSeF decides
    context_nip = context.value.split("-")[0]
    if identity["value"] == context_nip:
        return
    option = "context.nip" if context.type == "Nip" else "context.internal_id"
    raise XadesCredentialsError(
        option_name,
        f"the certificate is NIP {identity['value']}'s ({identity['kind']}), but the context is {context}: KSeF "
        f"refuses that login (415, no permissions) unless NIP {identity['value']} was granted permissions in it. "
        f"Log in with the certificate of NIP {context_nip}, or set {option} to the certificate's NIP; if NIP "
        f"{identity['value']} acts for this context with granted permissions (an accounting office, a "
        "representative), set auth.on_behalf: true",
    )


# ---------------------------------------------------------------- signing


def sign_auth_token_request(xml: bytes, credentials: SigningCredentials) -> bytes:
    """XAdES-BES enveloped signature over the whole AuthTokenRequest."""
    key = credentials.private_key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = SignatureMethod.ECDSA_SHA384 if key.curve.key_size >= 384 else SignatureMethod.ECDSA_SHA256
    else:
        algorithm = SignatureMethod.RSA_SHA256
    signer = XAdESSigner(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=algorithm,
        digest_algorithm=DigestAlgorithm.SHA256,
        # Inclusive C14N: signxml digests SignedProperties and KeyInfo with this method but writes no Transform
        # for them, and verifiers canonicalize transform-less references inclusively; exclusive would not verify.
        c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0,
    )
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    signed = signer.sign(etree.fromstring(xml, parser=parser), key=key, cert=[credentials.certificate])
    return etree.tostring(signed, xml_declaration=True, encoding="utf-8")
