"""Parse, validate and verify a XAdES-signed AuthTokenRequest (POST /auth/xades-signature).

Only what the document itself proves is checked here: encoding, XSD (v2.0 or v2.1 by namespace), the
signature (enveloped or enveloping, never detached) with the certificate carried in KeyInfo (self-signed
accepted, as on KSeF TEST), key strength and the subject identity read from the certificate
(auth/podpis-xades.md). The challenge, the subject's rights in the context and expiry are the caller's job.

Every failure is an `XadesError` carrying the exception code and description of the 400 table of
POST /auth/xades-signature in open-api.json.
"""

from __future__ import annotations

import base64
import datetime
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import DigestAlgorithm, SignatureConfiguration, SignatureMethod, XMLVerifier
from signxml.exceptions import InvalidCertificate, SignXMLException
from signxml.xades import XAdESSignatureConfiguration, XAdESVerifier

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
NS_AUTH = {"http://ksef.mf.gov.pl/auth/token/2.0": "2.0", "http://ksef.mf.gov.pl/auth/token/2.1": "2.1"}
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_XADES = "http://uri.etsi.org/01903/v1.3.2#"
DS_SIGNATURE = f"{{{NS_DS}}}Signature"
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"
ENVELOPED_TRANSFORM = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
NSMAP = {"ds": NS_DS, "xades": NS_XADES}

# Exception codes and descriptions of the 400 table of POST /auth/xades-signature (open-api.json).
UNREADABLE = 21001
INVALID_CERTIFICATE = 21115
SUBJECT_INVALID_FOR_CONTEXT = 21117
BAD_ENCODING = 21217
SCHEMA_INVALID = 21401
SIGNATURE_AUTH_TYPE_CONFLICT = 21406
INVALID_DOCUMENT = 9101
NO_SIGNATURE = 9102
TOO_MANY_SIGNATURES = 9103
INVALID_SIGNATURE = 9105
DESCRIPTIONS = {
    UNREADABLE: "Nieczytelna treść.",
    INVALID_CERTIFICATE: "Nieprawidłowy certyfikat.",
    SUBJECT_INVALID_FOR_CONTEXT: "Nieprawidłowy identyfikator podmiotu dla wskazanego typu kontekstu.",
    BAD_ENCODING: "Nieprawidłowe kodowanie znaków.",
    SCHEMA_INVALID: "Dokument nie jest zgodny ze schemą (xsd).",
    SIGNATURE_AUTH_TYPE_CONFLICT: "Konflikt podpisu i typu uwierzytelnienia.",
    INVALID_DOCUMENT: "Nieprawidłowy dokument.",
    NO_SIGNATURE: "Brak podpisu.",
    TOO_MANY_SIGNATURES: "Przekroczona liczba dozwolonych podpisów.",
    INVALID_SIGNATURE: "Nieprawidłowy podpis.",
}

# The XAdES profile of auth/podpis-xades.md. Anything signxml can verify but is not listed here is "non-compliant":
# refused under X-KSeF-Feature: enforce-xades-compliance, otherwise accepted with warning sig-001.
DOCUMENTED_SIGNATURE_METHODS = frozenset(
    {
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        "http://www.w3.org/2007/05/xmldsig-more#sha1-rsa-MGF1",
        "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1",
        "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1",
        "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1",
        "http://www.w3.org/2007/05/xmldsig-more#sha3-256-rsa-MGF1",
        "http://www.w3.org/2007/05/xmldsig-more#sha3-384-rsa-MGF1",
        "http://www.w3.org/2007/05/xmldsig-more#sha3-512-rsa-MGF1",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
        "http://www.w3.org/2021/04/xmldsig-more#ecdsa-sha3-256",
        "http://www.w3.org/2021/04/xmldsig-more#ecdsa-sha3-384",
        "http://www.w3.org/2021/04/xmldsig-more#ecdsa-sha3-512",
    }
)
DOCUMENTED_DIGEST_METHODS = frozenset(
    {
        "http://www.w3.org/2000/09/xmldsig#sha1",
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2001/04/xmldsig-more#sha384",
        "http://www.w3.org/2001/04/xmlenc#sha512",
        "http://www.w3.org/2007/05/xmldsig-more#sha3-256",
        "http://www.w3.org/2007/05/xmldsig-more#sha3-384",
        "http://www.w3.org/2007/05/xmldsig-more#sha3-512",
    }
)
# Documented transforms the emulator evaluates. The two XPath transforms of the list are documented too, but
# signxml does not evaluate XPath, so the emulator refuses them rather than verify something else than was signed.
SUPPORTED_TRANSFORMS = frozenset(
    {
        ENVELOPED_TRANSFORM,
        "http://www.w3.org/2000/09/xmldsig#base64",
        "http://www.w3.org/2006/12/xml-c14n11",
        "http://www.w3.org/2006/12/xml-c14n11#WithComments",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
        "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    }
)
UNSUPPORTED_DOCUMENTED_TRANSFORMS = frozenset(
    {
        "http://www.w3.org/TR/1999/REC-xpath-19991116",
        "http://www.w3.org/2002/06/xmldsig-filter2",
    }
)
# signxml verifies these; HMAC and DSA have no place in a certificate-based KSeF signature.
VERIFIABLE_SIGNATURE_METHODS = frozenset(m for m in SignatureMethod if not m.name.startswith(("HMAC", "DSA")))
VERIFIABLE_DIGESTS = frozenset(DigestAlgorithm)

# The stricter profile the real service applies under X-KSeF-Feature: enforce-xades-compliance refuses RSA-PSS and
# SHA-1 even though auth/podpis-xades.md still lists them; --lenient-xades accepts them again (as TEST did before).
STRICT_PROFILE_REFUSED_METHODS = frozenset(m for m in DOCUMENTED_SIGNATURE_METHODS if "MGF1" in m or "sha1" in m)
STRICT_PROFILE_REFUSED_DIGESTS = frozenset({"http://www.w3.org/2000/09/xmldsig#sha1"})

SIG_001 = "sig-001"
SIG_001_MESSAGE = (
    "Podpis XAdES nie spelnia wymagan profilu KSeF ({reasons}). Po wlaczeniu walidacji "
    "(X-KSeF-Feature: enforce-xades-compliance) zadanie zostanie odrzucone."
)

# Identifier patterns of auth/podpis-xades.md.
PERSON_PESEL = re.compile(r"(PNOPL|PESEL).*?(\d{11})")
PERSON_NIP = re.compile(r"(TINPL|NIP).*?(\d{10})")
SEAL_NIP = re.compile(r"(VATPL).*?(\d{10})")
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256


class XadesError(Exception):
    """A refusal with the official exception code; `details` never hold key material."""

    def __init__(self, code: int, description: str | None = None, details: list[str] | None = None):
        self.code = code
        self.description = description or DESCRIPTIONS[code]
        self.details = list(details or [])
        super().__init__(f"{code} {self.description}" + (f" ({'; '.join(self.details)})" if self.details else ""))


@dataclass
class VerifiedAuthRequest:
    challenge: str | None
    context_type: str  # "Nip" | "InternalId" | "NipVatUe" | "PeppolId"
    context_value: str
    subject_identifier_type: str | None  # "certificateSubject" | "certificateFingerprint"
    subject_type: str  # "Nip" | "Pesel" | "Fingerprint"
    subject_value: str
    certificate_fingerprint: str  # SHA-256 of the DER certificate, hex upper case
    authentication_method: str  # "QualifiedSignature" | "QualifiedSeal"
    authorization_policy: dict | None  # {"allowedIps": {"ip4Addresses": [...], "ip4Ranges": [...], "ip4Masks": [...]}}
    warnings: list[str] = field(default_factory=list)  # "[sig-001]: ..." entries for X-System-Warning
    schema_version: str = "2.0"
    certificate_der: bytes = field(default=b"", repr=False)


def fail(code: int, *details: str) -> XadesError:
    return XadesError(code, details=list(details))


# ---------------------------------------------------------------- parsing


def _parse(xml: bytes) -> etree._Element:
    if not isinstance(xml, (bytes, bytearray)) or not xml.strip():
        raise fail(UNREADABLE, "empty request body")
    data = bytes(xml)
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")):
        raise fail(BAD_ENCODING, "the document must be encoded in UTF-8")
    declared = re.match(rb"^(?:\xef\xbb\xbf)?<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']", data)
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise fail(BAD_ENCODING, f"declared encoding {declared.group(1).decode()!r}; UTF-8 is required")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(BAD_ENCODING, f"invalid UTF-8 byte sequence at offset {exc.start}") from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise fail(UNREADABLE, f"XML syntax error: {exc.msg}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        raise fail(INVALID_DOCUMENT, "DTD declarations are not allowed")
    return root


# libxml2 is not thread-safe while it builds an XML schema (its table of built-in types is set up by the first
# build): parallel first requests once left it broken until a restart (XMLSchemaParseError "Internal error:
# xmlSchemaPValAttrNodeValue"). So every schema this module uses, ours and signxml's, is built once under this lock
# when the module is imported, before the server runs a request; validation with a shared schema object, whose
# error log is per object, holds the lock too.
_SCHEMA_LOCK = threading.Lock()


def _build_schema(version: str) -> etree.XMLSchema:
    def load(name: str) -> etree._ElementTree:
        return etree.parse(str(SCHEMA_DIR / name))

    doc = load("schemat_auth_v2-0.xsd" if version == "2.0" else "schemat_auth_v2-1.xsd")
    if version == "2.0":
        # The v2.0 IP patterns ("^...\b...$") are not valid XSD regular expressions, so libxml2 cannot compile
        # them; v2.1 fixed exactly these three patterns (api-changelog 2.5.0), so v2.0 is checked with them.
        fixed = {
            el.get("name"): el.find(".//{*}pattern").get("value")
            for el in load("schemat_auth_v2-1.xsd").iter("{*}element")
            if el.get("name") in ("Ip4Address", "Ip4Range", "Ip4Mask")
        }
        for el in doc.iter("{*}element"):
            if el.get("name") in fixed:
                el.find(".//{*}pattern").set("value", fixed[el.get("name")])
    # XSD patterns are implicitly anchored and "^"/"$" are literal characters in them; the official schemas use
    # them as anchors (NipVatUe, PeppolId), which a strict validator would turn into "never matches".
    for pattern in doc.iter("{*}pattern"):
        value = pattern.get("value")
        pattern.set("value", value[1 if value.startswith("^") else 0 : -1 if value.endswith("$") else None])
    return etree.XMLSchema(doc)


def _build_schemas() -> dict[str, etree.XMLSchema]:
    with _SCHEMA_LOCK:
        schemas = {version: _build_schema(version) for version in sorted(set(NS_AUTH.values()))}
        XMLVerifier.schemas()
        XAdESVerifier.schemas()
    return schemas


_SCHEMAS = _build_schemas()


def _schema(version: str) -> etree.XMLSchema:
    return _SCHEMAS[version]


def _validate_schema(request: etree._Element) -> str:
    qname = etree.QName(request)
    if qname.localname != "AuthTokenRequest" or qname.namespace not in NS_AUTH:
        raise fail(
            SCHEMA_INVALID,
            f"unexpected root element {request.tag}; expected AuthTokenRequest in namespace {' or '.join(NS_AUTH)}",
        )
    version = NS_AUTH[qname.namespace]
    standalone = etree.fromstring(etree.tostring(request))
    schema = _schema(version)
    with _SCHEMA_LOCK:
        valid = schema.validate(standalone)
        messages = [f"line {e.line}: {e.message}" for e in schema.error_log][:10]
    if not valid:
        raise fail(SCHEMA_INVALID, *messages)
    return version


# ---------------------------------------------------------------- signature structure


def _element_by_id(scope: etree._Element, ident: str) -> etree._Element | None:
    found = scope.xpath("descendant-or-self::*[@Id=$i or @ID=$i or @id=$i]", i=ident)
    return found[0] if len(found) == 1 else None


@dataclass
class _Layout:
    mode: str  # "enveloped" | "enveloping"
    data_reference_index: int
    has_signed_properties: bool
    request_view: etree._Element  # the (not yet verified) AuthTokenRequest, for early XSD validation


def _layout(root: etree._Element, signature: etree._Element) -> _Layout:
    enveloping = root is signature
    if not enveloping and signature.getparent() is not root:
        raise fail(
            INVALID_SIGNATURE,
            "ds:Signature must be a child of AuthTokenRequest (enveloped) or the document root (enveloping)",
        )
    references = signature.findall("ds:SignedInfo/ds:Reference", NSMAP)
    data_refs, has_props = [], False
    for index, ref in enumerate(references):
        uri = ref.get("URI")
        target = _element_by_id(signature, uri[1:]) if uri and uri.startswith("#") else None
        is_props = ref.get("Type") == SIGNED_PROPERTIES_TYPE or (
            target is not None and target.tag == f"{{{NS_XADES}}}SignedProperties"
        )
        if is_props:
            has_props = True
        elif target is not None and target.tag == f"{{{NS_DS}}}KeyInfo":
            continue
        else:
            data_refs.append((index, ref, uri, target))
        for transform in ref.findall("ds:Transforms/ds:Transform", NSMAP):
            algorithm = transform.get("Algorithm")
            if algorithm in UNSUPPORTED_DOCUMENTED_TRANSFORMS:
                raise fail(
                    INVALID_SIGNATURE,
                    f"transform {algorithm} is not supported by the emulator; use {ENVELOPED_TRANSFORM}",
                )
            if algorithm not in SUPPORTED_TRANSFORMS:
                raise fail(INVALID_SIGNATURE, f"transform {algorithm} is not allowed")
    if len(data_refs) != 1:
        raise fail(
            INVALID_SIGNATURE,
            f"expected exactly one reference to the AuthTokenRequest document, found {len(data_refs)}",
        )
    index, ref, uri, target = data_refs[0]
    transforms = {t.get("Algorithm") for t in ref.findall("ds:Transforms/ds:Transform", NSMAP)}
    if not enveloping and uri == "" and ENVELOPED_TRANSFORM in transforms:
        view = etree.fromstring(etree.tostring(root))
        view.remove(view.find("ds:Signature", NSMAP))
        return _Layout("enveloped", index, has_props, view)
    if enveloping and target is not None and target.tag == f"{{{NS_DS}}}Object" and target.getparent() is signature:
        children = [c for c in target if isinstance(c.tag, str)]
        if len(children) == 1:
            return _Layout("enveloping", index, has_props, children[0])
        raise fail(INVALID_SIGNATURE, "the signed ds:Object must hold exactly the AuthTokenRequest element")
    raise fail(
        INVALID_SIGNATURE,
        "detached signatures are not accepted: sign the AuthTokenRequest enveloped "
        "(Reference URI=\"\" with the enveloped-signature transform) or enveloping",
    )


# ---------------------------------------------------------------- certificate


def _signing_certificate(signature: etree._Element) -> x509.Certificate:
    certs = signature.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NSMAP)
    if not certs:
        raise fail(INVALID_CERTIFICATE, "KeyInfo carries no X509Certificate")
    try:
        # The signing certificate comes first in X509Data (XMLDSig practice; signxml and .NET/Java clients).
        cert = x509.load_der_x509_certificate(_b64(certs[0].text or ""))
    except ValueError:
        raise fail(INVALID_CERTIFICATE, "X509Certificate is not a valid DER certificate") from None
    now = datetime.datetime.now(datetime.timezone.utc)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise fail(INVALID_CERTIFICATE, "the certificate is outside its validity period")
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise fail(INVALID_CERTIFICATE, f"RSA key of {key.key_size} bits; at least {MIN_RSA_BITS} required")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size < MIN_EC_BITS:
            raise fail(
                INVALID_CERTIFICATE,
                f"EC curve {key.curve.name} of {key.curve.key_size} bits; at least {MIN_EC_BITS} required",
            )
    else:
        raise fail(INVALID_CERTIFICATE, f"unsupported key type {type(key).__name__}; RSA or ECDSA required")
    return cert


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except ValueError:
        raise fail(INVALID_CERTIFICATE, "X509Certificate is not valid base64") from None


@dataclass
class _Identity:
    kind: str  # "person" | "seal"
    id_type: str | None  # "Nip" | "Pesel" | None
    id_value: str | None


def _identity(cert: x509.Certificate) -> _Identity:
    def values(oid) -> list[str]:
        return [str(a.value) for a in cert.subject.get_attributes_for_oid(oid)]

    person = None
    for serial in values(NameOID.SERIAL_NUMBER):
        if m := PERSON_PESEL.search(serial):
            person = ("Pesel", m.group(2))
        elif m := PERSON_NIP.search(serial):
            person = ("Nip", m.group(2))
        if person:
            break
    seal = next(
        (("Nip", m.group(2)) for v in values(NameOID.ORGANIZATION_IDENTIFIER) if (m := SEAL_NIP.search(v))), None
    )
    has_person_names = bool(values(NameOID.GIVEN_NAME) or values(NameOID.SURNAME))
    if person and seal:
        raise fail(
            SIGNATURE_AUTH_TYPE_CONFLICT,
            "the certificate carries both a person identifier (serialNumber) "
            "and an organization identifier (organizationIdentifier)",
        )
    if seal:
        if has_person_names:
            raise fail(INVALID_CERTIFICATE, "a company seal certificate must not carry givenName or surname")
        return _Identity("seal", *seal)
    if person:
        return _Identity("person", *person)
    kind = "seal" if values(NameOID.ORGANIZATION_NAME) and not has_person_names else "person"
    return _Identity(kind, None, None)


# ---------------------------------------------------------------- verification


def _verify_signature(xml: bytes, cert: x509.Certificate, layout: _Layout) -> list:
    location = ".//" if layout.mode == "enveloping" else "./"
    # The key is the certificate's: KSeF identifies the signer by the certificate, and a KeyValue next to it is only
    # a hint (signxml cannot even compare it for RSA-PSS).
    common: dict[str, Any] = dict(
        location=location,
        expect_references=True,
        signature_methods=VERIFIABLE_SIGNATURE_METHODS,
        digest_algorithms=VERIFIABLE_DIGESTS,
        ignore_ambiguous_key_info=True,
    )
    try:
        if layout.has_signed_properties:
            found: Any = XAdESVerifier().verify(
                xml, x509_cert=cert, expect_config=XAdESSignatureConfiguration(**common)
            )
        else:
            found = XMLVerifier().verify(xml, x509_cert=cert, expect_config=SignatureConfiguration(**common))
        return found if isinstance(found, list) else [found]
    except InvalidCertificate as exc:
        raise fail(INVALID_CERTIFICATE, _short(exc)) from None
    except (SignXMLException, etree.DocumentInvalid, ValueError, KeyError) as exc:
        raise fail(INVALID_SIGNATURE, _short(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a malformed signature must be a 400, never a 500
        raise fail(INVALID_SIGNATURE, f"unverifiable signature ({type(exc).__name__})") from None


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]


def _compliance_issues(signature: etree._Element, layout: _Layout) -> list[str]:
    issues = []
    if not layout.has_signed_properties:
        issues.append("brak xades:SignedProperties (podpis XMLDSig zamiast XAdES)")
    method = signature.find("ds:SignedInfo/ds:SignatureMethod", NSMAP).get("Algorithm")
    if method not in DOCUMENTED_SIGNATURE_METHODS:
        issues.append(f"algorytm podpisu spoza listy: {method}")
    elif method in STRICT_PROFILE_REFUSED_METHODS:
        issues.append(f"algorytm podpisu niedozwolony w profilu KSeF (RSA-PSS/SHA-1): {method}")
    digests = {d.get("Algorithm") for d in signature.iterfind(".//ds:DigestMethod", NSMAP)}
    for digest in sorted(digests - DOCUMENTED_DIGEST_METHODS):
        issues.append(f"algorytm skrotu spoza listy: {digest}")
    for digest in sorted(digests & STRICT_PROFILE_REFUSED_DIGESTS):
        issues.append(f"algorytm skrotu niedozwolony w profilu KSeF (SHA-1): {digest}")
    return issues


def _signed_request(results: list, layout: _Layout) -> etree._Element:
    signed = results[layout.data_reference_index].signed_xml
    if signed is None:
        raise fail(INVALID_SIGNATURE, "the signed reference is not XML")
    if layout.mode == "enveloping":
        children = [c for c in signed if isinstance(c.tag, str)]
        signed = children[0] if len(children) == 1 else None
        if signed is None:
            raise fail(INVALID_SIGNATURE, "the signed ds:Object must hold exactly the AuthTokenRequest element")
    return signed


def _text(parent: etree._Element, name: str) -> str | None:
    el = parent.find(f"{{{etree.QName(parent).namespace}}}{name}")
    return None if el is None else (el.text or "").strip()


def _authorization_policy(request: etree._Element) -> dict | None:
    ns = etree.QName(request).namespace
    ips = request.find(f"{{{ns}}}AuthorizationPolicy/{{{ns}}}AllowedIps")
    if ips is None:
        return None

    def items(name: str) -> list[str]:
        return [(e.text or "").strip() for e in ips.findall(f"{{{ns}}}{name}")]

    return {
        "allowedIps": {
            "ip4Addresses": items("Ip4Address"),
            "ip4Ranges": items("Ip4Range"),
            "ip4Masks": items("Ip4Mask"),
        }
    }


def verify_auth_token_request(
    xml: bytes, *, lenient: bool = False, enforce_compliance: bool = False
) -> VerifiedAuthRequest:
    """Verify a signed AuthTokenRequest; raise XadesError with the official code on any refusal.

    enforce_compliance: the request carried `X-KSeF-Feature: enforce-xades-compliance`; a signature outside the
    documented XAdES profile is then refused (9105) unless `lenient`. Otherwise such a signature is accepted and
    `warnings` gets a sig-001 entry for the X-System-Warning header.
    """
    root = _parse(xml)
    signatures = list(root.iter(DS_SIGNATURE))
    root_name = etree.QName(root)
    if root.tag != DS_SIGNATURE and root_name.localname != "AuthTokenRequest":
        raise fail(INVALID_DOCUMENT, f"unexpected root element {root.tag}")
    if not signatures:
        raise fail(NO_SIGNATURE)
    if len(signatures) > 1:
        raise fail(TOO_MANY_SIGNATURES, f"found {len(signatures)} ds:Signature elements; exactly one is allowed")
    signature = signatures[0]
    if (
        signature.find("ds:SignedInfo", NSMAP) is None
        or signature.find("ds:SignedInfo/ds:SignatureMethod", NSMAP) is None
    ):
        raise fail(INVALID_SIGNATURE, "ds:Signature has no SignedInfo/SignatureMethod")

    layout = _layout(root, signature)
    _validate_schema(layout.request_view)
    cert = _signing_certificate(signature)
    issues = _compliance_issues(signature, layout)
    results = _verify_signature(bytes(xml), cert, layout)
    request = _signed_request(results, layout)
    version = _validate_schema(request)  # what was signed is what is read

    warnings: list[str] = []
    if issues:
        if enforce_compliance and not lenient:
            raise fail(INVALID_SIGNATURE, *issues)
        warnings.append(f"[{SIG_001}]: " + SIG_001_MESSAGE.format(reasons="; ".join(issues)))

    ns = etree.QName(request).namespace
    context = next(c for c in request.find(f"{{{ns}}}ContextIdentifier") if isinstance(c.tag, str))
    context_type, context_value = etree.QName(context).localname, (context.text or "").strip()
    subject_identifier_type = _text(request, "SubjectIdentifierType")

    identity = _identity(cert)
    fingerprint = cert.fingerprint(hashes.SHA256()).hex().upper()
    if subject_identifier_type == "certificateFingerprint":
        subject_type, subject_value = "Fingerprint", fingerprint
    elif identity.id_type is None:
        raise fail(
            INVALID_CERTIFICATE,
            "the certificate subject has no NIP/PESEL identifier (serialNumber "
            "TINPL-/PNOPL- or organizationIdentifier VATPL-); authenticate with "
            "certificateFingerprint instead",
        )
    else:
        subject_type, subject_value = identity.id_type, identity.id_value or ""
    if context_type == "PeppolId":
        # A PeppolId context is entered with a Peppol provider certificate, which the emulator does not issue.
        raise fail(SUBJECT_INVALID_FOR_CONTEXT, "a PeppolId context requires a Peppol service provider certificate")

    return VerifiedAuthRequest(
        challenge=_text(request, "Challenge"),
        context_type=context_type,
        context_value=context_value,
        subject_identifier_type=subject_identifier_type,
        subject_type=subject_type,
        subject_value=subject_value,
        certificate_fingerprint=fingerprint,
        authentication_method="QualifiedSeal" if identity.kind == "seal" else "QualifiedSignature",
        authorization_policy=_authorization_policy(request),
        warnings=warnings,
        schema_version=version,
        certificate_der=cert.public_bytes(serialization.Encoding.DER),
    )
