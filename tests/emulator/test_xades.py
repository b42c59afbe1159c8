"""The emulator's XAdES verifier: signatures from the collection's signer and from independent signxml code.

Direct calls cover the whole matrix fast; the HTTP tests at the end go through POST /v2/auth/xades-signature.
"""
from __future__ import annotations

import base64
import copy

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import (CanonicalizationMethod, DigestAlgorithm, SignatureConstructionMethod, SignatureMethod,
                     XMLSigner)
from signxml.xades import XAdESSigner

from ansible_collections.ksef.credentials.plugins.module_utils import _xades as collection_xades
from ksef_emulator import testcerts
from ksef_emulator.xades import XadesError, verify_auth_token_request

NIP = "1234563218"
CONTEXT_NIP = "5265877635"
CHALLENGE = "20250625-CR-20F5EE4000-DA48AE4124-46"
NS20 = "http://ksef.mf.gov.pl/auth/token/2.0"
NS21 = "http://ksef.mf.gov.pl/auth/token/2.1"
DS = {"ds": "http://www.w3.org/2000/09/xmldsig#", "xades": "http://uri.etsi.org/01903/v1.3.2#"}
ENVELOPED, ENVELOPING = SignatureConstructionMethod.enveloped, SignatureConstructionMethod.enveloping


class Credentials:
    def __init__(self, files: testcerts.CertificateFiles):
        self.files = files
        self.key = serialization.load_pem_private_key(files.key_path.read_bytes(), None)
        self.cert = x509.load_pem_x509_certificate(files.cert_path.read_bytes())


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    out = tmp_path_factory.mktemp("xades-certs")

    def make(**kw):
        return Credentials(testcerts.generate_certificate(out, **kw))

    return {
        "rsa": make(nip=NIP),
        "ec": make(nip=NIP, key_type="ec"),
        "rsa_other": make(nip=NIP),
        "pesel": make(pesel="44051401359"),
        "seal": make(nip=NIP, kind="seal"),
        "seal_given_name": make(nip=NIP, kind="seal",
                                extra_subject_attributes=[x509.NameAttribute(NameOID.GIVEN_NAME, "Jan")]),
        "no_id": make(identifier=False),
        "rsa1024": make(nip=NIP, key_size=1024),
        "both_ids": make(nip=NIP, kind="seal",
                         extra_subject_attributes=[x509.NameAttribute(NameOID.SERIAL_NUMBER, f"TINPL-{NIP}")]),
    }


def request_xml(ns=NS20, challenge=CHALLENGE, context="Nip", value=CONTEXT_NIP, subject="certificateSubject",
                policy=b"") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<AuthTokenRequest xmlns="{ns}">\n'
            f'  <Challenge>{challenge}</Challenge>\n  <ContextIdentifier>\n    <{context}>{value}</{context}>\n'
            f'  </ContextIdentifier>\n  <SubjectIdentifierType>{subject}</SubjectIdentifierType>\n').encode() \
        + policy + b"</AuthTokenRequest>"


class SigningCertificateV1Signer(XAdESSigner):
    """XAdES signer emitting the older SigningCertificate (v1: CertDigest + IssuerSerial) instead of V2."""

    def add_signing_certificate(self, signed_signature_properties, sig_root, signing_settings):
        from signxml.util import ds_tag, xades_tag
        cert = signing_settings.cert_chain[0]
        signing_cert = etree.SubElement(signed_signature_properties, xades_tag("SigningCertificate"))
        cert_node = etree.SubElement(signing_cert, xades_tag("Cert"))
        digest = etree.SubElement(cert_node, xades_tag("CertDigest"))
        etree.SubElement(digest, ds_tag("DigestMethod"), Algorithm=self.digest_alg.value)
        etree.SubElement(digest, ds_tag("DigestValue")).text = base64.b64encode(
            self._get_digest(cert.public_bytes(serialization.Encoding.DER), self.digest_alg)).decode()
        issuer_serial = etree.SubElement(cert_node, xades_tag("IssuerSerial"))
        etree.SubElement(issuer_serial, ds_tag("X509IssuerName")).text = cert.issuer.rfc4514_string()
        etree.SubElement(issuer_serial, ds_tag("X509SerialNumber")).text = str(cert.serial_number)


class Sha1AllowedSigner(XAdESSigner):
    def check_deprecated_methods(self):  # signxml refuses SHA-1 by default; KSeF lists it
        pass


def sign(xml: bytes, creds: Credentials, *, method=ENVELOPED, alg=None,
         digest=DigestAlgorithm.SHA256, signer_class=XAdESSigner,
         c14n=CanonicalizationMethod.CANONICAL_XML_1_1) -> bytes:
    if alg is None:
        alg = SignatureMethod.RSA_SHA256 if creds.files.cert_path.name.find("-rsa-") > 0 else \
            SignatureMethod.ECDSA_SHA256
    signer = signer_class(method=method, signature_algorithm=alg, digest_algorithm=digest, c14n_algorithm=c14n)
    return etree.tostring(signer.sign(etree.fromstring(xml), key=creds.key, cert=[creds.cert]))


def refused(xml: bytes, code: int, **kwargs) -> XadesError:
    with pytest.raises(XadesError) as err:
        verify_auth_token_request(xml, **kwargs)
    assert err.value.code == code, err.value
    return err.value


# ---------------------------------------------------------------- accepted

def test_collection_signer_is_accepted_rsa_and_ec(certs):
    for name in ("rsa", "ec"):
        files = certs[name].files
        credentials = collection_xades.load_signing_credentials(str(files.cert_path), str(files.key_path))
        xml = collection_xades.build_auth_token_request(
            CHALLENGE, "Nip", CONTEXT_NIP, authorization_policy={"allowedIps": {"ip4Addresses": ["10.0.0.1"]}})
        result = verify_auth_token_request(collection_xades.sign_auth_token_request(xml, credentials),
                                           enforce_compliance=True)
        assert (result.challenge, result.context_type, result.context_value) == (CHALLENGE, "Nip", CONTEXT_NIP)
        assert (result.subject_type, result.subject_value) == ("Nip", NIP)
        assert result.subject_identifier_type == "certificateSubject"
        assert result.certificate_fingerprint == files.fingerprint
        assert result.authentication_method == "QualifiedSignature"
        assert result.authorization_policy == {"allowedIps": {"ip4Addresses": ["10.0.0.1"], "ip4Ranges": [],
                                                              "ip4Masks": []}}
        assert result.warnings == []


@pytest.mark.parametrize("method", [ENVELOPED, ENVELOPING], ids=["enveloped", "enveloping"])
@pytest.mark.parametrize("key, alg, digest", [
    ("rsa", SignatureMethod.RSA_SHA256, DigestAlgorithm.SHA256),
    ("rsa", SignatureMethod.RSA_SHA384, DigestAlgorithm.SHA384),
    ("rsa", SignatureMethod.RSA_SHA512, DigestAlgorithm.SHA512),
    ("ec", SignatureMethod.ECDSA_SHA256, DigestAlgorithm.SHA256),
    ("ec", SignatureMethod.ECDSA_SHA384, DigestAlgorithm.SHA384),
    ("ec", SignatureMethod.ECDSA_SHA512, DigestAlgorithm.SHA512),
])
def test_independent_signxml_signatures_are_accepted(certs, method, key, alg, digest):
    signed = sign(request_xml(), certs[key], method=method, alg=alg, digest=digest)
    result = verify_auth_token_request(signed, enforce_compliance=True)
    assert (result.context_value, result.subject_value, result.warnings) == (CONTEXT_NIP, NIP, [])


# Exclusive C14N is left out: signxml's XAdES signer digests SignedProperties and KeyInfo with it but writes no
# Transform for those references, so no verifier (signxml's own included) can check them.
@pytest.mark.parametrize("c14n", [m for m in CanonicalizationMethod if "exc-c14n" not in m.value])
def test_inclusive_canonicalizations_are_accepted(certs, c14n):
    signed = sign(request_xml(), certs["rsa"], c14n=c14n)
    assert verify_auth_token_request(signed, enforce_compliance=True).warnings == []


@pytest.mark.parametrize("digest", [DigestAlgorithm.SHA256, DigestAlgorithm.SHA512])
def test_signing_certificate_v1_and_v2_are_accepted(certs, digest):
    v1 = sign(request_xml(), certs["rsa"], digest=digest, signer_class=SigningCertificateV1Signer)
    assert etree.fromstring(v1).find(".//xades:SigningCertificate", DS) is not None
    assert verify_auth_token_request(v1, enforce_compliance=True).subject_value == NIP
    v2 = sign(request_xml(), certs["rsa"], digest=digest)
    assert etree.fromstring(v2).find(".//xades:SigningCertificateV2", DS) is not None
    assert verify_auth_token_request(v2, enforce_compliance=True).subject_value == NIP


def test_identities_pesel_seal_fingerprint_and_schema_v21(certs):
    pesel = verify_auth_token_request(sign(request_xml(), certs["pesel"]))
    assert (pesel.subject_type, pesel.subject_value, pesel.authentication_method) == \
        ("Pesel", "44051401359", "QualifiedSignature")
    seal = verify_auth_token_request(sign(request_xml(), certs["seal"]))
    assert (seal.subject_type, seal.subject_value, seal.authentication_method) == ("Nip", NIP, "QualifiedSeal")
    fp = verify_auth_token_request(sign(request_xml(subject="certificateFingerprint"), certs["no_id"]))
    assert (fp.subject_type, fp.subject_value) == ("Fingerprint", certs["no_id"].files.fingerprint)
    # a certificate with an identifier may still authenticate by fingerprint
    assert verify_auth_token_request(sign(request_xml(subject="certificateFingerprint"), certs["rsa"])
                                     ).subject_type == "Fingerprint"
    policy = b"<AuthorizationPolicy><AllowedIps><Ip4Range>10.0.0.1-10.0.0.9</Ip4Range>" \
             b"<Ip4Mask>10.1.0.0/16</Ip4Mask></AllowedIps></AuthorizationPolicy>"
    v21 = verify_auth_token_request(sign(request_xml(ns=NS21, context="InternalId", value=f"{CONTEXT_NIP}-12345",
                                                     policy=policy), certs["ec"]))
    assert (v21.schema_version, v21.context_type, v21.context_value) == ("2.1", "InternalId", f"{CONTEXT_NIP}-12345")
    assert v21.authorization_policy["allowedIps"] == {"ip4Addresses": [], "ip4Ranges": ["10.0.0.1-10.0.0.9"],
                                                      "ip4Masks": ["10.1.0.0/16"]}
    vat = verify_auth_token_request(sign(request_xml(context="NipVatUe", value=f"{CONTEXT_NIP}-ATU12345678"),
                                         certs["rsa"]))
    assert vat.context_type == "NipVatUe"


# ---------------------------------------------------------------- refused

def test_tampered_content_is_refused(certs):
    signed = sign(request_xml(), certs["rsa"])
    refused(signed.replace(CONTEXT_NIP.encode(), b"7010000000"), 9105)


def test_tampered_signature_value_is_refused(certs):
    doc = etree.fromstring(sign(request_xml(), certs["ec"], alg=SignatureMethod.ECDSA_SHA256))
    value = doc.find(".//ds:SignatureValue", DS)
    raw = bytearray(base64.b64decode(value.text))
    raw[5] ^= 0x01
    value.text = base64.b64encode(bytes(raw)).decode()
    error = refused(etree.tostring(doc), 9105)
    assert error.description == "Nieprawidłowy podpis."


def test_wrong_certificate_in_keyinfo_is_refused(certs):
    doc = etree.fromstring(sign(request_xml(), certs["rsa"]))
    other = base64.b64encode(certs["rsa_other"].cert.public_bytes(serialization.Encoding.DER)).decode()
    doc.find(".//ds:X509Certificate", DS).text = other
    refused(etree.tostring(doc), 9105)
    key_value = doc.find(".//ds:KeyValue", DS)  # without the KeyValue hint the signature itself fails
    key_value.getparent().remove(key_value)
    refused(etree.tostring(doc), 9105)


def test_detached_signature_is_refused(certs):
    detached = XMLSigner(method=SignatureConstructionMethod.detached).sign(
        etree.fromstring(request_xml()), key=certs["rsa"].key, cert=[certs["rsa"].cert],
        reference_uri="auth-token-request.xml")
    assert "detached" in " ".join(refused(etree.tostring(detached), 9105).details)
    holder = etree.fromstring(request_xml())
    holder.append(copy.deepcopy(detached))
    refused(etree.tostring(holder), 9105)


def test_missing_and_duplicate_signatures(certs):
    error = refused(request_xml(), 9102)
    assert error.description == "Brak podpisu."
    doc = etree.fromstring(sign(request_xml(), certs["rsa"]))
    doc.append(copy.deepcopy(doc.find("ds:Signature", DS)))
    assert refused(etree.tostring(doc), 9103).description == "Przekroczona liczba dozwolonych podpisów."


def test_xsd_invalid_document_is_refused_with_details(certs):
    error = refused(sign(request_xml(challenge="not-a-challenge"), certs["rsa"]), 21401)
    assert error.description == "Dokument nie jest zgodny ze schemą (xsd)."
    assert error.details and "Challenge" in error.details[0]
    refused(sign(request_xml(ns="urn:other"), certs["rsa"]), 21401)
    refused(sign(request_xml(subject="certificateSerial"), certs["rsa"]), 21401)


def test_weak_key_and_bad_subjects_are_refused(certs):
    assert "1024" in refused(sign(request_xml(), certs["rsa1024"]), 21115).details[0]
    assert "givenName" in refused(sign(request_xml(), certs["seal_given_name"]), 21115).details[0]
    error = refused(sign(request_xml(), certs["no_id"]), 21115)
    assert error.description == "Nieprawidłowy certyfikat." and "certificateFingerprint" in error.details[0]
    assert refused(sign(request_xml(), certs["both_ids"]), 21406).description == \
        "Konflikt podpisu i typu uwierzytelnienia."
    peppol = refused(sign(request_xml(context="PeppolId", value="PAB123456"), certs["rsa"]), 21117)
    assert peppol.description == "Nieprawidłowy identyfikator podmiotu dla wskazanego typu kontekstu."


def test_reformatted_document_fails_verification(certs):
    signed = sign(request_xml(), certs["rsa"])
    reindented = signed.replace(b"<Challenge>", b"<Challenge>\n").replace(b"</Challenge>", b"\n</Challenge>")
    refused(reindented, 9105)  # the challenge text changed; the XSD token type would accept it


def test_unreadable_encoding_and_document_errors(certs):
    assert refused(b"this is not xml", 21001).description == "Nieczytelna treść."
    refused(b"", 21001)
    assert refused(request_xml().replace(b"utf-8", b"ISO-8859-2"), 21217).description == \
        "Nieprawidłowe kodowanie znaków."
    refused(request_xml().replace(b"<Challenge>", b"<Challenge>\xff"), 21217)
    refused(request_xml().decode().encode("utf-16"), 21217)
    dtd = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><AuthTokenRequest xmlns="' + NS20.encode() + b'"/>'
    assert refused(dtd, 9101).description == "Nieprawidłowy dokument."
    refused(b"<Invoice/>", 9101)


# ---------------------------------------------------------------- profile compliance (X-KSeF-Feature)

NON_COMPLIANT = {
    "rsa-sha224": lambda c: sign(request_xml(), c["rsa"], alg=SignatureMethod.RSA_SHA224),
    "sha224-digest": lambda c: sign(request_xml(), c["rsa"], digest=DigestAlgorithm.SHA224),
    "plain-xmldsig": lambda c: etree.tostring(XMLSigner().sign(etree.fromstring(request_xml()),
                                                               key=c["rsa"].key, cert=[c["rsa"].cert])),
}


@pytest.mark.parametrize("case", sorted(NON_COMPLIANT))
def test_non_compliant_signature_refused_when_enforced_else_warned(certs, case):
    signed = NON_COMPLIANT[case](certs)
    error = refused(signed, 9105, enforce_compliance=True)
    assert error.details
    lenient = verify_auth_token_request(signed, enforce_compliance=True, lenient=True)
    assert lenient.subject_value == NIP and lenient.warnings[0].startswith("[sig-001]: ")
    default = verify_auth_token_request(signed)
    assert len(default.warnings) == 1 and default.warnings[0].startswith("[sig-001]: ")
    assert default.warnings[0].isascii() and "|" not in default.warnings[0]  # fits X-System-Warning


STRICT_PROFILE_CASES = [
    (SignatureMethod.SHA256_RSA_MGF1, DigestAlgorithm.SHA256),  # RSA-PSS
    (SignatureMethod.SHA512_RSA_MGF1, DigestAlgorithm.SHA512),
    (SignatureMethod.RSA_SHA1, DigestAlgorithm.SHA1),
    (SignatureMethod.RSA_SHA256, DigestAlgorithm.SHA1),
]


@pytest.mark.parametrize("alg, digest", STRICT_PROFILE_CASES)
def test_pss_and_sha1_refused_under_enforced_profile_unless_lenient(certs, alg, digest):
    """podpis-xades.md still lists RSA-PSS and SHA-1; the stricter enforced profile refuses them (9105)."""
    signed = sign(request_xml(), certs["rsa"], alg=alg, digest=digest, signer_class=Sha1AllowedSigner)
    error = refused(signed, 9105, enforce_compliance=True)
    assert any("RSA-PSS/SHA-1" in d or "SHA-1" in d for d in error.details)
    assert verify_auth_token_request(signed, enforce_compliance=True, lenient=True).subject_value == NIP


@pytest.mark.parametrize("alg, digest", STRICT_PROFILE_CASES)
def test_pss_and_sha1_accepted_with_sig001_warning_without_the_header(certs, alg, digest):
    signed = sign(request_xml(), certs["rsa"], alg=alg, digest=digest, signer_class=Sha1AllowedSigner)
    warnings = verify_auth_token_request(signed).warnings
    assert len(warnings) == 1 and warnings[0].startswith("[sig-001]: ")


def test_ecdsa_sha1_refused_when_enforced(certs):
    signed = sign(request_xml(), certs["ec"], alg=SignatureMethod.ECDSA_SHA1, signer_class=Sha1AllowedSigner)
    refused(signed, 9105, enforce_compliance=True)
    assert verify_auth_token_request(signed).subject_value == NIP


# ---------------------------------------------------------------- over HTTP

def post_signed(emulator, creds: Credentials, *, headers=None, **sign_kwargs):
    challenge = emulator.api("POST", "auth/challenge", json={}).json()["challenge"]
    signed = sign(request_xml(challenge=challenge, value=NIP), creds, **sign_kwargs)
    return emulator.api("POST", "auth/xades-signature", content=signed,
                        headers={"Content-Type": "application/xml", **(headers or {})})


def test_http_accepts_collection_signature_and_authenticates(emulator, certs):
    files = certs["ec"].files
    credentials = collection_xades.load_signing_credentials(str(files.cert_path), str(files.key_path))
    challenge = emulator.api("POST", "auth/challenge", json={}).json()["challenge"]
    signed = collection_xades.sign_auth_token_request(
        collection_xades.build_auth_token_request(challenge, "Nip", NIP), credentials)
    response = emulator.api("POST", "auth/xades-signature", content=signed,
                            headers={"Content-Type": "application/xml"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["referenceNumber"] and body["authenticationToken"]["token"]
    assert "X-System-Warning" not in response.headers


def test_http_refuses_tampered_signature_with_official_code(emulator, certs):
    challenge = emulator.api("POST", "auth/challenge", json={}).json()["challenge"]
    signed = sign(request_xml(challenge=challenge, value=NIP), certs["rsa"]).replace(b"certificateSubject",
                                                                                     b"certificateFingerprint")
    response = emulator.api("POST", "auth/xades-signature", content=signed,
                            headers={"Content-Type": "application/xml"})
    assert response.status_code == 400
    assert "9105" in response.text


def test_http_warns_sig_001_and_refuses_it_with_enforce_header(emulator, certs):
    warned = post_signed(emulator, certs["rsa"], alg=SignatureMethod.RSA_SHA224)
    assert warned.status_code == 202, warned.text
    assert warned.headers["X-System-Warning"].startswith("[sig-001]: ")
    enforced = post_signed(emulator, certs["rsa"], alg=SignatureMethod.RSA_SHA224,
                           headers={"X-KSeF-Feature": "enforce-xades-compliance"})
    assert enforced.status_code == 400 and "9105" in enforced.text
    compliant = post_signed(emulator, certs["rsa"], headers={"X-KSeF-Feature": "enforce-xades-compliance"})
    assert compliant.status_code == 202, compliant.text


@pytest.mark.parametrize("lenient", [False, True])
def test_http_enforced_profile_refuses_rsa_pss_unless_lenient_xades(emulator_factory, certs, lenient):
    emu = emulator_factory(*(["--lenient-xades"] if lenient else []))
    enforce = {"X-KSeF-Feature": "enforce-xades-compliance"}
    response = post_signed(emu, certs["rsa"], alg=SignatureMethod.SHA256_RSA_MGF1, headers=enforce,
                           signer_class=Sha1AllowedSigner)
    if lenient:
        assert response.status_code == 202, response.text
    else:
        assert response.status_code == 400 and "9105" in response.text
