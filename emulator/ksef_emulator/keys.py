"""The public-key certificates KSeF publishes for client-side encryption, their rotation, and decryption.

Identifiers as documented (bezpieczenstwo/klucze-publiczne-do-szyfrowania.md):
certificateId = Base64(SHA-256(certificate DER)), publicKeyId = Base64(SHA-256(SubjectPublicKeyInfo DER)).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from . import clock
from .errors import ApiError
from .store import Store

TOKEN_ENCRYPTION = "KsefTokenEncryption"
SYMMETRIC_KEY_ENCRYPTION = "SymmetricKeyEncryption"
USAGES = (TOKEN_ENCRYPTION, SYMMETRIC_KEY_ENCRYPTION)

CERTIFICATE_YEARS = 2


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@dataclass(frozen=True)
class PublishedKey:
    public_key_id: str
    usage: str
    certificate_der: bytes
    certificate_id: str
    valid_from: float
    valid_to: float

    def as_api(self) -> dict:
        return {
            "certificate": base64.b64encode(self.certificate_der).decode(),
            "certificateId": self.certificate_id,
            "publicKeyId": self.public_key_id,
            "validFrom": clock.iso(self.valid_from),
            "validTo": clock.iso(self.valid_to),
            "usage": [self.usage],
        }


def _self_signed(private_key: rsa.RSAPrivateKey, usage: str, valid_from: float) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "KSeF API emulator"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, usage),
            x509.NameAttribute(NameOID.COMMON_NAME, "Ministerstwo Finansów"),
        ]
    )
    start = dt.datetime.fromtimestamp(int(valid_from), tz=dt.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365 * CERTIFICATE_YEARS))
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(private_key, hashes.SHA256())
    )


class KeyRing:
    """Key pairs per usage; retired keys are no longer published nor accepted."""

    def __init__(self, store: Store):
        self._store = store
        self._lock = threading.Lock()
        self._private: dict[str, rsa.RSAPrivateKey] = {}
        for usage in USAGES:
            if not self._active(usage):
                self._create(usage, clock.now() - 86400)

    def _create(self, usage: str, valid_from: float) -> PublishedKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = _self_signed(key, usage, valid_from)
        der = cert.public_bytes(serialization.Encoding.DER)
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        published = PublishedKey(
            b64_sha256(spki),
            usage,
            der,
            b64_sha256(der),
            int(valid_from),
            int(valid_from) + 365 * CERTIFICATE_YEARS * 86400,
        )
        self._store.execute(
            "INSERT INTO encryption_keys (public_key_id, usage, private_key_pem, certificate_der, certificate_id,"
            " valid_from, valid_to) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                published.public_key_id,
                usage,
                pem,
                der,
                published.certificate_id,
                published.valid_from,
                published.valid_to,
            ),
        )
        self._private[published.public_key_id] = key
        return published

    def _active(self, usage: str | None = None) -> list[PublishedKey]:
        rows = self._store.all(
            "SELECT * FROM encryption_keys WHERE retired = 0 AND (? IS NULL OR usage = ?) ORDER BY valid_from",
            (usage, usage),
        )
        return [
            PublishedKey(
                r["public_key_id"],
                r["usage"],
                bytes(r["certificate_der"]),
                r["certificate_id"],
                r["valid_from"],
                r["valid_to"],
            )
            for r in rows
        ]

    def published(self) -> list[PublishedKey]:
        return self._active()

    def current(self, usage: str) -> PublishedKey:
        """The newest valid key for a usage (what a client should pick)."""
        now = clock.now()
        valid = [k for k in self._active(usage) if k.valid_from <= now <= k.valid_to]
        return max(valid, key=lambda k: k.valid_from)

    def rotate(self, mode: str) -> list[PublishedKey]:
        """planned: publish a new key next to the old one; emergency: retire the old ones first."""
        if mode not in ("planned", "emergency"):
            raise ValueError("mode must be 'planned' or 'emergency'")
        with self._lock:
            created = []
            for usage in USAGES:
                old = self._active(usage)
                newest_from = max((k.valid_from for k in old), default=clock.now() - 86400)
                if mode == "emergency":
                    self._store.execute("UPDATE encryption_keys SET retired = 1 WHERE usage = ?", (usage,))
                # A newer validFrom than every published key, and already valid now.
                created.append(self._create(usage, max(newest_from + 1, clock.now() - 1)))
            return created

    def _private_key(self, public_key_id: str) -> rsa.RSAPrivateKey:
        key = self._private.get(public_key_id)
        if key is None:
            row = self._store.one(
                "SELECT private_key_pem FROM encryption_keys WHERE public_key_id = ?", (public_key_id,)
            )
            if row is None:
                raise KeyError(public_key_id)
            loaded = serialization.load_pem_private_key(bytes(row["private_key_pem"]), password=None)
            assert isinstance(loaded, rsa.RSAPrivateKey)  # the emulator only stores RSA encryption keys
            key = self._private[public_key_id] = loaded
        return key

    def resolve(self, public_key_id: str | None, usage: str) -> str:
        """The key a request names (or the current one); unknown/retired -> 400 21470."""
        if public_key_id is None:
            return self.current(usage).public_key_id
        if not any(k.public_key_id == public_key_id for k in self._active(usage)):
            raise ApiError(21470, f"Klucz o identyfikatorze {public_key_id} nie jest wspierany.")
        return public_key_id

    def decrypt(self, public_key_id: str, ciphertext: bytes) -> bytes:
        """RSA-OAEP with SHA-256 and MGF1-SHA-256; raises ValueError when it does not decrypt."""
        return self._private_key(public_key_id).decrypt(
            ciphertext, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
        )
