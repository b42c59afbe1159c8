"""Bootstrapping a company end to end: XAdES with a self-signed owner certificate creates the manager
token; later runs authenticate with that stored KSeF token to create, keep and revoke other tokens."""
import json
import stat
from pathlib import Path

import pytest
from ksef_emulator.testcerts import generate_certificate, random_nip

pytestmark = pytest.mark.integration

PLAYBOOKS = Path(__file__).parent / "playbooks" / "bootstrap"


def tokens_of(emulator, nip):
    listed = emulator.admin("GET", "tokens", params={"context": f"Nip:{nip}"}).json()
    return listed["tokens"] if isinstance(listed, dict) else listed


def by_marker(tokens, name):
    return [t for t in tokens if t["description"].endswith(f"[ksef.credentials:{name}]")]


def test_certificate_bootstraps_the_manager_token_which_then_manages_the_rest(emulator, run_playbook, tmp_path):
    nip = random_nip()
    cert = generate_certificate(tmp_path / "cert", nip=nip, kind="person")
    manager_file, erp_file = tmp_path / "manager.json", tmp_path / "erp.token"
    common = {"api_url": emulator.api_url, "nip": nip, "manager_file": str(manager_file), "erp_file": str(erp_file)}

    emulator.reset_stats()
    first = run_playbook(PLAYBOOKS / "manager_with_certificate.yml",
                         dict(common, certificate=str(cert.cert_path), private_key=str(cert.key_path)))
    assert first.task("Declare the manager token")["changed"] is True
    assert emulator.stats()["operations"].get("POST /auth/xades-signature") == 1
    assert stat.S_IMODE(manager_file.stat().st_mode) == 0o600
    manager_value = json.loads(manager_file.read_text())["token"]
    manager_ref = manager_value.split("|", 1)[0]
    (manager,) = by_marker(tokens_of(emulator, nip), "ansible-manager")
    assert manager["referenceNumber"] == manager_ref and manager["status"] == "Active"
    assert manager["authorIdentifier"] == {"type": "Nip", "value": nip}  # the certificate's subject
    assert manager["requestedPermissions"] == ["InvoiceRead", "InvoiceWrite", "CredentialsRead", "CredentialsManage",
                                               "CollectiveIdentifierManage"]

    emulator.reset_stats()
    second = run_playbook(PLAYBOOKS / "tokens_with_manager_token.yml", common)
    erp = second.task("Declare the ERP token")
    assert erp["changed"] is True and erp["permissions"] == ["InvoiceWrite"]
    ops = emulator.stats()["operations"]
    assert ops.get("POST /auth/ksef-token", 0) >= 1 and "POST /auth/xades-signature" not in ops
    assert erp_file.read_text().strip().startswith(erp["reference_number"] + "|")

    emulator.reset_stats()
    again = run_playbook(PLAYBOOKS / "tokens_with_manager_token.yml", common)
    assert again.task("Declare the ERP token")["changed"] is False
    ops = emulator.stats()["operations"]
    assert "POST /tokens" not in ops and "DELETE /tokens/{referenceNumber}" not in ops

    run_playbook(PLAYBOOKS / "tokens_with_manager_token.yml", dict(common, erp_state="absent"))
    statuses = {t["referenceNumber"]: t["status"] for t in tokens_of(emulator, nip)}
    assert statuses[erp["reference_number"]] in ("Revoking", "Revoked")
    assert statuses[manager_ref] == "Active"  # the token the run logged in with is left alone
    # nothing of the secrets reached the playbook output
    for result in (first, second, again):
        assert manager_value not in result.stdout + result.stderr
