"""Secrets canaries: collect every secret a scenario handled and look for any of them in texts and files.

A leak is reported as (where, kind) and never prints the secret itself, so a failing test does not leak either.
"""
from __future__ import annotations

import base64
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization

# Shorter fragments would match by chance (hex digits, base64 of common headers).
MIN_FRAGMENT = 16


@dataclass
class Canaries:
    """Named secrets; `add` keeps the parts of a value that are secret on their own."""

    items: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, value: str | None) -> None:
        if not value:
            return
        value = str(value)
        self.items.setdefault(value, kind)
        if value.count("|") == 2:  # a KSeF token: "{reference}|{context}|{secret}" - the reference is public
            self.items.setdefault(value.rsplit("|", 1)[1], kind + " (secret part)")

    def add_emulator_secrets(self, emulator) -> None:
        """Everything the emulator issued since start (GET /_emulator/secrets, --expose-secrets)."""
        response = emulator.admin("GET", "secrets")
        response.raise_for_status()
        for kind, values in response.json().items():
            for value in values:
                self.add(kind, value)

    def add_private_key(self, key_path: Path, passphrase: str | None) -> None:
        """The PEM body lines of the key file as stored, and of the unencrypted key."""
        data = key_path.read_bytes()
        self._add_pem_lines("private key PEM", data)
        key = serialization.load_pem_private_key(data, passphrase.encode() if passphrase else None)
        clear = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
        self._add_pem_lines("private key PEM (unencrypted)", clear)
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        self.add("private key DER (base64)", base64.b64encode(der).decode()[100:164])
        if passphrase:
            self.add("private key passphrase", passphrase)

    def add_bundle_key(self, bundle_path: Path) -> None:
        """The private key of a certificate bundle (certificate PEM, then key PEM): only the key's lines, since the
        certificate itself is public (KSeF hands it out as base64 DER, which shares the PEM lines)."""
        key = serialization.load_pem_private_key(bundle_path.read_bytes(), None)
        self._add_pem_lines("managed certificate key", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    def _add_pem_lines(self, kind: str, pem: bytes) -> None:
        for line in pem.decode().splitlines():
            if not line.startswith("-----") and len(line) >= MIN_FRAGMENT:
                self.add(kind, line)

    def __len__(self) -> int:
        return len(self.items)

    def kinds(self) -> set[str]:
        return set(self.items.values())

    def leaks_in(self, where: str, text: str | bytes) -> list[tuple[str, str]]:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return [(where, kind) for secret, kind in self.items.items() if secret in text]


def walk_files(*roots: Path, skip: set[Path] = frozenset()) -> list[Path]:
    """Every regular file under the roots, except the paths in `skip` (files or whole directories)."""
    skip = {Path(os.path.realpath(p)) for p in skip}
    found = []
    for root in roots:
        if not root.exists():
            continue
        for directory, _dirs, files in os.walk(root):
            for name in files:
                path = Path(os.path.realpath(Path(directory) / name))
                if path in skip or any(parent in skip for parent in path.parents):
                    continue
                if stat.S_ISREG(os.lstat(path).st_mode):
                    found.append(path)
    return found


def leaks_in_files(canaries: Canaries, files: list[Path]) -> list[tuple[str, str]]:
    leaks = []
    for path in files:
        leaks += canaries.leaks_in(str(path), path.read_bytes())
    return leaks
