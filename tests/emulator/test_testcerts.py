"""Test certificates: identifiers with valid checksums, KSeF TEST subject attributes, key files kept private."""
from __future__ import annotations

import random
import re
import stat
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from ksef_emulator import testcerts

TNIP_PATTERN = re.compile(r"[1-9]((\d[1-9])|([1-9]\d))\d{7}")  # from the AuthTokenRequest XSD


def subject_values(cert_path) -> dict[str, list[str]]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    found: dict[str, list[str]] = {}
    for attr in cert.subject:
        found.setdefault(attr.oid.dotted_string, []).append(attr.value)
    return found


def test_random_nip_has_valid_checksum_and_matches_xsd():
    rng = random.Random(7)
    for _attempt in range(2000):
        nip = testcerts.random_nip(rng)
        weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
        assert sum(int(d) * w for d, w in zip(nip, weights)) % 11 == int(nip[9])
        assert TNIP_PATTERN.fullmatch(nip)
    assert testcerts.nip_checksum_ok("1234563218")
    assert not testcerts.nip_checksum_ok("1234563219")


def test_random_pesel_has_valid_checksum():
    rng = random.Random(11)
    for _attempt in range(2000):
        pesel = testcerts.random_pesel(rng)
        assert len(pesel) == 11 and testcerts.pesel_checksum_ok(pesel)
        month = int(pesel[2:4]) % 20
        assert 1 <= month <= 12
    assert testcerts.pesel_checksum_ok("44051401359")
    assert not testcerts.pesel_checksum_ok("44051401358")


def test_person_certificate_with_nip(tmp_path):
    files = testcerts.generate_certificate(tmp_path, nip="1234563218", kind="person")
    subject = subject_values(files.cert_path)
    assert subject["2.5.4.5"] == ["TINPL-1234563218"]
    assert subject["2.5.4.42"] and subject["2.5.4.4"] and subject["2.5.4.3"]
    assert subject["2.5.4.6"] == ["PL"]
    assert "2.5.4.97" not in subject
    assert (files.subject_type, files.subject_value, files.kind) == ("Nip", "1234563218", "person")
    cert = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
    assert files.fingerprint == cert.fingerprint(hashes.SHA256()).hex().upper()
    assert cert.issuer == cert.subject  # self-signed, as KSeF TEST allows
    assert isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().key_size == 2048


def test_person_certificate_with_pesel_and_ec_key(tmp_path):
    pesel = testcerts.random_pesel(random.Random(3))
    files = testcerts.generate_certificate(tmp_path, pesel=pesel, kind="person", key_type="ec")
    assert subject_values(files.cert_path)["2.5.4.5"] == [f"PNOPL-{pesel}"]
    assert (files.subject_type, files.subject_value) == ("Pesel", pesel)
    key = serialization.load_pem_private_key(files.key_path.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"


def test_seal_certificate(tmp_path):
    files = testcerts.generate_certificate(tmp_path, nip="1234563218", kind="seal")
    subject = subject_values(files.cert_path)
    assert subject["2.5.4.97"] == ["VATPL-1234563218"]
    assert subject["2.5.4.10"] and subject["2.5.4.3"] and subject["2.5.4.6"] == ["PL"]
    for forbidden in ("2.5.4.42", "2.5.4.4", "2.5.4.5"):
        assert forbidden not in subject
    assert (files.subject_type, files.kind) == ("Nip", "seal")


def test_certificate_without_identifier_uses_fingerprint(tmp_path):
    files = testcerts.generate_certificate(tmp_path, kind="person", identifier=False)
    subject = subject_values(files.cert_path)
    assert "2.5.4.5" not in subject and "2.5.4.97" not in subject
    assert (files.subject_type, files.subject_value) == ("Fingerprint", files.fingerprint)
    assert re.fullmatch(r"[0-9A-F]{64}", files.fingerprint)


def test_extra_attributes_build_a_broken_seal(tmp_path):
    files = testcerts.generate_certificate(
        tmp_path, nip="1234563218", kind="seal",
        extra_subject_attributes=[x509.NameAttribute(NameOID.GIVEN_NAME, "Jan")])
    assert subject_values(files.cert_path)["2.5.4.42"] == ["Jan"]


def test_key_files_are_private_and_encrypted_with_passphrase(tmp_path):
    files = testcerts.generate_certificate(tmp_path, nip="1234563218", passphrase="correct horse")
    for path in (files.key_path, files.pkcs12_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in files.key_path.read_bytes()
    with pytest.raises((TypeError, ValueError)):
        serialization.load_pem_private_key(files.key_path.read_bytes(), None)
    key = serialization.load_pem_private_key(files.key_path.read_bytes(), b"correct horse")
    p12_key, p12_cert, _chain = pkcs12.load_key_and_certificates(files.pkcs12_path.read_bytes(), b"correct horse")
    cert = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
    assert p12_cert == cert
    assert p12_key.public_key().public_numbers() == key.public_key().public_numbers()
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(files.pkcs12_path.read_bytes(), b"wrong")


def test_weak_keys_can_be_made_for_negative_tests(tmp_path):
    files = testcerts.generate_certificate(tmp_path, key_size=1024)
    assert x509.load_pem_x509_certificate(files.cert_path.read_bytes()).public_key().key_size == 1024


def test_cli_prints_paths_and_identity_never_the_key(tmp_path):
    passphrase_file = tmp_path / "pass"
    passphrase_file.write_text("s3cret-pass\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "ksef_emulator.testcerts", "--nip", "1234563218", "--kind",
                           "person", "--key", "rsa", "--out", str(out), "--passphrase-file", str(passphrase_file)],
                          capture_output=True, text=True, check=True)
    fields = dict(line.split(": ", 1) for line in proc.stdout.splitlines())
    assert fields["subject_type"] == "Nip" and fields["subject_value"] == "1234563218"
    key_pem = (out / fields["key_path"].rsplit("/", 1)[1]).read_bytes()
    serialization.load_pem_private_key(key_pem, b"s3cret-pass")
    assert "PRIVATE KEY" not in proc.stdout + proc.stderr
    assert "s3cret-pass" not in proc.stdout + proc.stderr


def test_cli_generates_nip_when_omitted(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ksef_emulator.testcerts", "--kind", "seal", "--key", "ec",
                           "--out", str(tmp_path)], capture_output=True, text=True, check=True)
    nip = re.search(r"^nip: (\d{10}) \(generated\)$", proc.stdout, re.M).group(1)
    assert testcerts.nip_checksum_ok(nip)
    assert f"subject_value: {nip}" in proc.stdout


def test_cli_rejects_bad_nip(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ksef_emulator.testcerts", "--nip", "1234563219",
                           "--out", str(tmp_path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "checksum" in proc.stderr
