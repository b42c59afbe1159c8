"""Secrets canary: every token value, access/refresh/authentication token, private key, passphrase and vault
password a realistic run handled is looked for in every output and every file the run left behind. None may
appear outside the stores chosen to hold them."""
from __future__ import annotations

import datetime
import json
import os
import secrets
import stat
from pathlib import Path

import pytest
from ksef_emulator.testcerts import generate_certificate, random_nip

from tests.security.canary import Canaries, leaks_in_files, walk_files

pytestmark = pytest.mark.integration

PLAYBOOK = Path(__file__).parent / "playbooks" / "canary.yml"


def _write_secret(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def _status(result, task: str) -> str:
    return [r["status"] for r in result.results if r["task"] == task][-1]


def test_no_secret_reaches_any_output_log_result_or_file(emulator_factory, run_playbook, tmp_path):
    inputs, store_dir, out_dir, home, emulator_dir = (
        tmp_path / d for d in ("inputs", "stores", "out", "home", "emulator"))
    for directory in (inputs, store_dir, out_dir, home, emulator_dir):
        directory.mkdir()
    # The emulator's request log and capture file live in this test's tree, so the walk below scans them.
    emulator = emulator_factory("--expose-secrets", "--activation-delay", "0.3",
                                "--log-file", str(emulator_dir / "requests.log"),
                                "--capture", str(emulator_dir / "capture.jsonl"))
    nip = random_nip()

    seeded = emulator.admin("POST", "tokens", json={
        "context": f"Nip:{nip}", "permissions": ["CredentialsManage", "CredentialsRead", "InvoiceRead",
                                                 "InvoiceWrite"]}).json()
    passphrase = secrets.token_urlsafe(18)
    vault_password = secrets.token_urlsafe(24)
    p12_passphrase = secrets.token_urlsafe(18)
    wrong_token = f"{seeded['referenceNumber']}|nip-{nip}|{secrets.token_hex(32)}"
    seal = generate_certificate(inputs / "seal", nip=nip, kind="seal", passphrase=passphrase)
    extra_vars = {
        "api_url": emulator.api_url, "control_url": f"{emulator.base_url}/_emulator", "nip": nip,
        "certificate": str(seal.cert_path), "private_key": str(seal.key_path),
        "passphrase_file": str(_write_secret(inputs / "passphrase", passphrase)),
        "manager_token_file": str(_write_secret(inputs / "manager.token", seeded["token"])),
        "wrong_token_file": str(_write_secret(inputs / "wrong.token", wrong_token)),
        "vault_password_file": str(_write_secret(inputs / "vault.pass", vault_password)),
        "p12_passphrase_file": str(_write_secret(inputs / "p12.pass", p12_passphrase)),
        "store_dir": str(store_dir), "out_dir": str(out_dir),
    }
    env = {
        "HOME": str(home),  # ~/.ansible/tmp, the lock files and ansible-vault's temp files land here
        "ANSIBLE_LOG_PATH": str(tmp_path / "ansible.log"),
        "ANSIBLE_CALLBACKS_ENABLED": "result_dump,ansible.builtin.tree",
        "ANSIBLE_CALLBACK_TREE_DIR": str(tmp_path / "tree"),
        # The end of token authentication today: every token login and create warns, and the warning is scanned too.
        "KSEF_TOKEN_AUTH_END": datetime.date.today().isoformat(),
    }
    result = run_playbook(PLAYBOOK, extra_vars, verbosity=4, env=env)
    assert "KSeF tokens authenticate until" in " ".join((result.stdout + result.stderr).split())

    # The scenario did what it says: every failure on purpose failed with a clear message, the rest worked.
    assert result.task("Create the ERP token through the session")["changed"] is True
    assert result.task("Rotate the ERP token")["actions"][0]["action"] == "rotate"
    renewed = result.task("Renew the KSeF certificate, logging in with it")
    assert [a["action"] for a in renewed["actions"]] == ["renew", "revoke"]
    assert renewed["actions"][1]["reference_number"] == result.task(
        "Enroll a KSeF certificate with the seal, kept as PEM and as PKCS#12")["serial_number"]
    assert "450" in result.task("Log in with a wrong token")["msg"]
    store_failure = result.task("Rotate into a store that cannot be written")
    assert _status(result, "Rotate into a store that cannot be written") == "failed"
    assert "file:/proc/ksef-canary.token" in store_failure["msg"] and "revoked the new token" in store_failure["msg"]
    assert "failed to activate" in result.task("Rotate while the activation fails")["msg"]
    assert result.task("Close the seal session")["changed"] is True
    # The session result is hidden by the action plugin although the task has no no_log ...
    session = result.task("Open a session with the company seal (encrypted key)")
    assert "access_token" not in session and "censored" in session
    # ... and the registered variable still carries working tokens (the next tasks logged in with them).
    assert _status(result, "The session tokens are still usable from the registered variable") == "ok"

    canaries = Canaries()
    canaries.add_emulator_secrets(emulator)
    canaries.add("manager token", seeded["token"])
    canaries.add("wrong token", wrong_token)
    canaries.add("vault password", vault_password)
    canaries.add_private_key(seal.key_path, passphrase)
    canaries.add_bundle_key(store_dir / "login.pem")  # the renewed certificate's key; the enrolled one is revoked
    canaries.add("pkcs12 passphrase", p12_passphrase)
    for kind in ("ksef_tokens", "access_tokens", "refresh_tokens", "authentication_tokens", "vault password",
                 "private key passphrase", "private key PEM", "private key PEM (unencrypted)",
                 "managed certificate key", "pkcs12 passphrase"):
        assert kind in canaries.kinds(), f"no {kind} collected: the canary would prove nothing"
    minted = json.loads(emulator.admin("GET", "secrets").text)
    assert len(minted["ksef_tokens"]) >= 5 and len(minted["access_tokens"]) >= 6

    # Where the values belong: the plain stores hold the current ERP and archiver values, 0600.
    chosen_stores = {store_dir / "erp.token", store_dir / "archiver.json", store_dir / "login.pem",
                     store_dir / "login.p12"}
    for path in chosen_stores:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert (store_dir / "erp.token").read_text().strip().split("|")[0] == result.task(
        "Rotate the ERP token")["reference_number"]
    assert (store_dir / "erp-vault.yml").read_text().startswith("$ANSIBLE_VAULT;")
    # The file store's write locks (.NAME.lock, docs/stores.md) stay, empty and 0600; nothing else may.
    locks = sorted(p for p in store_dir.iterdir() if p.name.startswith(".") and p.name.endswith(".lock"))
    assert all(p.stat().st_size == 0 and stat.S_IMODE(p.stat().st_mode) == 0o600 for p in locks), locks
    left = sorted(p.name for p in store_dir.iterdir() if p not in locks)
    assert left == ["archiver.json", "erp-vault.yml", "erp.token", "login.p12", "login.pem"], \
        "a temporary or backup file was left next to the stores"

    # Control: the scan does find the values where they belong.
    assert leaks_in_files(canaries, sorted(chosen_stores)), "the canaries do not match the stored values"

    leaks = canaries.leaks_in("stdout", result.stdout) + canaries.leaks_in("stderr", result.stderr)
    files = walk_files(tmp_path, home, skip={inputs, *chosen_stores})
    files += [emulator.log_path] if emulator.log_path.exists() else []  # the process's own output
    names = {p.name for p in files}
    for expected in ("ansible.log", "registered.json", "localhost", "erp-vault.yml", "requests.log",
                     "capture.jsonl"):
        assert expected in names, f"{expected} was not written: the scan would miss it"
    assert "Rotate the ERP token" in (tmp_path / "ansible.log").read_text()
    leaks += leaks_in_files(canaries, files)
    assert leaks == [], f"secrets leaked (where, kind): {sorted(set(leaks))}"
    print(f"canary: {len(canaries)} secret strings ({len(minted['ksef_tokens'])} KSeF tokens, "
          f"{len(minted['access_tokens'])} access, {len(minted['refresh_tokens'])} refresh, "
          f"{len(minted['authentication_tokens'])} authentication tokens) in {len(files)} files + stdout/stderr")

    for path in walk_files(home):  # anything ansible left in ~/.ansible must be private
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path} is readable by others"
