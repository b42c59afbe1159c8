"""Collection-side XAdES: the AuthTokenRequest document, credential loading, identity, signing.

Signatures are checked with signxml's own verifier only; certificates are made here with cryptography.
"""
from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import SignatureConfiguration
from signxml.xades import XAdESSignatureConfiguration, XAdESVerifier

from ansible_collections.ksef.credentials.plugins.module_utils import _xades

SCHEMAS = Path(__file__).resolve().parents[4] / "emulator" / "ksef_emulator" / "schemas"
CHALLENGE = "20250625-CR-20F5EE4000-DA48AE4124-46"
NS = {"a": _xades.AUTH_NAMESPACE, "ds": "http://www.w3.org/2000/09/xmldsig#",
      "xades": "http://uri.etsi.org/01903/v1.3.2#"}


def schema_v20() -> etree.XMLSchema:
    """The official v2.0 XSD as the service reads it: its IP patterns are not valid XSD regexes (v2.1 fixed them)."""
    doc = etree.parse(str(SCHEMAS / "schemat_auth_v2-0.xsd"))
    fixed = {el.get("name"): el.find(".//{*}pattern").get("value")
             for el in etree.parse(str(SCHEMAS / "schemat_auth_v2-1.xsd")).iter("{*}element")
             if el.get("name") in ("Ip4Address", "Ip4Range", "Ip4Mask")}
    for el in doc.iter("{*}element"):
        if el.get("name") in fixed:
            el.find(".//{*}pattern").set("value", fixed[el.get("name")])
    for pattern in doc.iter("{*}pattern"):  # "^"/"$" are literals in XSD regexes; the schema means anchors
        value = pattern.get("value")
        pattern.set("value", value[1 if value.startswith("^") else 0:-1 if value.endswith("$") else None])
    return etree.XMLSchema(doc)


def make_cert(key=None, attrs=None):
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(attrs or [x509.NameAttribute(NameOID.GIVEN_NAME, "Jan"),
                               x509.NameAttribute(NameOID.SURNAME, "Kowalski"),
                               x509.NameAttribute(NameOID.SERIAL_NUMBER, "TINPL-1234563218"),
                               x509.NameAttribute(NameOID.COMMON_NAME, "Jan Kowalski"),
                               x509.NameAttribute(NameOID.COUNTRY_NAME, "PL")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    return key, cert


def write_pem(tmp_path, key, cert, passphrase=None):
    enc = serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    key_path, cert_path = tmp_path / "key.pem", tmp_path / "cert.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


# ---------------------------------------------------------------- request document

@pytest.mark.parametrize("context_type, value, element", [
    ("Nip", "5265877635", "Nip"), ("InternalId", "5265877635-12345", "InternalId"),
    ("NipVatUe", "5265877635-ATU12345678", "NipVatUe"), ("nip", "5265877635", "Nip")])
def test_request_is_valid_against_xsd(context_type, value, element):
    xml = _xades.build_auth_token_request(CHALLENGE, context_type, value)
    doc = etree.fromstring(xml)
    schema = schema_v20()
    assert schema.validate(doc), schema.error_log
    assert doc.find(f"a:ContextIdentifier/a:{element}", NS).text == value
    assert doc.find("a:SubjectIdentifierType", NS).text == "certificateSubject"
    assert xml.startswith(b"<?xml version='1.0' encoding='utf-8'?>")


def test_request_with_authorization_policy_and_fingerprint_is_valid():
    xml = _xades.build_auth_token_request(
        CHALLENGE, "Nip", "5265877635", "certificateFingerprint",
        {"allowedIps": {"ip4Masks": ["192.168.1.0/24"], "ip4Addresses": ["192.168.0.1", "10.1.1.1"],
                        "ip4Ranges": ["222.111.0.1-222.111.0.255"]}})
    doc = etree.fromstring(xml)
    schema = schema_v20()
    assert schema.validate(doc), schema.error_log
    ips = doc.find("a:AuthorizationPolicy/a:AllowedIps", NS)
    assert [etree.QName(e).localname for e in ips] == ["Ip4Address", "Ip4Address", "Ip4Range", "Ip4Mask"]


def test_request_rejects_unknown_context_and_subject_type():
    with pytest.raises(ValueError):
        _xades.build_auth_token_request(CHALLENGE, "Pesel", "44051401359")
    with pytest.raises(ValueError):
        _xades.build_auth_token_request(CHALLENGE, "Nip", "5265877635", "certificateSerial")


def test_bad_challenge_is_caught_by_the_xsd():
    doc = etree.fromstring(_xades.build_auth_token_request("not-a-challenge", "Nip", "5265877635"))
    assert not schema_v20().validate(doc)


# ---------------------------------------------------------------- identity

def test_identity_person_nip_and_pesel():
    _key, cert = make_cert()
    identity = _xades.certificate_identity(cert)
    assert identity == {"type": "Nip", "value": "1234563218", "kind": "person",
                        "fingerprint": cert.fingerprint(hashes.SHA256()).hex().upper()}
    _key, cert = make_cert(attrs=[x509.NameAttribute(NameOID.SERIAL_NUMBER, "PNOPL-44051401359"),
                                  x509.NameAttribute(NameOID.COMMON_NAME, "Jan")])
    assert _xades.certificate_identity(cert)["type"] == "Pesel"
    assert _xades.certificate_identity(cert)["value"] == "44051401359"


def test_identity_seal():
    _key, cert = make_cert(attrs=[x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Firma"),
                                  x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, "VATPL-1234563218"),
                                  x509.NameAttribute(NameOID.COMMON_NAME, "Firma")])
    identity = _xades.certificate_identity(cert)
    assert (identity["type"], identity["value"], identity["kind"]) == ("Nip", "1234563218", "seal")


def test_identity_none_falls_back_to_fingerprint_and_check_fails_early():
    key, cert = make_cert(attrs=[x509.NameAttribute(NameOID.COMMON_NAME, "Bez identyfikatora")])
    identity = _xades.certificate_identity(cert)
    assert identity["type"] == "Fingerprint" and identity["value"] == identity["fingerprint"]
    credentials = _xades.SigningCredentials(cert, key)
    with pytest.raises(_xades.XadesCredentialsError) as err:
        _xades.check_subject_identifier(credentials, "certificateSubject")
    assert err.value.option_name == "certificate" and "certificateFingerprint" in err.value.message
    assert _xades.check_subject_identifier(credentials, "certificateFingerprint")["type"] == "Fingerprint"


# ---------------------------------------------------------------- credentials

def test_load_pem_paths_content_and_pkcs12(tmp_path):
    key, cert = make_cert()
    cert_path, key_path = write_pem(tmp_path, key, cert, passphrase="pw-123")
    by_path = _xades.load_signing_credentials(str(cert_path), str(key_path), "pw-123")
    by_content = _xades.load_signing_credentials(cert_path.read_text(), key_path.read_bytes(), "pw-123")
    assert by_path.certificate == by_content.certificate == cert
    p12 = pkcs12.serialize_key_and_certificates(b"x", key, cert, None,
                                                serialization.BestAvailableEncryption(b"p12-pw"))
    (tmp_path / "c.p12").write_bytes(p12)
    assert _xades.load_signing_credentials(pkcs12=str(tmp_path / "c.p12"), pkcs12_passphrase="p12-pw").certificate \
        == cert
    assert _xades.load_signing_credentials(pkcs12=p12, pkcs12_passphrase="p12-pw").certificate == cert
    assert "RSAPrivateKey" not in repr(by_path)  # the key never shows in a repr


def expect_error(option, **kwargs) -> _xades.XadesCredentialsError:
    with pytest.raises(_xades.XadesCredentialsError) as err:
        _xades.load_signing_credentials(**kwargs)
    assert err.value.option_name == option, err.value
    return err.value


def test_wrong_passphrase_names_the_passphrase_option(tmp_path):
    key, cert = make_cert()
    cert_path, key_path = write_pem(tmp_path, key, cert, passphrase="right-pass")
    error = expect_error("private_key_passphrase", certificate=str(cert_path), private_key=str(key_path),
                         private_key_passphrase="wrong-pass")
    assert "wrong-pass" not in str(error) and "right-pass" not in str(error)
    expect_error("private_key_passphrase", certificate=str(cert_path), private_key=str(key_path))
    p12 = pkcs12.serialize_key_and_certificates(b"x", key, cert, None,
                                                serialization.BestAvailableEncryption(b"p12-pw"))
    error = expect_error("pkcs12_passphrase", pkcs12=p12, pkcs12_passphrase="nope-pass")
    assert "nope-pass" not in str(error)


def test_mismatched_key_names_the_key_option(tmp_path):
    _key, cert = make_cert()
    other_key, _cert = make_cert()
    cert_path, key_path = write_pem(tmp_path, other_key, cert)
    error = expect_error("private_key", certificate=str(cert_path), private_key=str(key_path))
    assert "does not match" in error.message
    assert "PRIVATE KEY" not in str(error)


def test_rsa_1024_and_small_curve_are_refused(tmp_path):
    key, cert = make_cert(key=rsa.generate_private_key(public_exponent=65537, key_size=1024))
    cert_path, key_path = write_pem(tmp_path, key, cert)
    assert "1024" in expect_error("private_key", certificate=str(cert_path), private_key=str(key_path)).message
    key, cert = make_cert(key=ec.generate_private_key(ec.SECP224R1()))
    cert_path, key_path = write_pem(tmp_path, key, cert)
    assert "secp224r1" in expect_error("private_key", certificate=str(cert_path), private_key=str(key_path)).message


def test_non_pem_and_unreadable_files_name_their_option(tmp_path):
    key, cert = make_cert()
    cert_path, key_path = write_pem(tmp_path, key, cert)
    junk = tmp_path / "junk.txt"
    junk.write_text("just some text, not PEM")
    assert "certificate" in expect_error("certificate", certificate=str(junk), private_key=str(key_path)).message
    expect_error("private_key", certificate=str(cert_path), private_key=str(junk))
    missing = expect_error("private_key", certificate=str(cert_path), private_key=str(tmp_path / "missing.pem"))
    assert "missing.pem" not in missing.message  # key option values are never echoed
    assert "nope.pem" in expect_error("certificate", certificate=str(tmp_path / "nope.pem"),
                                      private_key=str(key_path)).message
    expect_error("pkcs12", pkcs12=str(junk))
    expect_error("certificate", private_key=str(key_path))
    expect_error("pkcs12", pkcs12=str(junk), certificate=str(cert_path))


# ---------------------------------------------------------------- signing

@pytest.mark.parametrize("key_factory, method", [
    (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
     "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"),
    (lambda: ec.generate_private_key(ec.SECP256R1()), "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"),
])
def test_sign_and_verify_round_trip_with_signxml(key_factory, method):
    key, cert = make_cert(key=key_factory())
    xml = _xades.build_auth_token_request(CHALLENGE, "Nip", "5265877635")
    signed = _xades.sign_auth_token_request(xml, _xades.SigningCredentials(cert, key))

    results = XAdESVerifier().verify(signed, x509_cert=cert,
                                     expect_config=XAdESSignatureConfiguration(location="./"))
    signed_doc = results[0].signed_xml
    assert signed_doc.find("a:Challenge", NS).text == CHALLENGE
    assert signed_doc.find("ds:Signature", NS) is None  # the enveloped-signature transform removed it
    assert schema_v20().validate(signed_doc)

    doc = etree.fromstring(signed)
    signature = doc.find("ds:Signature", NS)
    assert signature.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm") == method
    assert {d.get("Algorithm") for d in signature.iterfind(".//ds:DigestMethod", NS)} == {
        "http://www.w3.org/2001/04/xmlenc#sha256"}
    transforms = [t.get("Algorithm") for t in signature.iterfind("ds:SignedInfo/ds:Reference/ds:Transforms/"
                                                                 "ds:Transform", NS)]
    assert "http://www.w3.org/2000/09/xmldsig#enveloped-signature" in transforms
    props = signature.find(".//xades:SignedProperties/xades:SignedSignatureProperties", NS)
    assert props.find("xades:SigningTime", NS) is not None
    assert props.find("xades:SigningCertificateV2", NS) is not None
    assert signature.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS) is not None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        import base64
        assert len(base64.b64decode(signature.find("ds:SignatureValue", NS).text)) == 64  # R||S, not DER


def test_tampered_signed_request_fails_signxml_verification():
    key, cert = make_cert()
    signed = _xades.sign_auth_token_request(_xades.build_auth_token_request(CHALLENGE, "Nip", "5265877635"),
                                            _xades.SigningCredentials(cert, key))
    tampered = signed.replace(b"5265877635", b"1234563218")
    with pytest.raises(Exception):
        XAdESVerifier().verify(tampered, x509_cert=cert, expect_config=XAdESSignatureConfiguration(location="./"))
    # and the untampered one passes even with a plain XMLDSig verifier (3 references)
    from signxml import XMLVerifier
    XMLVerifier().verify(signed, x509_cert=cert, expect_config=SignatureConfiguration(expect_references=3))


@pytest.mark.parametrize("start,end,words", [(-40, -10, "expired on"), (10, 40, "valid only from")])
def test_a_certificate_outside_its_validity_is_refused_before_any_request(tmp_path, start, end, words):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.SERIAL_NUMBER, "TINPL-1234563218"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Jan Kowalski")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now + datetime.timedelta(days=start))
            .not_valid_after(now + datetime.timedelta(days=end)).sign(key, hashes.SHA256()))
    cert_path, key_path = write_pem(tmp_path, key, cert)
    error = expect_error("certificate", certificate=str(cert_path), private_key=str(key_path))
    assert words in error.message and "21115" in error.message


@pytest.mark.parametrize("identity, context, refused", [
    ({"type": "Nip", "value": "5265877635", "kind": "seal"}, ("Nip", "5265877635"), False),
    ({"type": "Nip", "value": "5265877635", "kind": "seal"}, ("InternalId", "5265877635-00001"), False),
    ({"type": "Nip", "value": "8733557145", "kind": "seal"}, ("Nip", "5265877635"), "context.nip"),
    ({"type": "Nip", "value": "8733557145", "kind": "person"}, ("InternalId", "5265877635-00001"), "context.internal_id"),
    ({"type": "Pesel", "value": "90010112345", "kind": "person"}, ("Nip", "5265877635"), False),
    ({"type": "Fingerprint", "value": "AB" * 32, "kind": "seal"}, ("Nip", "5265877635"), False),
])
def test_a_certificate_acts_as_its_own_nip_only(identity, context, refused):
    from ansible_collections.ksef.credentials.plugins.module_utils._connection import KsefContext

    if not refused:
        _xades.check_acts_as_context(identity, KsefContext(*context))
        return
    with pytest.raises(_xades.XadesCredentialsError) as caught:
        _xades.check_acts_as_context(identity, KsefContext(*context), "pkcs12")
    assert caught.value.option == "pkcs12"
    assert "set %s to the certificate's NIP" % refused in caught.value.reason and "auth.on_behalf" in caught.value.reason
