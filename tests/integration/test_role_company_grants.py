"""The ksef.credentials.company role with permission grants: one module task, one login, grants made before the
tokens that need them and revoked after them. Through ansible-playbook against the shared emulator; the order is
read from the emulator's capture of every request, the rows with the public client ksef-client (PyPI)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from ksef_client import KsefClient, KsefClientOptions, models
from ksef_client.services.workflows import AuthCoordinator
from ksef_emulator.testcerts import generate_certificate, random_nip, random_pesel

pytestmark = pytest.mark.integration

PLAYBOOK = Path(__file__).parent / "playbooks" / "company" / "converge.yml"
TASK = "Converge the declared KSeF credentials of this company"
MARKER = "[ksef.credentials:automation-invoicing]"
ORDER = "Order: grants are made first, then tokens; revoked in reverse order, grants last."
# The requests that change anything, as the capture names them (method, route template).
WRITES = {("POST", "/v2/permissions/persons/grants"), ("DELETE", "/v2/permissions/common/grants/{permissionId}"),
          ("POST", "/v2/tokens"), ("DELETE", "/v2/tokens/{referenceNumber}")}


class Company:
    """A fresh company (random NIP) whose automation logs in with a person's certificate. The person holds
    CredentialsManage and CredentialsRead there (test data), not InvoiceWrite: the role grants it to the person
    and creates a token with it, which KSeF refuses (26001) to anyone who does not hold it."""

    def __init__(self, emulator, run_playbook, tmp_path):
        self.emulator, self.run_playbook, self.tmp_path = emulator, run_playbook, tmp_path
        self.nip, self.pesel = random_nip(), random_pesel()
        person = generate_certificate(tmp_path / "person", pesel=self.pesel, kind="person")
        for permission in ("CredentialsManage", "CredentialsRead"):
            grant = {"contextIdentifier": {"type": "Nip", "value": self.nip},
                     "authorizedIdentifier": {"type": "Pesel", "value": self.pesel},
                     "permissions": [{"permissionType": permission, "description": "Administrator"}]}
            emulator.api("POST", "testdata/permissions", json=grant).raise_for_status()
        # The reader of ksef-client: a token of the owner, made outside the run.
        seeded = emulator.admin("POST", "tokens", json={
            "context": f"Nip:{self.nip}", "author": f"Nip:{self.nip}", "status": "Active",
            "description": "auditor reader", "permissions": ["CredentialsRead"]})
        seeded.raise_for_status()
        self.reader = seeded.json()["token"]
        self.stores = tmp_path / "stores"
        self.stores.mkdir()
        self.grant = {"name": "automation-invoicing", "kind": "person", "description": "Automation sends invoices",
                      "subject": {"pesel": self.pesel, "first_name": "Jan", "last_name": "Kowalski"},
                      "permissions": ["InvoiceWrite"]}
        self.token = {"name": "erp-sender", "description": "ERP sends invoices", "permissions": ["InvoiceWrite"],
                      "verify": False}
        host = {"ksef_api_url": emulator.api_url, "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "ksef_context": {"nip": self.nip},
                "ksef_auth": {"certificate": str(person.cert_path), "private_key": str(person.key_path)},
                "ksef_grants": [self.grant], "ksef_grants_exclusive": "managed",
                "ksef_tokens": [self.token],
                "ksef_tokens_store_template": [{"type": "file", "path": str(self.stores / "{name}.token")}]}
        self.inventory = tmp_path / "inventory.json"
        self.inventory.write_text(json.dumps({"companies": {"hosts": {"company": host}}}))
        self.env = {"KSEF_LOCK_DIR": str(tmp_path / "locks"), "KSEF_JOURNAL_DIR": str(tmp_path / "journal")}
        self.capture = emulator.log_path.with_name(f"capture-{emulator.log_path.stem}.jsonl")

    def run(self, expect_rc=0, check=False, **extra_vars):
        """One run of the role: the converge task's result, the requests the emulator saw during it (in order)."""
        self.emulator.reset_stats()
        start = self.capture.stat().st_size if self.capture.exists() else 0
        played = self.run_playbook(PLAYBOOK, extra_vars or None, inventory=self.inventory, check=check, diff=check,
                                   env=self.env, expect_rc=expect_rc)
        with self.capture.open() as captured:
            captured.seek(start)
            seen = [json.loads(line) for line in captured if line.strip()]
        output = played.stdout + played.stderr + json.dumps(played.results)
        for stored in self.stores.glob("*.token"):
            assert stored.read_text().strip().split("|")[-1] not in output
        (result,) = [dict(r["result"], status=r["status"]) for r in played.results if r["task"].endswith(TASK)]
        return result, seen, played

    def rows(self) -> list:
        """The permissions in force in the context, read with ksef-client."""
        with KsefClient(KsefClientOptions(base_url=self.emulator.base_url)) as sdk:
            keys = sdk.security.get_public_key_certificates()
            key = next(k for k in keys if "KsefTokenEncryption" in [str(getattr(u, "value", u)) for u in k.usage])
            access = AuthCoordinator(sdk.auth).authenticate_with_ksef_token(
                token=self.reader, public_certificate=key.certificate, context_identifier_type="Nip",
                context_identifier_value=self.nip, poll_interval_seconds=0.05).access_token
            query = models.PersonPermissionsQueryRequest.from_dict({"queryType": "PermissionsInCurrentContext"})
            listed = sdk.permissions.query_persons_grants(query, page_offset=0, page_size=100, access_token=access)
            return list(listed.permissions)

    def managed_rows(self) -> list:
        return [row for row in self.rows() if row.description.endswith(MARKER)]

    def tokens(self, name="erp-sender") -> list:
        listed = self.emulator.admin("GET", "tokens", params={"context": f"Nip:{self.nip}"}).json()["tokens"]
        return [t for t in listed if f"[ksef.credentials:{name}]" in t["description"]]


def writes(requests: list) -> list:
    return [(r["method"], r["template"]) for r in requests if (r["method"], r["template"]) in WRITES]


def index(requests: list, method: str, template: str, status: int | None = None) -> int:
    return next(i for i, r in enumerate(requests)
                if r["method"] == method and r["template"] == template and (status is None or r["status"] == status))


def test_grants_are_made_before_the_tokens_that_need_them_and_revoked_after_them_in_one_task(
        emulator, run_playbook, tmp_path):
    company = Company(emulator, run_playbook, tmp_path)

    # Without the grant, the same login cannot create the token: KSeF answers 26001.
    refused, _requests, _played = company.run(expect_rc=2, ksef_grants=[])
    assert refused["tokens"]["tokens"]["erp-sender"]["failed"] is True
    assert "26001" in json.dumps(refused["tokens"]), refused["msg"]
    assert company.tokens() == [] and company.managed_rows() == []

    # Review: check mode with --diff shows the grant's and the token's plan lines and the order, changes nothing,
    # and saves the plan of both kinds.
    plans = tmp_path / "plans"
    plans.mkdir()
    review, requests, _played = company.run(check=True, ksef_plan_dir=str(plans))
    assert review["changed"] is True and writes(requests) == []
    text = review["plan_text"]
    assert text[0] == "grants:" and text[1].startswith("  + automation-invoicing: create (grant InvoiceWrite")
    assert "tokens:" in text and any(line.startswith("  + erp-sender: create") for line in text)
    assert text[-1] == ORDER
    assert [(row["kind"], row["action"]) for row in review["plan"]] == [("grant", "create"), ("token", "create")]
    assert review["diff"]["prepared"].startswith("grants:\n") and ORDER in review["diff"]["prepared"]
    saved = json.loads((plans / "company.json").read_text())
    assert sorted(saved["kinds"]) == ["grants", "tokens"]
    assert saved["kinds"]["grants"]["plan"][0]["action"] == "create"

    # Apply exactly the reviewed plan: one login; the grant is sent and its operation ends, the session is
    # refreshed (its access token carries the permissions of its login), and only then is the token created.
    applied, requests, _played = company.run(ksef_apply_plan_dir=str(plans))
    assert applied["changed"] is True and applied["held_back"] == [], applied.get("msg")
    assert writes(requests) == [("POST", "/v2/permissions/persons/grants"), ("POST", "/v2/tokens")]
    granted = index(requests, "POST", "/v2/permissions/persons/grants")
    ended = next(i for i, r in enumerate(requests) if r["template"] == "/v2/permissions/operations/{referenceNumber}"
                 and r["body"]["status"]["code"] == 200)
    refreshed = index(requests, "POST", "/v2/auth/token/refresh")
    created = index(requests, "POST", "/v2/tokens", status=202)
    assert granted < ended < refreshed < created, [(r["method"], r["template"]) for r in requests]
    assert len([r for r in requests if r["template"] == "/v2/auth/token/redeem"]) == 1
    (row,) = company.managed_rows()
    assert str(getattr(row.permission_scope, "value", row.permission_scope)) == "InvoiceWrite"
    assert row.authorized_identifier.value == company.pesel
    (token,) = company.tokens()
    assert token["status"] == "Active" and token["requestedPermissions"] == ["InvoiceWrite"]
    assert token["authorIdentifier"] == {"type": "Pesel", "value": company.pesel}
    assert (company.stores / "erp-sender.token").read_text().startswith(token["referenceNumber"])
    grant_result = applied["grants"]["grants"]["automation-invoicing"]
    assert grant_result["permission_ids"] == [row.id]
    assert grant_result["actions"][0]["status"] == "done"

    # Again, with the audit report: nothing to do (no write request), and the report lists the company's grants.
    reports = tmp_path / "reports"
    reports.mkdir()
    again, requests, _played = company.run(ksef_report_dir=str(reports))
    assert again["changed"] is False and writes(requests) == []
    assert ORDER not in again["plan_text"]
    document = json.loads((reports / "report.json").read_text())
    (context,) = document["contexts"]
    rows = [grant for grant in context["grants"] if grant.get("name") == "automation-invoicing"]
    assert [(grant["permission"], grant["managed"]) for grant in rows] == [("InvoiceWrite", True)], context["grants"]
    assert "automation-invoicing" in (reports / "report.csv").read_text()

    # Remove both in one run: the token is revoked before the grant it depends on.
    gone = [{"name": "automation-invoicing", "state": "absent"}]
    removed, requests, _played = company.run(
        ksef_grants=gone, ksef_tokens=[{"name": "erp-sender", "state": "absent"}])
    assert removed["changed"] is True, removed.get("msg")
    # The run revokes the token itself: the grant's revoke does not name it as a token it breaks.
    (revoke,) = [row for row in removed["plan"] if row["kind"] == "grant" and row["action"] == "revoke"]
    assert "breaks" not in revoke and not any("erp-sender" in line for line in removed["grants"]["plan_text"])
    assert not [w for w in removed.get("warnings", []) if "leaves the managed tokens" in w]
    assert writes(requests) == [("DELETE", "/v2/tokens/{referenceNumber}"),
                                ("DELETE", "/v2/permissions/common/grants/{permissionId}")]
    assert requests[index(requests, "DELETE", "/v2/tokens/{referenceNumber}")]["path"].endswith(
        token["referenceNumber"])
    assert requests[index(requests, "DELETE", "/v2/permissions/common/grants/{permissionId}")]["path"].endswith(row.id)
    assert company.managed_rows() == []
    assert [t["status"] for t in company.tokens()] == ["Revoked"]


LIST = "/v2/permissions/query/persons/grants"


def listings(requests: list) -> int:
    return len([r for r in requests if r["method"] == "POST" and r["template"] == LIST])


def test_a_declared_permission_held_through_a_system_row_converges_in_one_run_and_then_lists_once(
        emulator, run_playbook, tmp_path):
    company = Company(emulator, run_playbook, tmp_path)
    emulator.admin("POST", "permissions/grants", json={
        "kind": "person", "context": f"Nip:{company.nip}", "subject": f"Pesel:{company.pesel}",
        "permissions": ["InvoiceRead"], "author": "System", "description": "Granted through ZAW-FA"}
    ).raise_for_status()
    (system,) = [row for row in company.rows() if row.description == "Granted through ZAW-FA"]
    grant = dict(company.grant, permissions=["InvoiceRead", "InvoiceWrite"])
    held = (f"  = automation-invoicing: retain (held elsewhere: InvoiceRead is already held through row {system.id}"
            " authored by System (a row this collection does not manage), so it is not granted again")

    # Review: only InvoiceWrite is to be granted; the System row is named; each kind shows its lines and Plan: line.
    plans = tmp_path / "plans"
    plans.mkdir()
    review, requests, _played = company.run(check=True, ksef_plan_dir=str(plans), ksef_grants=[grant])
    assert review["changed"] is True and writes(requests) == []
    text = review["plan_text"]
    assert text[:4] == ["grants:",
                        "  + automation-invoicing: create (grant InvoiceWrite (no grant named 'automation-invoicing'))",
                        text[2], "  Plan: 1 to create. 1 retained."] and text[2].startswith(held), text
    assert text[5:8] == ["tokens:", "  + erp-sender: create (no active token named 'erp-sender')",
                         "  Plan: 1 to create."], text
    prepared = review["diff"]["prepared"]
    assert prepared.startswith("grants:\n") and "\n  Plan: 1 to create. 1 retained.\n" in prepared
    assert "\ntokens:\n  + erp-sender: create" in prepared and prepared.count("  Plan: ") == 2
    after = review["diff"]["after"]["grants"]["automation-invoicing"]
    assert after["permissions"] == ["InvoiceWrite"] and after["held_elsewhere"][0]["permission_id"] == system.id

    # ONE run converges: only InvoiceWrite is granted, its row is listed once after the operation ended.
    applied, requests, _played = company.run(ksef_grants=[grant])
    assert applied["changed"] is True and not applied.get("failed"), applied.get("msg")
    assert writes(requests) == [("POST", "/v2/permissions/persons/grants"), ("POST", "/v2/tokens")]
    assert listings(requests) == 2  # the plan's, and the one after the grant (KSeF lists the row at once)
    assert [scope(row) for row in company.managed_rows()] == ["InvoiceWrite"]
    assert [row.id for row in company.rows() if scope(row) == "InvoiceRead"] == [system.id]  # untouched
    result = applied["grants"]["grants"]["automation-invoicing"]
    assert result["permissions"] == ["InvoiceWrite"]
    assert result["held_elsewhere"] == [
        {"permission": "InvoiceRead", "permission_id": system.id, "author": "System", "name": None}]
    assert not [w for w in applied.get("warnings", []) if "lists no row" in w]

    # The next run changes nothing and lists the rows once.
    again, requests, _played = company.run(ksef_grants=[grant])
    assert again["changed"] is False and writes(requests) == [] and listings(requests) == 1
    assert again["grants"]["summary"] == {"keep": 1, "retain": 1}

    # The reviewed plan no longer matches: the message names the file.
    moved, requests, _played = company.run(expect_rc=2, ksef_apply_plan_dir=str(plans), ksef_grants=[grant])
    assert writes(requests) == []
    assert moved["grants"]["msg"].startswith("apply_plan: %s (made " % (plans / "company.json")), moved["grants"]
    assert "None" not in moved["msg"]


def scope(row) -> str:
    return str(getattr(row.permission_scope, "value", row.permission_scope))
