"""The committed-secret scanner (extensions/secret_scan): planted credentials are found, clean files stay clean.

Every planted secret is made here at run time (a key from cryptography, a token value in the contract's format, a
JWT with KSeF's claims), so the repository itself holds none. The pre-commit hook and the ansible-lint rule that
wrap this scanner are run for real in tests/ecosystem/test_secret_guard.py.
"""
from __future__ import annotations

import importlib.util
import secrets
import sys
from pathlib import Path

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.token_values import jwt_with, token_value

SCANNER = Path(__file__).resolve().parents[3] / "extensions" / "secret_scan" / "ksef_secret_scan.py"
_spec = importlib.util.spec_from_file_location("ksef_secret_scan", SCANNER)
scanner = importlib.util.module_from_spec(_spec)
sys.modules["ksef_secret_scan"] = scanner  # dataclasses look their module up
_spec.loader.exec_module(scanner)


def token(context: str = "nip-5265877635") -> str:
    return token_value(context=context)[0]


def pem(key, fmt, encryption=None) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt,
                             encryption or serialization.NoEncryption()).decode()


def vault_encrypted(value: str) -> str:
    encrypted = VaultLib([("default", VaultSecret(b"vault-password"))]).encrypt(value).decode()
    return "!vault |\n" + "".join(f"    {line}\n" for line in encrypted.splitlines())


def indented(block: str) -> str:
    return "|\n" + "".join(f"  {line}\n" for line in block.splitlines())


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())

PLANTED = {
    "token in vars": (f"ksef_manager_token: \"{token()}\"\n", "ksef-token", 1),
    "token of an InternalId in an INI inventory": (
        f"[companies]\nacme ksef_token='{token('internalId-5265877635-12345')}'\n", "ksef-token", 2),
    "access token": (f"auth:\n  access_token: {jwt_with({'token-type': 'ContextToken', 'exp': 1})}\n", "ksef-jwt", 2),
    "refresh token": (f"refresh: {jwt_with({'token-type': 'RefreshToken', 'context-identifier-type': 'Nip'})}\n",
                      "ksef-jwt", 1),
    "PKCS#8 key": ("private_key: " + indented(pem(EC_KEY, serialization.PrivateFormat.PKCS8)), "private-key", 2),
    "traditional RSA key": ("key: " + indented(pem(RSA_KEY, serialization.PrivateFormat.TraditionalOpenSSL)),
                            "private-key", 2),
    "OpenSSH key": ("key: " + indented(pem(EC_KEY, serialization.PrivateFormat.OpenSSH)), "private-key", 2),
}

CLEAN = {
    "vault-encrypted token": f"ksef_manager_token: {vault_encrypted(token())}",
    "vault-encrypted key": "private_key: " + vault_encrypted(pem(EC_KEY, serialization.PrivateFormat.PKCS8)),
    "encrypted PKCS#8 key": "private_key: " + indented(pem(
        EC_KEY, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"passphrase"))),
    "a reference number only": "revoke: 20261130-EC-1DCE3E3000-12ECB5B36E-45\n",
    "a certificate": "certificate: |\n  -----BEGIN CERTIFICATE-----\n  MIIB\n  -----END CERTIFICATE-----\n",
    "a JWT of another issuer": f"id_token: {jwt_with({'sub': 'someone', 'iss': 'https://idp.invalid'})}\n",
    "a SHA-256 digest": f"checksum: sha256:{secrets.token_hex(32)}\n",
    "a lookup of the token": "ksef_token: \"{{ lookup('ansible.builtin.env', 'KSEF_TOKEN') }}\"\n",
    "a documented example, marked": f"# {token()}  # ksef-secret-scan: ignore\n",
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_a_planted_credential_is_found_on_its_line(name):
    text, kind, line = PLANTED[name]
    findings = scanner.scan("---\n# first lines\n" + text)
    assert [(f.line, f.kind) for f in findings] == [(2 + line, kind)]


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_a_clean_file_gives_no_finding(name):
    assert scanner.scan(CLEAN[name]) == []


def test_every_finding_of_a_file_is_reported_in_line_order():
    text = "".join(text for text, _kind, _line in PLANTED.values())
    findings = scanner.scan(text)
    assert sorted(f.kind for f in findings) == sorted(kind for _text, kind, _line in PLANTED.values())
    assert [f.line for f in findings] == sorted(f.line for f in findings)


def test_the_command_line_names_file_line_and_kind_never_the_secret(tmp_path, capsys):
    value = token()
    planted = tmp_path / "group_vars" / "all.yml"
    planted.parent.mkdir()
    planted.write_text(f"---\nksef_token: {value}\n")
    clean = tmp_path / "clean.yml"
    clean.write_text(CLEAN["a lookup of the token"])
    assert scanner.main([str(clean)]) == 0
    assert scanner.main([str(clean), str(planted)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{planted}:2: [ksef-token] a KSeF token value in plain text; encrypt it")
    assert value not in out and value.split("|")[2] not in out
