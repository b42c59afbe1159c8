"""KSeF certificates (certyfikaty-KSeF.md): the emulator's issuing CA, enrollments and the issued certificates.

- Enrollment data is the login certificate's distinguished name, restricted to the documented attributes; a CSR
  whose subject differs is refused (25003).
- An enrollment is decided when it arrives and shown as 100 until `enrollment_delay` has passed.
- Certificates belong to the authenticated subject (Nip, Pesel or Fingerprint), never to a context.
- Its tables live in store.py with the rest of the state.
- Limits per subject type as limity/limity.md says (requests and active certificates), changeable through
  /testdata/limits/subject/certificate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID

from . import clock, refnum
from .errors import ApiError
from .settings import Settings
from .store import Store

AUTHENTICATION = "Authentication"
OFFLINE = "Offline"
TYPES = (AUTHENTICATION, OFFLINE)
STATUSES = ("Active", "Blocked", "Revoked", "Expired")
REVOCATION_REASONS = ("Unspecified", "Superseded", "KeyCompromise")

# limity/limity.md, "Wnioski i aktywne certyfikaty": (enrollment requests, active certificates)
DEFAULT_LIMITS = {"Nip": (300, 100), "Pesel": (12, 6), "Fingerprint": (12, 6)}

# The attributes /certificates/enrollments/data may return (certyfikaty-KSeF.md, the OID table), in API names.
ENROLLMENT_ATTRIBUTES = (
    ("commonName", NameOID.COMMON_NAME),
    ("surname", NameOID.SURNAME),
    ("serialNumber", NameOID.SERIAL_NUMBER),
    ("countryName", NameOID.COUNTRY_NAME),
    ("organizationName", NameOID.ORGANIZATION_NAME),
    ("givenName", NameOID.GIVEN_NAME),
    ("uniqueIdentifier", NameOID.X500_UNIQUE_IDENTIFIER),
    ("organizationIdentifier", NameOID.ORGANIZATION_IDENTIFIER),
)
ALLOWED_CSR_SIGNATURES = {
    SignatureAlgorithmOID.RSA_WITH_SHA1,
    SignatureAlgorithmOID.RSA_WITH_SHA256,
    SignatureAlgorithmOID.RSA_WITH_SHA384,
    SignatureAlgorithmOID.RSA_WITH_SHA512,
    SignatureAlgorithmOID.RSASSA_PSS,
    SignatureAlgorithmOID.ECDSA_WITH_SHA1,
    SignatureAlgorithmOID.ECDSA_WITH_SHA256,
    SignatureAlgorithmOID.ECDSA_WITH_SHA384,
    SignatureAlgorithmOID.ECDSA_WITH_SHA512,
}

ENROLLMENT_ACCEPTED = 100
ENROLLMENT_DONE = 200
ENROLLMENT_REJECTED = 400
ENROLLMENT_DESCRIPTIONS = {
    ENROLLMENT_ACCEPTED: "Wniosek przyjęty do realizacji",
    ENROLLMENT_DONE: "Wniosek obsłużony (certyfikat wygenerowany)",
    ENROLLMENT_REJECTED: "Wniosek odrzucony",
}
KEY_CERTIFIED_ELSEWHERE = "Klucz publiczny został już certyfikowany przez inny podmiot."


def enrollment_data(login_certificate: x509.Certificate) -> dict:
    """CertificateEnrollmentDataResponse: the documented attributes of the login certificate's subject."""
    data: dict = {}
    for name, oid in ENROLLMENT_ATTRIBUTES:
        values = [str(a.value) for a in login_certificate.subject.get_attributes_for_oid(oid)]
        if values:
            data[name] = " ".join(values) if name == "givenName" else values[0]
    return data


def _grouped(attributes) -> dict[str, str]:
    """OID -> its values joined by a space (a repeated givenName is one value in the enrollment data)."""
    grouped: dict[str, list[str]] = {}
    for attribute in attributes:
        grouped.setdefault(attribute.oid.dotted_string, []).append(str(attribute.value))
    return {oid: " ".join(values) for oid, values in grouped.items()}


def _documented(certificate: x509.Certificate) -> dict[str, str]:
    documented = {oid for _name, oid in ENROLLMENT_ATTRIBUTES}
    return _grouped(a for a in certificate.subject if a.oid in documented)


def check_csr(csr_der: bytes, login_certificate: x509.Certificate) -> x509.CertificateSigningRequest:
    """The CSR if KSeF would take it; ApiError with the documented code otherwise."""
    try:
        csr = x509.load_der_x509_csr(csr_der)
        signature_ok = csr.is_signature_valid
    except (ValueError, TypeError):
        raise ApiError(25004) from None
    if not signature_ok:
        raise ApiError(25004)
    key = csr.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size != 2048:
            raise ApiError(25010, f"Klucz RSA ma {key.key_size} bitów; wymagane 2048.")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ApiError(25010, f"Krzywa {key.curve.name}; wymagana secp256r1 (NIST P-256).")
    else:
        raise ApiError(25010, "Dozwolone są klucze RSA 2048 albo EC P-256.")
    if csr.signature_algorithm_oid not in ALLOWED_CSR_SIGNATURES:
        raise ApiError(25011)
    if _grouped(csr.subject) != _documented(login_certificate):
        raise ApiError(25003)
    return csr


@dataclass(frozen=True)
class InternalLogin:
    """What a login with a certificate the emulator issued resolves to."""

    serial_number: str
    certificate_type: str
    status: str
    subject_type: str
    subject_value: str


class CertificateAuthority:
    """The emulator's issuing CA: one EC P-256 key, made once and kept in the state."""

    NAME = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "KSeF API emulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, "KSeF API emulator certificate authority"),
        ]
    )

    def __init__(self, store: Store):
        self._store = store
        pem = store.meta_get("certificate_authority_key")
        if pem is None:
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()
            store.meta_set("certificate_authority_key", pem)
        loaded = serialization.load_pem_private_key(pem.encode(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)  # we wrote it
        self._key = loaded
        self.certificate = self._self_signed()

    def _self_signed(self) -> x509.Certificate:
        start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
        return (
            x509.CertificateBuilder()
            .subject_name(self.NAME)
            .issuer_name(self.NAME)
            .public_key(self._key.public_key())
            .serial_number(1)
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=365 * 30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(self._key, hashes.SHA256())
        )

    def issue(self, csr, serial_number: str, certificate_type: str, valid_from: float, valid_to: float):
        digital_signature = certificate_type == AUTHENTICATION
        builder = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.NAME)
            .public_key(csr.public_key())
            .serial_number(int(serial_number, 16))
            .not_valid_before(dt.datetime.fromtimestamp(valid_from, dt.timezone.utc))
            .not_valid_after(dt.datetime.fromtimestamp(valid_to, dt.timezone.utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            # certyfikaty-KSeF.md: Authentication carries Digital Signature (80), Offline Non-Repudiation (40).
            .add_extension(
                x509.KeyUsage(
                    digital_signature, not digital_signature, False, False, False, False, False, False, False
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
        )
        if digital_signature:
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        return builder.sign(self._key, hashes.SHA256())

    def issued(self, certificate: x509.Certificate) -> bool:
        """True when this CA signed the certificate."""
        if certificate.issuer != self.NAME:
            return False
        try:
            certificate.verify_directly_issued_by(self.certificate)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True


def _public_key_sha256(public_key) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _new_serial() -> str:
    # 16 hex digits, positive, no leading zero (the contract's ^[0-9A-F]{16}$).
    return f"{secrets.randbits(60) | (1 << 60):016X}"


class CertificateRegistry:
    def __init__(self, store: Store, settings: Settings):
        self._store = store
        self._settings = settings
        self.authority = CertificateAuthority(store)

    # ------------------------------------------------------------ login certificates

    def remember_login(self, operation_reference: str, certificate_der: bytes) -> None:
        self._store.execute(
            "INSERT OR REPLACE INTO login_certificates (operation_reference, certificate_der) VALUES (?, ?)",
            (operation_reference, certificate_der),
        )

    def login_certificate(self, operation_reference: str) -> x509.Certificate | None:
        row = self._store.one(
            "SELECT certificate_der FROM login_certificates WHERE operation_reference = ?", (operation_reference,)
        )
        return None if row is None else x509.load_der_x509_certificate(row["certificate_der"])

    def internal_login(self, certificate: x509.Certificate) -> InternalLogin | None:
        """The registry's record when the certificate is one this emulator issued, else None."""
        if not self.authority.issued(certificate):
            return None
        cert = self.get(f"{certificate.serial_number:016X}")
        if cert is None:
            return None
        return InternalLogin(
            cert["serial_number"], cert["type"], cert["status"], cert["subject_type"], cert["subject_value"]
        )

    def touch(self, serial_number: str) -> None:
        self._store.execute(
            "UPDATE ksef_certificates SET last_use_date = ? WHERE serial_number = ?", (clock.now(), serial_number)
        )

    # ------------------------------------------------------------ limits

    def limits(self, subject_type: str, subject_value: str) -> dict:
        max_enrollments, max_certificates = DEFAULT_LIMITS.get(subject_type, DEFAULT_LIMITS["Fingerprint"])
        row = self._store.one(
            "SELECT * FROM subject_certificate_limits WHERE subject_type = ? AND subject_value = ?",
            (subject_type, subject_value),
        )
        if row is not None:
            if row["max_enrollments"] is not None:
                max_enrollments = row["max_enrollments"]
            if row["max_certificates"] is not None:
                max_certificates = row["max_certificates"]
        enrolled = self._store.one(
            "SELECT COUNT(*) AS n FROM certificate_enrollments WHERE subject_type = ? AND subject_value = ?",
            (subject_type, subject_value),
        )
        active = sum(1 for c in self.of_subject(subject_type, subject_value) if c["status"] == "Active")
        enrollment_left = max(0, max_enrollments - (enrolled["n"] if enrolled else 0))
        certificate_left = max(0, max_certificates - active)
        return {
            "canRequest": enrollment_left > 0 and certificate_left > 0,
            "enrollment": {"remaining": enrollment_left, "limit": max_enrollments},
            "certificate": {"remaining": certificate_left, "limit": max_certificates},
        }

    def set_limits(
        self, subject_type: str, subject_value: str, max_enrollments: int | None, max_certificates: int | None
    ) -> None:
        self._store.execute(
            "INSERT OR REPLACE INTO subject_certificate_limits VALUES (?, ?, ?, ?)",
            (subject_type, subject_value, max_enrollments, max_certificates),
        )

    def reset_limits(self, subject_type: str, subject_value: str) -> None:
        self._store.execute(
            "DELETE FROM subject_certificate_limits WHERE subject_type = ? AND subject_value = ?",
            (subject_type, subject_value),
        )

    # ------------------------------------------------------------ enrollment

    def enroll(
        self,
        subject_type: str,
        subject_value: str,
        csr: x509.CertificateSigningRequest,
        name: str,
        certificate_type: str,
        valid_from: float | None,
    ) -> tuple[str, float]:
        """Decide the enrollment now (shown after the delay); return its reference number and request date."""
        limits = self.limits(subject_type, subject_value)
        if limits["enrollment"]["remaining"] <= 0:
            raise ApiError(25006)
        if limits["certificate"]["remaining"] <= 0:
            raise ApiError(25007)
        now = clock.now()
        reference = refnum.new_reference(refnum.CERTIFICATE_ENROLLMENT)
        final_at = now + self._settings.scaled(self._settings.enrollment_delay)
        key_sha = _public_key_sha256(csr.public_key())
        elsewhere = self._store.one(
            "SELECT 1 FROM ksef_certificates"
            " WHERE public_key_sha256 = ? AND NOT (subject_type = ? AND subject_value = ?)",
            (key_sha, subject_type, subject_value),
        )
        with self._store.transaction() as db:
            if elsewhere is not None:
                db.execute(
                    "INSERT INTO certificate_enrollments VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                    (
                        reference,
                        subject_type,
                        subject_value,
                        now,
                        final_at,
                        ENROLLMENT_REJECTED,
                        json.dumps([KEY_CERTIFIED_ELSEWHERE]),
                    ),
                )
                return reference, now
            serial = _new_serial()
            start = now if valid_from is None else valid_from
            end = start + self._settings.certificate_validity
            issued = self.authority.issue(csr, serial, certificate_type, start, end)
            common = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            db.execute(
                "INSERT INTO ksef_certificates (serial_number, name, type, common_name, subject_type, subject_value,"
                " valid_from, valid_to, request_date, issued_at, public_key_sha256, certificate_der, seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " (SELECT COALESCE(MAX(seq), 0) + 1 FROM ksef_certificates))",
                (
                    serial,
                    name,
                    certificate_type,
                    str(common[0].value) if common else "",
                    subject_type,
                    subject_value,
                    start,
                    end,
                    now,
                    final_at,
                    key_sha,
                    issued.public_bytes(serialization.Encoding.DER),
                ),
            )
            db.execute(
                "INSERT INTO certificate_enrollments VALUES (?, ?, ?, ?, ?, ?, '[]', ?)",
                (reference, subject_type, subject_value, now, final_at, ENROLLMENT_DONE, serial),
            )
        return reference, now

    def enrollment(self, reference: str) -> dict | None:
        row = self._store.one("SELECT * FROM certificate_enrollments WHERE reference_number = ?", (reference,))
        return None if row is None else dict(row)

    @staticmethod
    def enrollment_as_api(enrollment: dict) -> dict:
        code = enrollment["outcome_code"] if clock.now() >= enrollment["final_at"] else ENROLLMENT_ACCEPTED
        status: dict = {"code": code, "description": ENROLLMENT_DESCRIPTIONS[code]}
        details = json.loads(enrollment["outcome_details"])
        if code == ENROLLMENT_REJECTED and details:
            status["details"] = details
        body: dict = {"requestDate": clock.iso(enrollment["request_date"]), "status": status}
        if code == ENROLLMENT_DONE:
            body["certificateSerialNumber"] = enrollment["serial_number"]
        return body

    # ------------------------------------------------------------ certificates

    def _as_dict(self, row) -> dict:
        cert = dict(row)
        now = clock.now()
        if cert["revoked_at"] is not None:
            cert["status"] = "Revoked"
        elif now > cert["valid_to"]:
            cert["status"] = "Expired"
        else:
            cert["status"] = "Active"
        return cert

    def get(self, serial_number: str) -> dict | None:
        row = self._store.one(
            "SELECT * FROM ksef_certificates WHERE serial_number = ? AND issued_at <= ?", (serial_number, clock.now())
        )
        return None if row is None else self._as_dict(row)

    def of_subject(self, subject_type: str, subject_value: str) -> list[dict]:
        rows = self._store.all(
            "SELECT * FROM ksef_certificates WHERE subject_type = ? AND subject_value = ? AND issued_at <= ?"
            " ORDER BY request_date DESC, seq DESC",
            (subject_type, subject_value, clock.now()),
        )
        return [self._as_dict(r) for r in rows]

    def revoke(self, serial_number: str, reason: str) -> None:
        self._store.execute(
            "UPDATE ksef_certificates SET revoked_at = ?, revocation_reason = ? WHERE serial_number = ?",
            (clock.now(), reason, serial_number),
        )

    def age(self, serial_number: str, seconds: float, expires_in: float | None) -> None:
        """Control API: an older request date (and validity start), or an end of validity `expires_in` from now."""
        self._store.execute(
            "UPDATE ksef_certificates SET request_date = request_date - ?, valid_from = valid_from - ?,"
            " issued_at = issued_at - ? WHERE serial_number = ?",
            (seconds, seconds, seconds, serial_number),
        )
        if expires_in is not None:
            self._store.execute(
                "UPDATE ksef_certificates SET valid_to = ? WHERE serial_number = ?",
                (clock.now() + expires_in, serial_number),
            )

    def set_valid_to(self, serial_number: str, valid_to: float) -> None:
        """PUT /testdata/certificates/{serialNumber}: a new end of validity (the route checks it is not later)."""
        self._store.execute(
            "UPDATE ksef_certificates SET valid_to = ? WHERE serial_number = ?", (valid_to, serial_number)
        )

    @staticmethod
    def as_list_item(cert: dict) -> dict:
        item = {
            "certificateSerialNumber": cert["serial_number"],
            "name": cert["name"],
            "type": cert["type"],
            "commonName": cert["common_name"],
            "status": cert["status"],
            "subjectIdentifier": {"type": cert["subject_type"], "value": cert["subject_value"]},
            "validFrom": clock.iso(cert["valid_from"]),
            "validTo": clock.iso(cert["valid_to"]),
            "requestDate": clock.iso(cert["request_date"]),
        }
        if cert["last_use_date"] is not None:
            item["lastUseDate"] = clock.iso(cert["last_use_date"])
        return item
