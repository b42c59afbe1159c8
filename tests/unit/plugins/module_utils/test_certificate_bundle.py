"""The certificate bundle: CSR from enrollment data, the PEM bundle and its PKCS#12 form, its serial number."""
import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from ansible_collections.ksef.credentials.plugins.module_utils import _certificate_bundle as bundle

DATA = {"commonName": "Firma Kowalski", "countryName": "PL", "organizationName": "Firma Kowalski Sp. z o.o.",
        "organizationIdentifier": "VATPL-5265877635", "givenName": ["Jan", "Maria"]}


def issued(key, serial=0x1F83BD40E2353DDF):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(serial).not_valid_before(dt.datetime(2026, 1, 1)).not_valid_after(dt.datetime(2028, 1, 1))
            .sign(key, hashes.SHA256()))
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


@pytest.mark.parametrize("key_type,size", [("ec", 256), ("rsa", 2048)])
def test_csr_carries_exactly_the_enrollment_data(key_type, size):
    key = bundle.generate_key(key_type, size)
    csr = x509.load_der_x509_csr(base64.b64decode(bundle.csr_base64(key, DATA)))
    assert csr.is_signature_valid
    assert [a.value for a in csr.subject.get_attributes_for_oid(NameOID.GIVEN_NAME)] == ["Jan", "Maria"]
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value == "VATPL-5265877635"
    assert len(list(csr.subject)) == 6


def test_bundle_round_trips_through_pkcs12_and_names_its_serial():
    key = bundle.generate_key("ec", 256)
    value = bundle.compose(issued(key), key)
    assert value.startswith("-----BEGIN CERTIFICATE-----") and "PRIVATE KEY" in value and not value.endswith("\n")
    assert bundle.serial_number(value) == "1F83BD40E2353DDF"
    assert bundle.from_pkcs12(bundle.to_pkcs12(value, "pass-1", "login"), "pass-1") == value
    with pytest.raises(bundle.BundleError):
        bundle.from_pkcs12(bundle.to_pkcs12(value, "pass-1", "login"), "wrong")


def test_a_certificate_for_another_key_is_refused():
    key, other = bundle.generate_key("ec", 256), bundle.generate_key("ec", 256)
    with pytest.raises(bundle.BundleError):
        bundle.compose(issued(other), key)


def test_values_that_are_not_bundles_have_no_serial():
    assert bundle.serial_number(None) is None
    assert bundle.serial_number("20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|" + "a" * 64) is None
    assert bundle.serial_number("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----") is None
