"""Self-signed test certificates shaped like the ones KSeF TEST accepts for XAdES authentication.

A person certificate carries givenName, surname, serialNumber ("TINPL-<nip>" or "PNOPL-<pesel>"),
commonName and countryName PL; a company seal carries organizationName, organizationIdentifier
("VATPL-<nip>"), commonName and countryName PL (auth/podpis-xades.md). Without an identifier the
certificate can only authenticate by its SHA-256 fingerprint.

CLI: python -m ksef_emulator.testcerts --nip 1234563218 --kind person --key rsa --out DIR
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from .cli_numbers import describe_character, not_ascii_digit, whole

NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
PESEL_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
EC_CURVES = {224: ec.SECP224R1, 256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}


def nip_checksum_ok(nip: str) -> bool:
    if len(nip) != 10 or not (nip.isascii() and nip.isdigit()):
        return False
    check = sum(int(d) * w for d, w in zip(nip, NIP_WEIGHTS)) % 11
    return check != 10 and check == int(nip[9])


def random_nip(rng: random.Random | None = None) -> str:
    """A random NIP with a valid checksum that also matches the XSD TNIP pattern (no "00" in digits 2-3)."""
    rng = rng or random.SystemRandom()
    while True:
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _digit in range(8)]
        if digits[1] == 0 and digits[2] == 0:
            continue
        check = sum(d * w for d, w in zip(digits, NIP_WEIGHTS)) % 11
        if check != 10:  # a NIP whose checksum is 10 does not exist
            return "".join(map(str, digits)) + str(check)


def pesel_checksum_ok(pesel: str) -> bool:
    if len(pesel) != 11 or not (pesel.isascii() and pesel.isdigit()):
        return False
    total = sum(int(d) * w for d, w in zip(pesel, PESEL_WEIGHTS))
    return (10 - total % 10) % 10 == int(pesel[10])


def random_pesel(rng: random.Random | None = None) -> str:
    """A random PESEL of a person born 1950-2009 (month carries the century), with a valid checksum."""
    rng = rng or random.SystemRandom()
    birth = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randint(0, 60 * 365))
    month = birth.month + (20 if birth.year >= 2000 else 0)
    digits = [int(c) for c in f"{birth.year % 100:02d}{month:02d}{birth.day:02d}{rng.randint(0, 9999):04d}"]
    total = sum(d * w for d, w in zip(digits, PESEL_WEIGHTS))
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


@dataclass(frozen=True)
class CertificateFiles:
    cert_path: Path
    key_path: Path
    pkcs12_path: Path
    fingerprint: str  # SHA-256 of the DER certificate, hex upper case (what certificateFingerprint uses)
    subject_type: str  # "Nip" | "Pesel" | "Fingerprint"
    subject_value: str
    kind: str  # "person" | "seal"


def _generate_key(key_type: str, key_size: int | None):
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=key_size or 2048)
    if key_type == "ec":
        curve = EC_CURVES.get(key_size or 256)
        if curve is None:
            raise ValueError(f"unsupported EC size {key_size}; choose one of {sorted(EC_CURVES)}")
        return ec.generate_private_key(curve())  # type: ignore[abstract]  # a concrete curve class
    raise ValueError(f"unsupported key type {key_type!r}; choose rsa or ec")


def _subject(
    kind: str,
    nip: str | None,
    pesel: str | None,
    common_name: str | None,
    identifier: bool,
    extra: Sequence[x509.NameAttribute],
) -> x509.Name:
    if kind == "person":
        attrs = [x509.NameAttribute(NameOID.GIVEN_NAME, "Jan"), x509.NameAttribute(NameOID.SURNAME, "Kowalski")]
        if identifier:
            serial = f"PNOPL-{pesel}" if pesel else f"TINPL-{nip}"
            attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name or "Jan Kowalski"))
    elif kind == "seal":
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"Firma Testowa {nip or ''}".strip())]
        if identifier:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"VATPL-{nip}"))
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name or "Firma Testowa"))
    else:
        raise ValueError(f"unsupported kind {kind!r}; choose person or seal")
    attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"))
    return x509.Name(attrs + list(extra))


def _write_private(path: Path, data: bytes) -> None:
    """Write a file holding key material, readable by the owner only from the first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def generate_certificate(
    out_dir: str | os.PathLike,
    *,
    nip: str | None = None,
    pesel: str | None = None,
    kind: str = "person",
    key_type: str = "rsa",
    key_size: int | None = None,
    passphrase: str | None = None,
    common_name: str | None = None,
    identifier: bool = True,
    days: int = 365,
    extra_subject_attributes: Sequence[x509.NameAttribute] = (),
) -> CertificateFiles:
    """Generate a key and a self-signed certificate; write cert PEM, key PEM (encrypted with a passphrase) and PKCS#12.

    key_size: RSA modulus bits (default 2048) or EC curve bits (default 256 = P-256).
    A person gets "TINPL-<nip>" unless a PESEL is given; a NIP is drawn at random when none is given.
    extra_subject_attributes lets tests build deliberately wrong certificates (e.g. a seal with givenName).
    """
    if kind == "seal" and pesel:
        raise ValueError("a company seal is identified by NIP, not PESEL")
    if identifier and not pesel and not nip:
        nip = random_nip()
    key = _generate_key(key_type, key_size)
    subject = _subject(kind, nip, pesel, common_name, identifier, extra_subject_attributes)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    fingerprint = cert.fingerprint(hashes.SHA256()).hex().upper()
    if not identifier:
        subject_type, subject_value = "Fingerprint", fingerprint
    elif pesel:
        subject_type, subject_value = "Pesel", pesel
    else:
        subject_type, subject_value = "Nip", nip or ""

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{kind}-{subject_value if identifier else 'noid'}-{key_type}-{fingerprint[:8].lower()}"
    cert_path, key_path, p12_path = out / f"{stem}.crt.pem", out / f"{stem}.key.pem", out / f"{stem}.p12"
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(
        key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    _write_private(p12_path, pkcs12.serialize_key_and_certificates(stem.encode(), key, cert, None, encryption))
    return CertificateFiles(cert_path, key_path, p12_path, fingerprint, subject_type, subject_value, kind)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ksef_emulator.testcerts",
        description="Generate a self-signed KSeF TEST certificate (person or seal).",
    )
    parser.add_argument("--nip", help="NIP in the certificate (random when omitted)")
    parser.add_argument("--pesel", help="PESEL for a person certificate (PNOPL-) instead of a NIP (TINPL-)")
    parser.add_argument("--kind", choices=("person", "seal"), default="person")
    parser.add_argument("--key", choices=("rsa", "ec"), default="rsa", dest="key_type")
    parser.add_argument("--key-size", type=whole, help="RSA bits (default 2048) or EC curve bits (default 256)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--passphrase-file", help="encrypt the key and PKCS#12 with the first line of this file")
    parser.add_argument("--common-name")
    parser.add_argument(
        "--no-identifier",
        action="store_true",
        help="no NIP/PESEL in the subject: authenticate with certificateFingerprint",
    )
    parser.add_argument("--days", type=whole, default=365)
    args = parser.parse_args(argv)

    for option, identifier in (("--nip", args.nip), ("--pesel", args.pesel)):
        foreign = not_ascii_digit(identifier or "")
        if foreign:
            parser.error(f"{option} is written with the ASCII digits 0-9; {describe_character(foreign)} is not one")
    if args.nip and not nip_checksum_ok(args.nip):
        parser.error("--nip has an invalid checksum")
    if args.pesel and not pesel_checksum_ok(args.pesel):
        parser.error("--pesel has an invalid checksum")
    nip = args.nip
    generated_nip = False
    if not args.no_identifier and not args.pesel and not nip:
        nip, generated_nip = random_nip(), True
    passphrase = None
    if args.passphrase_file:
        lines = Path(args.passphrase_file).read_text().splitlines()
        passphrase = lines[0] if lines else ""
        if not passphrase:
            parser.error("--passphrase-file is empty")
    files = generate_certificate(
        args.out,
        nip=nip,
        pesel=args.pesel,
        kind=args.kind,
        key_type=args.key_type,
        key_size=args.key_size,
        passphrase=passphrase,
        common_name=args.common_name,
        identifier=not args.no_identifier,
        days=args.days,
    )
    if generated_nip:
        print(f"nip: {nip} (generated)")
    for name, value in asdict(files).items():
        print(f"{name}: {value}")
    print(f"key_encrypted: {bool(passphrase)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
