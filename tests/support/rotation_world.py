"""One KSeF context and the stores its token lives in, with the invariants every rotation test checks.

The token `erp-sender` is kept in three stores at once, in this order:
  file (a YAML file, ansible-vault encrypted when `encrypted` is set), hashicorp_vault (a real OpenBao server behind a fault proxy),
  aws_secretsmanager (moto_server behind tests/support/aws_fault_proxy.py).
The test process reads each store on its own (ansible-core's VaultLib, the Vault HTTP API, boto3 against
moto directly) and asks the emulator's control API for every token of the context.
"""
from __future__ import annotations

from pathlib import Path

import boto3
import httpx
import pytest
import yaml

from ksef_emulator.testcerts import random_nip

PLAYBOOK = Path(__file__).resolve().parent.parent / "integration" / "playbooks" / "rotation" / "declare.yml"
TASK = "Declare the token"
NAME = "erp-sender"
MARKER = f"[ksef.credentials:{NAME}]"
REGION = "eu-central-1"
SECRET = "ksef/erp"
VAULT_PATH = "ksef/erp"
LIVE = ("Pending", "Active")
ORPHAN_MARGIN_SECONDS = 600


class RotationWorld:
    def __init__(self, emulator, tmp_path: Path, vault_server, moto_endpoint: str, proxy):
        self.emulator = emulator
        self.tmp_path = tmp_path
        self.vault_server = vault_server
        self.moto_endpoint = moto_endpoint
        self.proxy = proxy
        self.nip = random_nip()
        seeded = emulator.admin("POST", "tokens", json={
            "context": f"Nip:{self.nip}", "author": f"Nip:{self.nip}", "status": "Active", "description": "bootstrap",
            "permissions": ["CredentialsManage", "CredentialsRead", "InvoiceRead", "InvoiceWrite"]})
        seeded.raise_for_status()
        self.manager = seeded.json()
        self.secrets_dir = tmp_path / "secrets"
        self.secrets_dir.mkdir()
        self.password = b"rotation test vault password"
        self.password_file = tmp_path / "vault.pass"
        self.password_file.write_bytes(self.password + b"\n")
        self.file_path = self.secrets_dir / "erp.yml"
        self.encrypted = False  # ansible-vault costs two ansible-vault processes per file access: only where it matters
        self.env = {"KSEF_LOCK_DIR": str(tmp_path / "locks")}
        self.secretsmanager = boto3.client("secretsmanager", endpoint_url=moto_endpoint, region_name=REGION)

    # -- declared state ---------------------------------------------------------------------------
    def stores(self, **file_options) -> list[dict]:
        encryption = {"vault_password_file": str(self.password_file)} if self.encrypted else {}
        return [
            {"type": "file", "path": str(self.file_path), "format": "yaml", "key": "ksef_token", **encryption,
             **file_options},
            {"type": "hashicorp_vault", "url": self.vault_server.url, "token": self.vault_server.root_token,
             "path": VAULT_PATH},
            {"type": "aws_secretsmanager", "name": SECRET, "region": REGION, "endpoint_url": self.proxy.url},
        ]

    @property
    def labels(self) -> list[str]:
        return [f"file:{self.file_path}#ksef_token", f"vault:secret/data/{VAULT_PATH}#token",
                f"aws_secretsmanager:{SECRET}"]

    def vars(self, **overrides) -> dict:
        base = {"api_url": self.emulator.api_url, "nip": self.nip, "manager_token": self.manager["token"],
                "token_name": NAME, "stores": self.stores()}
        base.update(overrides)
        return base

    def seed_current(self) -> tuple[str, str]:
        """A managed Active token put into every store directly (what a successful first run leaves behind,
        without spending a playbook run on it). Returns (reference number, value)."""
        seeded = self.emulator.admin("POST", "tokens", json={
            "context": f"Nip:{self.nip}", "author": f"Nip:{self.nip}", "status": "Active",
            "description": f"ERP invoice sender {MARKER}", "permissions": ["InvoiceRead", "InvoiceWrite"]})
        seeded.raise_for_status()
        ref, value = seeded.json()["referenceNumber"], seeded.json()["token"]
        text = yaml.safe_dump({"ksef_token": value}).encode()
        if self.encrypted:
            from ansible.parsing.vault import VaultLib, VaultSecret
            text = VaultLib([("default", VaultSecret(self.password))]).encrypt(text)
        self.file_path.write_bytes(text)
        self.file_path.chmod(0o600)
        httpx.post(f"{self.vault_server.url}/v1/secret/data/{VAULT_PATH}", headers=self.vault_token_header(),
                   json={"data": {"token": value}}, timeout=10).raise_for_status()
        self.secretsmanager.create_secret(Name=SECRET, SecretString=value)
        return ref, value

    # -- what the stores hold, read independently of the collection ----------------------------------
    def file_value(self) -> str | None:
        from ansible.parsing.vault import VaultLib, VaultSecret
        if not self.file_path.exists():
            return None
        data = self.file_path.read_bytes()
        if data.startswith(b"$ANSIBLE_VAULT;"):
            data = VaultLib([("default", VaultSecret(self.password))]).decrypt(data)
        return (yaml.safe_load(data) or {}).get("ksef_token")

    def vault_value(self) -> str | None:
        return (self.vault_server.data(VAULT_PATH) or {}).get("token")

    def aws_value(self, stage: str = "AWSCURRENT") -> str | None:
        try:
            return self.secretsmanager.get_secret_value(SecretId=SECRET, VersionStage=stage)["SecretString"]
        except self.secretsmanager.exceptions.ResourceNotFoundException:
            return None

    def held(self) -> dict:
        """Store label -> the value it holds now (None: nothing)."""
        return dict(zip(self.labels, (self.file_value(), self.vault_value(), self.aws_value())))

    def held_refs(self) -> dict:
        return {label: (value.split("|")[0] if value else None) for label, value in self.held().items()}

    # -- KSeF's side ------------------------------------------------------------------------------------
    def tokens(self) -> dict:
        """Every managed `erp-sender` token of the context by reference number (control API: never a value)."""
        listed = self.emulator.admin("GET", "tokens", params={"context": f"Nip:{self.nip}"})
        listed.raise_for_status()
        return {t["referenceNumber"]: t for t in listed.json()["tokens"] if (t["description"] or "").endswith(MARKER)}

    def live(self) -> dict:
        return {ref: t for ref, t in self.tokens().items() if t["status"] in LIVE}

    def status(self, ref: str) -> str:
        return self.tokens()[ref]["status"]

    def backdate(self, ref: str, seconds: int) -> None:
        self.emulator.admin("POST", f"tokens/{ref}/backdate", json={"seconds": seconds}).raise_for_status()

    def backdate_orphans(self) -> list[str]:
        """Age every live token no store holds past the orphan margin (a killed run's token is young)."""
        held = set(self.held_refs().values())
        orphans = [ref for ref in self.live() if ref not in held]
        for ref in orphans:
            self.backdate(ref, ORPHAN_MARGIN_SECONDS + 60)
        return orphans

    def logs_in(self, value: str) -> bool:
        from ansible_collections.ksef.credentials.plugins.module_utils._auth import verify_ksef_token
        from ansible_collections.ksef.credentials.plugins.module_utils._connection import KsefContext
        from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefError
        from ansible_collections.ksef.credentials.plugins.module_utils._http import KsefHttp
        try:
            verify_ksef_token(KsefHttp(self.emulator.api_url), KsefContext("Nip", self.nip), value)
        except KsefError:
            return False
        return True

    # -- the invariants ---------------------------------------------------------------------------------
    def assert_converged(self, labels=None) -> str:
        """Exactly one live token, Active; every store (of `labels`) holds its value; it logs in; no orphan."""
        live = self.live()
        assert len(live) == 1, f"exactly one live token expected, found {sorted((r, t['status']) for r, t in live.items())}"
        (ref, token), = live.items()
        assert token["status"] == "Active", token
        held = {label: value for label, value in self.held().items() if labels is None or label in labels}
        refs = {label: (value.split("|")[0] if value else None) for label, value in held.items()}
        assert set(refs.values()) == {ref}, f"every store must hold {ref}: {refs}"
        assert len(set(held.values())) == 1, "every store holds the same value"
        assert self.logs_in(next(iter(held.values()))), "the stored value logs in"
        return ref

    def assert_unchanged(self, old_ref: str, old_value: str, new_refs) -> None:
        """After a failed rotation: the old token is Active and in every store; every new token is dead."""
        assert self.status(old_ref) == "Active"
        assert set(self.held().values()) == {old_value}, f"every store must still hold {old_ref}: {self.held_refs()}"
        for ref in new_refs:
            assert self.status(ref) in ("Failed", "Revoking", "Revoked"), (ref, self.status(ref))

    def assert_no_secret(self, text: str, *values: str) -> None:
        for value in (self.manager["token"], *values):
            if value:
                assert value.split("|")[-1] not in text, "a token value leaked into the output"

    def vault_token_header(self) -> dict:
        return {"X-Vault-Token": self.vault_server.root_token}

    def vault_versions(self) -> int:
        response = httpx.get(f"{self.vault_server.url}/v1/secret/metadata/{VAULT_PATH}",
                             headers=self.vault_token_header(), timeout=10)
        return response.json()["data"]["current_version"] if response.status_code == 200 else 0


# -- fixtures (registered for the whole suite in tests/conftest.py: pytest_plugins) ----------------------
@pytest.fixture
def aws_proxy(aws_endpoint):
    from tests.support.aws_fault_proxy import AwsFaultProxy
    proxy = AwsFaultProxy(aws_endpoint, REGION).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def world(emulator_factory, tmp_path, vault_server, aws_endpoint, aws_proxy):
    """A fresh emulator of its own (faults and config are global to an emulator), fast activation, no rate limits."""
    emulator = emulator_factory("--rate-limits", "off", "--activation-delay", "0.3", "--auth-delay", "0.05")
    return RotationWorld(emulator, tmp_path, vault_server, aws_endpoint, aws_proxy)
