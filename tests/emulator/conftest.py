"""Helpers for the emulator suite: a minimal, independent KSeF 2.0 client written from the documentation.

Everything goes over real HTTP to a real emulator process (fixtures from tests/conftest.py).
"""
from __future__ import annotations

import base64
import itertools
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

OWNER_PERMISSIONS = ["InvoiceRead", "InvoiceWrite", "CredentialsRead", "CredentialsManage", "SubunitManage",
                     "Introspection"]
REFERENCE_RE = r"^\d{8}-[A-Z]{2}-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2}$"

_rng = random.Random()
_used_nips: set[str] = set()


def new_nip() -> str:
    """A fresh NIP with a valid checksum (each test gets its own context)."""
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    while True:
        digits = [_rng.randint(1, 9), _rng.randint(1, 9)] + [_rng.randint(0, 9) for _digit in range(7)]
        check = sum(d * w for d, w in zip(digits, weights)) % 11
        if check == 10:
            continue
        nip = "".join(map(str, digits)) + str(check)
        if nip not in _used_nips:
            _used_nips.add(nip)
            return nip


@dataclass
class Login:
    reference: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.access_token}"}


class KsefClient:
    """Just enough of a KSeF client to drive the emulator as a real integrator would."""

    def __init__(self, emu):
        self.emu = emu

    @contextmanager
    def settings(self, **overrides):
        """The emulator's settings changed for what starts inside the block (e.g. `activation_delay=3600`).

        The shared emulator activates tokens and ends authentications in fractions of a second; a test that must
        see the state before that uses an hour instead, so a loaded machine cannot see it end first.
        """
        previous = self.emu.admin("GET", "config").json()
        self.emu.admin("PUT", "config", json=overrides).raise_for_status()
        try:
            yield
        finally:
            self.emu.admin("PUT", "config", json={k: previous[k] for k in overrides}).raise_for_status()

    # --- bootstrap through the control API
    def seed_token(self, nip: str, permissions=None, *, description="Token testowy", author=None,
                   status="Active", context_type="Nip", context_value=None) -> tuple[str, str]:
        body = {"context": f"{context_type}:{context_value or nip}", "permissions": permissions or OWNER_PERMISSIONS,
                "description": description, "status": status}
        if author:
            body["author"] = author
        r = self.emu.admin("POST", "tokens", json=body)
        assert r.status_code == 201, r.text
        return r.json()["referenceNumber"], r.json()["token"]

    # --- public keys and encryption
    def token_key(self) -> dict:
        certs = self.emu.api("GET", "security/public-key-certificates").json()
        usable = [c for c in certs if "KsefTokenEncryption" in c["usage"]]
        return max(usable, key=lambda c: c["validFrom"])

    @staticmethod
    def encrypt(cert: dict, plaintext: bytes) -> str:
        public_key = x509.load_der_x509_certificate(base64.b64decode(cert["certificate"])).public_key()
        encrypted = public_key.encrypt(plaintext, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                               algorithm=hashes.SHA256(), label=None))
        return base64.b64encode(encrypted).decode()

    def challenge(self) -> dict:
        r = self.emu.api("POST", "auth/challenge")
        assert r.status_code == 200, r.text
        return r.json()

    def start_token_auth(self, token_value: str | None, nip: str, *, context_type="Nip", timestamp_ms=None,
                         plaintext: bytes | None = None, encrypted: str | None = None, cert: dict | None = None,
                         public_key_id: str | None = "auto", policy: dict | None = None,
                         headers: dict | None = None) -> httpx.Response:
        challenge = self.challenge()
        cert = cert or self.token_key()
        if plaintext is None:
            plaintext = f"{token_value}|{timestamp_ms or challenge['timestampMs']}".encode()
        body = {"challenge": challenge["challenge"], "contextIdentifier": {"type": context_type, "value": nip},
                "encryptedToken": encrypted or self.encrypt(cert, plaintext)}
        if public_key_id == "auto":
            body["publicKeyId"] = cert["publicKeyId"]
        elif public_key_id is not None:
            body["publicKeyId"] = public_key_id
        if policy is not None:
            body["authorizationPolicy"] = policy
        return self.emu.api("POST", "auth/ksef-token", json=body, headers=headers or {})

    def wait_status(self, reference: str, auth_token: str, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            r = self.emu.api("GET", f"auth/{reference}", headers={"Authorization": f"Bearer {auth_token}"})
            assert r.status_code == 200, r.text
            body = r.json()
            if body["status"]["code"] != 100 or time.monotonic() > deadline:
                return body
            time.sleep(0.05)

    def token_auth_status(self, token_value: str | None, nip: str, **kwargs) -> dict:
        r = self.start_token_auth(token_value, nip, **kwargs)
        assert r.status_code == 202, r.text
        return self.wait_status(r.json()["referenceNumber"], r.json()["authenticationToken"]["token"])

    def login(self, token_value: str, nip: str, **kwargs) -> Login:
        r = self.start_token_auth(token_value, nip, **kwargs)
        assert r.status_code == 202, r.text
        reference, auth_token = r.json()["referenceNumber"], r.json()["authenticationToken"]["token"]
        status = self.wait_status(reference, auth_token)
        assert status["status"]["code"] == 200, status
        r = self.emu.api("POST", "auth/token/redeem", headers={"Authorization": f"Bearer {auth_token}"})
        assert r.status_code == 200, r.text
        return Login(reference, r.json()["accessToken"]["token"], r.json()["refreshToken"]["token"])

    def owner_login(self, nip: str, permissions=None) -> Login:
        _reference, value = self.seed_token(nip, permissions)
        return self.login(value, nip)

    def wait_token_status(self, login: Login, reference: str, wanted: str, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            body = self.emu.api("GET", f"tokens/{reference}", headers=login.headers).json()
            if body.get("status") == wanted or time.monotonic() > deadline:
                return body
            time.sleep(0.05)

    @staticmethod
    def codes(response: httpx.Response) -> list[int]:
        """Exception codes of an ExceptionResponse body."""
        return [d["exceptionCode"] for d in response.json()["exception"]["exceptionDetailList"]]

    @staticmethod
    def details(response: httpx.Response) -> list[str]:
        return list(itertools.chain.from_iterable(
            d.get("details") or [] for d in response.json()["exception"]["exceptionDetailList"]))


@pytest.fixture
def ksef(emulator) -> KsefClient:
    return KsefClient(emulator)


@pytest.fixture
def nip() -> str:
    return new_nip()


@pytest.fixture
def client_for():
    """KsefClient for emulators made by `emulator_factory`."""
    return KsefClient


@pytest.fixture
def fresh_nip():
    return new_nip
