"""The ksef.credentials.company role (module ksef.credentials.credentials): an accounting office whose one seal
logs in for itself and for five client companies, through ansible-playbook against the shared emulator, with
real files as stores."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cryptography import x509
from ksef_emulator.testcerts import generate_certificate, random_nip

pytestmark = pytest.mark.integration

PLAYBOOK = Path(__file__).parent / "playbooks" / "company" / "converge.yml"
AUDITORS = Path(__file__).parents[2] / "docs" / "examples" / "environments" / "audit-certificates.yml"
TASK = "Converge the declared KSeF credentials of this company"
CLIENTS = ("client1", "client2", "client3", "client4", "client5")
GRANTED = ("CredentialsManage", "CredentialsRead", "InvoiceRead", "InvoiceWrite")
# The start of every access and refresh token the emulator issues (base64 of {"alg":"HS256","typ":"JWT"}).
JWT_HEADER = "eyJhbGciOiJIUzI1NiIs"


class Office:
    """The office (its own NIP, its seal), five clients that granted the office's NIP the right to manage their
    credentials, and a sixth host that wrongly declares the seal's certificates while acting for a client."""

    def __init__(self, emulator, tmp_path):
        self.emulator = emulator
        self.nips = {host: random_nip() for host in ("office", *CLIENTS, "misplaced")}
        seal = generate_certificate(tmp_path / "seal", nip=self.nips["office"], kind="seal")
        self.stores = tmp_path / "stores"
        self.stores.mkdir()
        for host in (*CLIENTS, "misplaced"):
            for permission in GRANTED:
                grant = {"contextIdentifier": {"type": "Nip", "value": self.nips[host]},
                         "authorizedIdentifier": {"type": "Nip", "value": self.nips["office"]},
                         "permissions": [{"permissionType": permission, "description": "Biuro rachunkowe"}]}
                emulator.api("POST", "testdata/permissions", json=grant).raise_for_status()
        seal_login = {"certificate": str(seal.cert_path), "private_key": str(seal.key_path)}
        certificate = {"name": "automation-login", "verify": True,
                       "store": [{"type": "file", "path": str(self.stores / "automation-login.pem"), "format": "pem"}]}
        token = {"name": "erp-sender", "permissions": ["InvoiceRead", "InvoiceWrite"], "verify": False}
        common = {"ksef_api_url": emulator.api_url, "ansible_connection": "local",
                  "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                  "ksef_tokens": [token],
                  "ksef_tokens_store_template": [{"type": "file", "path": str(self.stores / "{{ inventory_hostname }}-{name}.token")}]}
        hosts = {"office": dict(common, ksef_context={"nip": self.nips["office"]}, ksef_auth=seal_login,
                                ksef_certificates=[certificate], ksef_certificates_exclusive="managed")}
        for host in CLIENTS:
            hosts[host] = dict(common, ksef_context={"nip": self.nips[host]}, ksef_auth=dict(seal_login, on_behalf=True))
        hosts["misplaced"] = dict(hosts["client1"], ksef_context={"nip": self.nips["misplaced"]},
                                  ksef_certificates=[certificate])
        for variables in hosts.values():  # the auditors' playbook logs in with `auditor_login` (see below)
            variables["auditor_login"] = variables["ksef_auth"]
        self.inventory = tmp_path / "inventory.json"
        # The auditors' playbook of docs/audit.md runs on the hosts of the environments' groups.
        self.inventory.write_text(json.dumps({"companies": {"hosts": hosts}, "test": {"children": {"companies": {}}}}))

    def run(self, run_playbook, check=False, verbosity=0, command_line=(), **extra_vars):
        self.emulator.reset_stats()
        # The misplaced host fails (rc 2); every other host must succeed.
        played = run_playbook(PLAYBOOK, extra_vars or None, inventory=self.inventory, check=check, diff=check,
                              expect_rc=2, verbosity=verbosity, extra_args=["-f", "4", *command_line])
        results = {r["host"]: dict(r["result"], status=r["status"]) for r in played.results if r["task"].endswith(TASK)}
        assert sorted(results) == sorted(self.nips), played.stdout[-3000:]
        self.assert_no_secret_in(played)
        return results, self.emulator.stats()

    def assert_no_secret_in(self, played):
        """No token value, no line of the stored private key, no access or refresh token (a JWT), in the output
        or any result."""
        text = played.stdout + played.stderr + json.dumps(played.results)
        assert JWT_HEADER not in text
        secrets = [path.read_text().strip().split("|")[-1] for path in self.stores.glob("*.token")]
        bundle = self.stores / "automation-login.pem"
        if bundle.exists():
            key = re.search(r"PRIVATE KEY-----(.*?)-----END", bundle.read_text(), re.S)
            assert key, "the bundle holds no private key"
            secrets += [line for line in key.group(1).split() if len(line) > 40]
        assert len(secrets) > len(CLIENTS) + 1, "the stores hold no value to look for"
        for secret in secrets:
            assert secret not in text

    def certificates(self, status="Active") -> list:
        listed = self.emulator.admin("GET", "certificates").json()["certificates"]
        return [c for c in listed if c["subjectIdentifier"]["value"] == self.nips["office"] and c["status"] == status]

    def tokens(self, host) -> list:
        listed = self.emulator.admin("GET", "tokens", params={"context": f"Nip:{self.nips[host]}"}).json()
        items = listed["tokens"] if isinstance(listed, dict) else listed
        return [t for t in items if t["status"] in ("Pending", "Active")]


def test_one_seal_for_an_office_and_five_clients_one_login_each_and_no_host_revokes_another(
        emulator, run_playbook, tmp_path):
    office = Office(emulator, tmp_path)
    first, stats = office.run(run_playbook)

    # The office's host enrolled the seal's one managed certificate and stored it; no client host touched it.
    (enrolled,) = office.certificates()
    held = x509.load_pem_x509_certificate((office.stores / "automation-login.pem").read_bytes())
    assert "%016X" % held.serial_number == enrolled["certificateSerialNumber"]
    assert first["office"]["certificates"]["changed"] is True
    for host in ("office", *CLIENTS):
        result = first[host]
        assert result["changed"] is True and result["status"] == "ok", (host, result.get("msg"))
        (token,) = office.tokens(host)
        stored = (office.stores / f"{host}-erp-sender.token").read_text()
        assert stored.startswith(token["referenceNumber"])
        assert result["tokens"]["tokens"]["erp-sender"]["reference_number"] == token["referenceNumber"]
        # ONE login per company for every kind (the office's second is the proof of its new certificate).
        ops = stats["by_context"][f"Nip:{office.nips[host]}"]
        assert ops["POST /auth/token/redeem"] == (2 if host == "office" else 1), (host, ops)
        assert ops["DELETE /auth/sessions/current"] == ops["POST /auth/token/redeem"]
    for host in CLIENTS:  # a kind with nothing declared is skipped without a request
        assert first[host]["certificates"]["skipped"] is True
        assert "POST /certificates/query" not in first[host]["api_calls"]
    assert [row["kind"] for row in first["office"]["plan"]] == ["certificate", "token"]

    # Certificates declared by a login on behalf of a client are refused before any request, naming the fix.
    refused = first["misplaced"]
    assert refused["status"] == "failed" and refused["option"] == "auth.on_behalf"
    assert "belong to the subject that logs in" in refused["msg"] and "auth.on_behalf: false" in refused["msg"]
    assert f"Nip:{office.nips['misplaced']}" not in stats["by_context"]
    assert refused["api_calls"] == {}

    # A rerun in check mode: nothing changes anywhere, no host plans to revoke the seal's certificate, and each
    # company costs one login, whatever it declares. Each company's plan for review holds every kind it converges.
    plans = tmp_path / "plans"
    plans.mkdir()
    again, stats = office.run(run_playbook, check=True, ksef_plan_dir=str(plans))
    for host in ("office", *CLIENTS):
        result = again[host]
        assert result["status"] == "ok" and result["changed"] is False, (host, result.get("plan_text"))
        assert not [row for row in result["plan"] if row["action"] != "keep"], (host, result["plan"])
        assert result["revoked"] == []
        ops = stats["by_context"][f"Nip:{office.nips[host]}"]
        assert ops["POST /auth/token/redeem"] == 1 and ops["DELETE /auth/sessions/current"] == 1, (host, ops)
    assert again["office"]["plan_text"] == ["Plan: no changes."]  # no kind has anything to show
    assert again["office"]["api_calls"]["POST /certificates/query"] == 1
    assert again["office"]["api_calls"]["GET /tokens"] == 1
    assert [c["certificateSerialNumber"] for c in office.certificates()] == [enrolled["certificateSerialNumber"]]
    assert office.certificates("Revoked") == []
    saved = {path.stem: json.loads(path.read_text()) for path in plans.glob("*.json")}
    assert sorted(saved) == sorted(["office", *CLIENTS])
    assert sorted(saved["office"]["kinds"]) == ["certificates", "tokens"] and list(saved["client1"]["kinds"]) == ["tokens"]

    # The role's report: every company's tokens where the store template keeps them, and the seal's certificate
    # once, on the office's host that declares it (the clients log in with the same seal and list nothing twice).
    # Run at -vvv with the *_exclusive values and the pacing wait given on the command line, as strings.
    reports = tmp_path / "reports"
    reports.mkdir()
    reported, stats = office.run(run_playbook, check=True, verbosity=3, ksef_report_dir=str(reports), command_line=[
        "-e", "ksef_tokens_exclusive=false", "-e", "ksef_certificates_exclusive=false",
        "-e", "ksef_grants_exclusive=false", "-e", "ksef_max_retry_wait=600"])
    for host in ("office", *CLIENTS):
        arguments = reported[host]["invocation"]["module_args"]
        assert arguments["max_retry_wait"] == 600 and arguments["tokens_exclusive"] == "false", (host, arguments)
        # The converge's login, and ONE more for every scan of the company (a session the scans share), closed.
        ops = stats["by_context"][f"Nip:{office.nips[host]}"]
        assert ops["POST /auth/token/redeem"] == 2 and ops["DELETE /auth/sessions/current"] == 2, (host, ops)
    document = json.loads((reports / "report.json").read_text())
    contexts = {c["host"]: c for c in document["contexts"]}
    assert sorted(contexts) == sorted(["office", *CLIENTS])
    for host in ("office", *CLIENTS):
        (token,) = [t for t in contexts[host]["tokens"] if t["name"] == "erp-sender"]
        assert token["stores"] == [f"file:{office.stores / f'{host}-erp-sender.token'}"], (host, token)
        assert "store_missing" not in token["findings"]
    (certificate,) = contexts["office"]["certificates"]
    assert certificate["serial_number"] == enrolled["certificateSerialNumber"]
    assert certificate["stores"] == [f"file:{office.stores / 'automation-login.pem'}"]
    assert all(not contexts[host]["certificates"] for host in CLIENTS)
    assert "automation-login" in (reports / "report.csv").read_text()

    # The auditors' playbook (docs/audit.md) over the same companies lists the seal's certificate once too: only
    # the office's host declares it, so only there are certificates scanned.
    audited = tmp_path / "audited"
    run_playbook(AUDITORS, {"report_dir": str(audited), "ksef_auth": "{{ auditor_login }}"}, inventory=office.inventory,
                 check=True, extra_args=["-f", "4", "--limit", "!misplaced"])
    contexts = {c["host"]: c for c in json.loads((audited / "report.json").read_text())["contexts"]}
    assert sorted(contexts) == sorted(["office", *CLIENTS])
    assert [c["serial_number"] for c in contexts["office"]["certificates"]] == [enrolled["certificateSerialNumber"]]
    assert all(not contexts[host]["certificates"] and contexts[host]["error"] is None for host in CLIENTS)


def test_without_the_role_validation_task_the_module_messages_are_those_the_guide_quotes(
        emulator, run_playbook, tmp_path):
    """rolespec_validate: false: each mistake fails its host before any request, with the message role-company.md
    quotes (the module's own checks name the entry, Ansible's checks of its options do not)."""
    person = {"name": "reader", "kind": "person", "subject": {"pesel": "85011512342"}, "permissions": ["InvoiceRead"]}
    mistakes = {"typo": {"ksef_tokens": [{"name": "erp", "permisions": ["InvoiceRead"]}]},
                "permission": {"ksef_tokens": [{"name": "erp", "permissions": ["InvoiceReed"]}]},
                "kind": {"ksef_grants": [person, dict(person, name="writer", kind="persn")]},
                "shape": {"ksef_tokens": "erp-sender"}}
    nips = {host: random_nip() for host in mistakes}
    hosts = {host: dict(mistake, ksef_api_url=emulator.api_url, ksef_context={"nip": nips[host]},
                        ksef_auth={"ksef_token": "never-sent"}, ansible_python_interpreter="{{ ansible_playbook_python }}")
             for host, mistake in mistakes.items()}
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"companies": {"hosts": hosts}}))
    emulator.reset_stats()
    played = run_playbook(Path(__file__).parent / "playbooks" / "company" / "converge_unvalidated.yml",
                          inventory=inventory, expect_rc=2, extra_args=["-f", "4"])
    assert "Validating arguments" not in played.stdout
    failures = {r["host"]: r["result"]["msg"] for r in played.results if r["status"] == "failed"}
    assert failures["typo"].startswith("Unsupported parameters for (ksef.credentials.credentials) module: "
                                       "tokens.permisions. Supported parameters include: ")
    assert failures["permission"].startswith("tokens[0]: unknown permission(s) 'InvoiceReed'; allowed: InvoiceRead, ")
    assert failures["kind"] == ("value of kind must be one of: person, entity, indirect, authorization, subunit, "
                                "eu_administrator, eu_representative, got: persn found in grants")
    assert failures["shape"] == "dictionary requested, could not parse JSON or key=value"
    assert not any(f"Nip:{nip}" in emulator.stats()["by_context"] for nip in nips.values())


def test_a_company_whose_report_login_fails_is_listed_with_the_error_and_the_others_are_reported(
        emulator, run_playbook, tmp_path):
    nips = {"good": random_nip(), "revoked": random_nip()}
    logins = {}
    for host, status in (("good", "Active"), ("revoked", "Revoking")):
        seeded = emulator.admin("POST", "tokens", json={"context": f"Nip:{nips[host]}", "description": "manager",
                                                        "permissions": ["CredentialsManage", "CredentialsRead"],
                                                        "status": status})
        seeded.raise_for_status()
        logins[host] = seeded.json()["token"]
    reports = tmp_path / "reports"
    hosts = {host: {"ksef_api_url": emulator.api_url, "ksef_context": {"nip": nips[host]},
                    "ksef_auth": {"ksef_token": logins[host]}, "ksef_report_dir": str(reports),
                    "ansible_python_interpreter": "{{ ansible_playbook_python }}"} for host in nips}
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"companies": {"hosts": hosts}}))
    emulator.reset_stats()
    played = run_playbook(Path(__file__).parent / "playbooks" / "company" / "report.yml", inventory=inventory,
                          check=True, expect_rc=2)
    contexts = {c["host"]: c for c in json.loads((reports / "report.json").read_text())["contexts"]}
    assert contexts["good"]["error"] is None
    assert "450" in contexts["revoked"]["error"], contexts["revoked"]
    failures = {r["host"]: r["result"]["msg"] for r in played.results if r["status"] == "failed"}
    assert list(failures) == ["revoked"] and "could not be scanned: " in failures["revoked"], failures
    stats = emulator.stats()["by_context"]
    good, revoked = stats[f"Nip:{nips['good']}"], stats[f"Nip:{nips['revoked']}"]
    assert good["POST /auth/token/redeem"] == 1 and good["DELETE /auth/sessions/current"] == 1, good
    assert "POST /auth/token/redeem" not in revoked and "GET /tokens" not in revoked, revoked
    for token in logins.values():
        assert token.split("|")[-1] not in played.stdout + played.stderr + json.dumps(played.results)
