"""docs/examples/office-chain/: the accounting office chain, run as written against the shared emulator. The client's
host grants its office InvoiceRead and InvoiceWrite with canDelegate, then the office's host grants its bookkeeper
the client's invoices (an indirect grant for that one client). The public client ksef-client (PyPI) reads the rows
back in both contexts, and the bookkeeper's certificate logs in to the client's context: 415 before, 200 after.
The YAML blocks of docs/permissions.md that name an example file are that file."""
from __future__ import annotations

import json
import time

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret
from ksef_client import KsefClient, KsefClientOptions, models
from ksef_client.services.workflows import AuthCoordinator

from ksef_emulator.testcerts import generate_certificate, random_nip
from tests.conftest import REPO
from tests.emulator.test_permissions import sign
from tests.integration.test_example_environments import _named_blocks

pytestmark = pytest.mark.integration

EXAMPLE = REPO / "docs" / "examples" / "office-chain"
GUIDE = REPO / "docs" / "permissions.md"
MANAGER = ["CredentialsManage", "CredentialsRead", "InvoiceRead", "InvoiceWrite"]
STAFF_PESEL = "90010112349"  # the bookkeeper of the example's inventory
MARKER = "[ksef.credentials:%s]"


def _scope(row) -> str:
    return str(getattr(row.permission_scope, "value", row.permission_scope))


def _value(identifier) -> str | None:
    return identifier.value if identifier is not None else None


class Chain:
    """Two fresh contexts with a manager token each, in ansible-vault encrypted files where the example reads them."""

    def __init__(self, emulator, tmp_path):
        self.emulator = emulator
        self.nips = {"acme": random_nip(), "biuro": random_nip()}
        self.vault_pass = tmp_path / "vault.pass"
        self.vault_pass.write_text("office chain vault password\n")
        vault = VaultLib([("default", VaultSecret(b"office chain vault password"))])
        self.secrets_dir = tmp_path / "secrets"
        self.secrets_dir.mkdir()
        self.tokens = {}
        for host, nip in self.nips.items():
            seeded = emulator.admin("POST", "tokens", json={"context": f"Nip:{nip}", "permissions": MANAGER,
                                                            "description": "bootstrap manager", "status": "Active"})
            seeded.raise_for_status()
            self.tokens[host] = seeded.json()["token"]
            (self.secrets_dir / f"{host}.token").write_bytes(vault.encrypt(self.tokens[host]))
        # What stands for KSeF and for the two companies here: the emulator, and two fresh NIPs.
        overlay = {"all": {"vars": {"ksef_api_url": emulator.api_url},
                           "hosts": {host: {"ksef_context": {"nip": nip}} for host, nip in self.nips.items()}}}
        self.overlay = tmp_path / "emulator.yml"
        self.overlay.write_text(json.dumps(overlay))  # JSON is YAML
        self.staff = generate_certificate(tmp_path / "staff", pesel=STAFF_PESEL)

    def withdraw(self, tmp_path):
        """An inventory source that declares the client's grant to its office without can_delegate (a later source
        overrides the host's ksef_grants)."""
        office = {"name": "office", "kind": "entity", "description": "Accounting office",
                  "subject": {"nip": self.nips["biuro"], "full_name": "Biuro Rachunkowe sp. z o.o."},
                  "permissions": ["InvoiceRead", "InvoiceWrite"], "can_delegate": False}
        path = tmp_path / "withdrawn.yml"
        path.write_text(json.dumps({"all": {"hosts": {"acme": {"ksef_grants": [office]}}}}))
        return path

    def play(self, run_playbook, *overlays):
        result = run_playbook(EXAMPLE / "site.yml", {"secrets_dir": str(self.secrets_dir)},
                              inventory=EXAMPLE / "inventory.yml",
                              extra_args=["-i", str(self.overlay), *[arg for path in overlays for arg in ("-i", str(path))],
                                          "--vault-password-file", str(self.vault_pass)],
                              env={"KSEF_JOURNAL_DIR": str(self.secrets_dir.parent / "journal"),
                                   "KSEF_LOCK_DIR": str(self.secrets_dir.parent / "locks")})
        output = result.stdout + result.stderr + json.dumps(result.results)
        assert all(token.split("|")[-1] not in output for token in self.tokens.values())
        return result

    def sdk(self):
        return KsefClient(KsefClientOptions(base_url=self.emulator.base_url))

    def rows(self, host: str, query_type: str) -> list:
        """The rows of the host's context, read with ksef-client logged in with that context's manager token."""
        with self.sdk() as sdk:
            keys = sdk.security.get_public_key_certificates()
            key = next(k for k in keys if "KsefTokenEncryption" in [str(getattr(u, "value", u)) for u in k.usage])
            access = AuthCoordinator(sdk.auth).authenticate_with_ksef_token(
                token=self.tokens[host], public_certificate=key.certificate, context_identifier_type="Nip",
                context_identifier_value=self.nips[host], poll_interval_seconds=0.05).access_token
            query = models.PersonPermissionsQueryRequest.from_dict({"queryType": query_type})
            listed = sdk.permissions.query_persons_grants(query, page_offset=0, page_size=100, access_token=access)
            assert listed.has_more is False
            return listed.permissions

    def staff_login(self) -> int:
        """The bookkeeper's certificate logs in to the client's context: the final status code of the login (XAdES
        signed with signxml, sent and followed with ksef-client, whose own signer needs the xmlsec extra)."""
        with self.sdk() as sdk:
            challenge = sdk.auth.get_challenge().challenge
            signed = sign(self.staff, challenge, "Nip", self.nips["acme"]).decode()
            started = sdk.auth.submit_xades_auth_request(signed)
            auth = started.authentication_token.token
            deadline = time.monotonic() + 30
            while True:
                code = sdk.auth.get_auth_status(started.reference_number, auth).status.code
                if code != 100 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            if code == 200:
                assert sdk.auth.redeem_token(auth).access_token.token
            return code


def test_the_office_chain_converges_in_order_and_the_bookkeeper_works_for_the_client(emulator, run_playbook,
                                                                                     tmp_path):
    chain = Chain(emulator, tmp_path)
    assert chain.staff_login() == 415  # nobody gave the bookkeeper anything in the client's context yet

    first = chain.play(run_playbook)
    client = first.task("The client's grants")
    office = client["grants"]["office"]
    assert client["changed"] is True and office["can_delegate"] is True
    assert office["permissions"] == ["InvoiceWrite", "InvoiceRead"] and len(office["permission_ids"]) == 2
    assert [a["status"] for a in office["actions"]] == ["done"]
    staff = first.task("The office's grants")["grants"]["clerk-acme"]
    assert staff["target"] == chain.nips["acme"] and len(staff["permission_ids"]) == 2
    assert [a["status"] for a in staff["actions"]] == ["done"]
    # The client's play ran first: the office's grant needs the client's delegation.
    tasks = [r["task"] for r in first.results]
    assert tasks.index("The client's grants") < tasks.index("The office's grants")

    # Read back with ksef-client: the client's context holds the office's rows with canDelegate ...
    rows = chain.rows("acme", "PermissionsInCurrentContext")
    assert {(_value(r.authorized_identifier), _scope(r), r.can_delegate, r.description.endswith(MARKER % "office"))
            for r in rows} == {(chain.nips["biuro"], "InvoiceRead", True, True),
                               (chain.nips["biuro"], "InvoiceWrite", True, True)}
    assert {r.id for r in rows} == set(office["permission_ids"])
    # ... and the office's context the bookkeeper's indirect rows for that client alone.
    granted = chain.rows("biuro", "PermissionsGrantedInCurrentContext")
    assert {(_value(r.authorized_identifier), _scope(r), _value(r.target_identifier), str(r.permission_state.value
             if hasattr(r.permission_state, "value") else r.permission_state)) for r in granted} == {
        (STAFF_PESEL, "InvoiceRead", chain.nips["acme"], "Active"),
        (STAFF_PESEL, "InvoiceWrite", chain.nips["acme"], "Active")}
    assert {r.id for r in granted} == set(staff["permission_ids"])
    assert chain.staff_login() == 200  # the bookkeeper now logs in to the client's context, and redeems its tokens

    again = chain.play(run_playbook)
    assert [r["result"]["changed"] for r in again.results] == [False, False]
    assert again.task("The office's grants")["summary"] == {"keep": 2}

    # The client withdraws the delegation: its plan says that this switches off the bookkeeper's grants, and the
    # office's run that follows reports them Inactive, keeps them (a new grant would be refused) and says why.
    withdrawn = chain.play(run_playbook, chain.withdraw(tmp_path))
    client = withdrawn.task("The client's grants")
    switched = [line for line in client["plan_text"] if line.startswith("- office: revoke")]
    assert len(switched) == 2 and all(
        "switches off the indirect grants Nip:%s made of" % chain.nips["biuro"] in line for line in switched)
    assert any("no longer delegates InvoiceWrite, InvoiceRead" in w or "no longer delegates InvoiceRead, InvoiceWrite"
               in w for w in client["warnings"])
    assert client["grants"]["office"]["can_delegate"] is False
    office = withdrawn.task("The office's grants")
    clerk = office["grants"]["clerk-acme"]
    assert office["changed"] is False and clerk["status"] == "Inactive"
    assert sorted(clerk["inactive"]) == ["InvoiceRead", "InvoiceWrite"]
    assert sorted(clerk["permission_ids"]) == sorted(staff["permission_ids"])  # kept as they were
    assert office["summary"] == {"retain": 2} and office["plan_text"][-1] == "Plan: no changes. 2 retained."
    kept = "= clerk-acme: retain (inactive: client %s" % chain.nips["acme"]
    retained = [line for line in office["plan_text"] if line.startswith(kept)]
    assert len(retained) == 2 and all("can_delegate: true" in line for line in retained)
    assert any(w.startswith("clerk-acme: ") and "are Inactive" in w and "can_delegate: true" in w
               for w in office["warnings"])
    granted = chain.rows("biuro", "PermissionsGrantedInCurrentContext")
    assert {(r.id, str(getattr(r.permission_state, "value", r.permission_state))) for r in granted} == {
        (pid, "Inactive") for pid in staff["permission_ids"]}
    assert chain.staff_login() == 415  # an Inactive grant gives nothing

    # What the warning says makes them work: the client delegates again. The office's rows are Active again, as
    # they were, and its run changes nothing.
    restored = chain.play(run_playbook)
    assert restored.task("The client's grants")["grants"]["office"]["can_delegate"] is True
    office = restored.task("The office's grants")
    assert office["changed"] is False and office["grants"]["clerk-acme"]["status"] == "Active"
    assert office["summary"] == {"keep": 2} and office["grants"]["clerk-acme"]["inactive"] == []
    assert chain.staff_login() == 200


def test_the_guide_shows_the_example_files_as_they_are():
    shown = {path: block for path, block, excerpt in _named_blocks(GUIDE) if not excerpt}
    for path in EXAMPLE.glob("*.yml"):
        name = str(path.relative_to(REPO))
        assert shown.get(name) == path.read_text(encoding="utf-8").removeprefix("---\n"), f"{GUIDE.name} and {name}"
