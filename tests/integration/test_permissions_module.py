"""ksef.credentials.permissions through real playbooks against the emulator over HTTP; after each converge the
public client ksef-client (PyPI) reads the rows back."""
from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

import pytest
import yaml
from ksef_client import KsefClient, KsefClientOptions, models
from ksef_client.services.workflows import AuthCoordinator

from ksef_emulator.identifiers import internal_id
from ksef_emulator.testcerts import random_nip, random_pesel
from ansible_collections.ksef.credentials.plugins.modules import permission_info
from tests.conftest import REPO

pytestmark = pytest.mark.integration

PLAYBOOKS = Path(__file__).parent / "playbooks" / "permissions"
MARKER = "[ksef.credentials:%s]"
MANAGER = ["CredentialsManage", "CredentialsRead", "InvoiceRead", "InvoiceWrite", "SubunitManage"]


class Context:
    """A fresh context (random NIP) with a seeded manager token; the rows are read back with ksef-client."""

    def __init__(self, emulator, run_playbook, tmp_path):
        self.emulator, self.run_playbook, self.tmp_path = emulator, run_playbook, tmp_path
        self.nip = random_nip()
        seeded = emulator.admin("POST", "tokens", json={
            "context": f"Nip:{self.nip}", "author": f"Nip:{self.nip}", "status": "Active",
            "description": "bootstrap manager", "permissions": MANAGER})
        seeded.raise_for_status()
        self.token = seeded.json()["token"]
        self.env = {"KSEF_LOCK_DIR": str(tmp_path / "locks"), "KSEF_JOURNAL_DIR": str(tmp_path / "journal")}

    def record(self, subject: str, permissions: list, author: str, description: str, kind="person", **extra):
        """A row made outside the module: in the web app (author the owner) or by ZAW-FA (System)."""
        answer = self.emulator.admin("POST", "permissions/grants", json={
            "kind": kind, "context": f"Nip:{self.nip}", "subject": subject, "permissions": permissions,
            "author": author, "description": description, **extra})
        answer.raise_for_status()

    def play(self, playbook, expect_rc=0, env=None, check=False, **variables):
        variables = {"api_url": self.emulator.api_url, "nip": self.nip, "manager_token": self.token, **variables}
        playbook = PLAYBOOKS / playbook if isinstance(playbook, str) and "\n" not in playbook else playbook
        result = self.run_playbook(playbook, variables, env=dict(self.env, **(env or {})), expect_rc=expect_rc,
                                   check=check)
        output = result.stdout + result.stderr + json.dumps(result.results)
        assert variables["manager_token"].split("|")[-1] not in output and self.token.split("|")[-1] not in output
        return result

    def login(self, sdk) -> str:
        keys = sdk.security.get_public_key_certificates()
        key = next(k for k in keys if "KsefTokenEncryption" in [str(getattr(u, "value", u)) for u in k.usage])
        return AuthCoordinator(sdk.auth).authenticate_with_ksef_token(
            token=self.token, public_certificate=key.certificate, context_identifier_type="Nip",
            context_identifier_value=self.nip, poll_interval_seconds=0.05).access_token

    def authorizations(self) -> list:
        """The authorizations granted from the context, read with ksef-client."""
        with KsefClient(KsefClientOptions(base_url=self.emulator.base_url)) as sdk:
            query = models.EntityAuthorizationPermissionsQueryRequest.from_dict({"queryType": "Granted"})
            return sdk.permissions.query_authorizations_grants(query, access_token=self.login(sdk)).authorization_grants

    def subunits(self) -> list:
        """The subunit administrators granted from the context, read with ksef-client."""
        with KsefClient(KsefClientOptions(base_url=self.emulator.base_url)) as sdk:
            query = models.SubunitPermissionsQueryRequest.from_dict({})
            return sdk.permissions.query_subunits_grants(query, access_token=self.login(sdk)).permissions

    def eu_entities(self) -> list:
        """The EU entities' administrators granted from the context, read with ksef-client."""
        with KsefClient(KsefClientOptions(base_url=self.emulator.base_url)) as sdk:
            query = models.EuEntityPermissionsQueryRequest.from_dict({})
            return sdk.permissions.query_eu_entities_grants(query, access_token=self.login(sdk)).permissions

    def rows(self) -> dict:
        """Every row in force in the context, read with ksef-client: id -> PersonPermission."""
        with KsefClient(KsefClientOptions(base_url=self.emulator.base_url)) as sdk:
            access = self.login(sdk)
            query = models.PersonPermissionsQueryRequest.from_dict({"queryType": "PermissionsInCurrentContext"})
            listed = sdk.permissions.query_persons_grants(query, page_offset=0, page_size=100, access_token=access)
            assert listed.has_more is False
            return {row.id: row for row in listed.permissions}


def documented_check() -> list:
    """The check task after permission_info as docs/permissions.md and the module's EXAMPLES show it."""
    texts = re.findall(r"```yaml\n(.*?)```", (REPO / "docs" / "permissions.md").read_text(encoding="utf-8"), re.S)
    texts.append(permission_info.EXAMPLES)
    return [dict(task, ignore_errors=True) for text in texts if "ansible.builtin.assert" in text
            for task in yaml.safe_load(text) if task["name"] == "No grant finding is an error"]


def scope(row) -> str:
    return str(getattr(row.permission_scope, "value", row.permission_scope))


def by_name(rows: dict) -> dict:
    """name marker -> {permission: row}; unmanaged rows under None."""
    named: dict = {}
    for row in rows.values():
        name = next((n for n in ("erp-operator", "office", "auditor", "clerk") if row.description.endswith(MARKER % n)), None)
        named.setdefault(name, {})[scope(row)] = row
    return named


@pytest.fixture
def ctx(emulator, run_playbook, tmp_path):
    return Context(emulator, run_playbook, tmp_path)


def test_grant_keep_preview_and_apply_a_change_of_every_grant_kind(ctx):
    operator, auditor, web_user, zaw_user, admin, clerk, branch_admin = (random_pesel() for _n in range(7))
    office, client, partner = random_nip(), random_nip(), random_nip()
    branch = internal_id(ctx.nip, 1)
    fingerprint = secrets.token_hex(32).upper()
    person = {"first_name": "Jan", "last_name": "Kowalski"}
    first = [
        {"name": "erp-operator", "kind": "person", "description": "ERP operator",
         "subject": dict(person, pesel=operator), "permissions": ["InvoiceRead", "invoice_write"]},
        {"name": "office", "kind": "entity", "description": "Accounting office",
         "subject": {"nip": office, "full_name": "Biuro Rachunkowe sp. z o.o."},
         "permissions": ["InvoiceRead", "InvoiceWrite"], "can_delegate": True},
        {"name": "auditor", "kind": "person", "description": "Auditor",
         "subject": {"pesel": auditor, "first_name": "Anna", "last_name": "Nowak"}, "permissions": ["InvoiceRead"]},
        {"name": "clerk", "kind": "indirect", "description": "Clerk for one client", "target": client,
         "subject": {"pesel": clerk, "first_name": "Ewa", "last_name": "Lis"}, "permissions": ["InvoiceRead"]},
        {"name": "self-billing", "kind": "authorization", "description": "Partner issues our invoices",
         "subject": {"nip": partner, "full_name": "Partner sp. z o.o."}, "permissions": ["self_invoicing"]},
        {"name": "branch", "kind": "subunit", "description": "Branch administrator", "subunit": branch,
         "subunit_name": "Oddział Kraków", "subject": {"pesel": branch_admin, "first_name": "Olga", "last_name": "Kos"}},
        {"name": "eu-admin", "kind": "eu_administrator", "description": "Administrator of our German branch",
         "subject": {"fingerprint": fingerprint, "first_name": "Hans", "last_name": "Muller",
                     "birth_date": "1980-01-31", "id_document": {"type": "Passport", "number": "C01X00T47",
                                                                 "country": "DE"}},
         "eu_entity": {"vat_ue": "DE123456789", "name": "Muller GmbH in KSeF", "full_name": "Muller GmbH",
                       "address": "Unter den Linden 1, Berlin"}},
    ]
    # erp-operator: InvoiceWrite removed, Introspection added; office: can_delegate flipped; auditor: dropped.
    second = [dict(first[0], permissions=["InvoiceRead", "Introspection"]), dict(first[1], can_delegate=False),
              first[3], dict(first[5], subunit_name="Oddział Kraków-Płaszów"), first[6]]
    # The client lets this context (an accounting office for it) pass InvoiceRead on: the clerk's selective grant.
    ctx.emulator.admin("POST", "permissions/grants", json={
        "kind": "entity", "context": f"Nip:{client}", "subject": f"Nip:{ctx.nip}", "permissions": ["InvoiceRead"],
        "can_delegate": True, "description": "Our accounting office"}).raise_for_status()
    ctx.record(f"Pesel:{web_user}", ["InvoiceRead"], f"Nip:{ctx.nip}", "Granted in the web app")
    ctx.record(f"Pesel:{zaw_user}", ["InvoiceWrite"], "System", "Granted through ZAW-FA")
    ctx.record(f"Pesel:{admin}", ["CredentialsManage"], f"Nip:{ctx.nip}", "The only administrator")
    sender = ctx.emulator.admin("POST", "tokens", json={
        "context": f"Nip:{ctx.nip}", "author": f"Pesel:{operator}", "status": "Active",
        "description": "ERP sender " + MARKER % "erp-sender", "permissions": ["InvoiceWrite"]})
    sender.raise_for_status()
    plan_file = ctx.tmp_path / "grants.plan.json"
    result = ctx.play("converge.yml", first=first, second=second, plan_file=str(plan_file))

    granted = result.task("Grant")
    assert granted["changed"] is True
    assert [(r["name"], r["action"]) for r in granted["plan"]] == [
        ("erp-operator", "create"), ("office", "create"), ("auditor", "create"), ("clerk", "create"),
        ("self-billing", "create"), ("branch", "create"), ("eu-admin", "create")]
    assert granted["plan_text"][-1].startswith(
        "Calls: POST /permissions/authorizations/grants 1, POST /permissions/entities/grants 1, POST /permissions"
        "/eu-entities/administration/grants 1, POST /permissions/indirect/grants 1, POST /permissions/persons/grants"
        " 2, POST /permissions/subunits/grants 1, GET /permissions/operations/{referenceNumber} at least 7")
    assert granted["grants"]["eu-admin"]["permissions"] == ["VatUeManage", "InvoiceWrite", "InvoiceRead",
                                                            "Introspection"]
    assert granted["grants"]["eu-admin"]["target"] == "DE123456789"
    assert granted["grants"]["branch"]["permissions"] == ["CredentialsManage"]
    assert granted["grants"]["branch"]["target"] == branch
    assert granted["grants"]["self-billing"]["permissions"] == ["SelfInvoicing"]
    erp = granted["grants"]["erp-operator"]
    assert erp["permissions"] == ["InvoiceWrite", "InvoiceRead"] and len(erp["permission_ids"]) == 2
    (action,) = erp["actions"]
    assert action["status"] == "done" and "-EG-" in action["operation"]
    assert granted["grants"]["office"]["can_delegate"] is True

    again = result.task("Grant again")
    assert again["changed"] is False and again["summary"] == {"keep": 12}
    permission_calls = {op: n for op, n in again["api_calls"].items() if "/permissions/" in op}
    assert permission_calls == {"POST /permissions/query/persons/grants": 1,
                                "POST /permissions/query/authorizations/grants": 1,
                                "POST /permissions/query/subunits/grants": 1,
                                "POST /permissions/query/eu-entities/grants": 1}

    preview = result.task("Preview the change")
    planned = {(r["name"], r["action"], r["reference_number"]) for r in preview["plan"]}
    ids = {name: dict(zip(g["permissions"], g["permission_ids"]))
           for name, g in granted["grants"].items()}
    assert ("erp-operator", "revoke", ids["erp-operator"]["InvoiceWrite"]) in planned
    assert ("erp-operator", "keep", ids["erp-operator"]["InvoiceRead"]) in planned
    assert ("erp-operator", "create", None) in planned
    assert {("office", "revoke", rid) for rid in ids["office"].values()} <= planned
    assert ("self-billing", "revoke", ids["self-billing"]["SelfInvoicing"]) in planned
    assert {("branch", "revoke", ids["branch"]["CredentialsManage"]), ("branch", "replace", None)} <= planned
    assert "DELETE /permissions/authorizations/grants/{permissionId} 1" in preview["plan_text"][-1]
    assert ("office", "replace", None) in planned and ("auditor", "revoke", ids["auditor"]["InvoiceRead"]) in planned
    assert sorted(r["action"] for r in preview["plan"] if r["name"] is None) == ["retain", "revoke"]
    assert json.loads(plan_file.read_text())["kind"] == "grant"
    diff = preview["diff"]
    assert (diff["before"]["office"]["can_delegate"], diff["after"]["office"]["can_delegate"]) == (True, False)
    assert diff["after"]["auditor"] == {} and "clerk" not in diff["before"]  # unchanged grants are left out
    assert [k for k in diff["before"] if k.startswith("unmanaged:")] == [
        "unmanaged:" + r["reference_number"] for r in preview["plan"] if r["name"] is None and r["action"] == "revoke"]
    assert "Calls: " in diff["prepared"]
    # erp-operator created the token erp-sender with InvoiceWrite: the plan says the revoke takes it away.
    assert any(w.startswith(f"erp-operator: revoking InvoiceWrite of Pesel:{operator}") and
               f"erp-sender ({sender.json()['referenceNumber']})" in w for w in preview["warnings"])
    assert preview["api_calls"]["GET /tokens"] == 1 and "GET /tokens" not in again["api_calls"]
    # ... and so do its plan row, its plan line and the saved plan, with the row the lockout guard holds back and
    # the unmanaged rows named by what they give to whom.
    (breaking,) = [r for r in preview["plan"] if r.get("breaks")]
    assert (breaking["name"], breaking["reference_number"], breaking["breaks"]) == (
        "erp-operator", ids["erp-operator"]["InvoiceWrite"], ["erp-sender"])
    text = preview["plan_text"]
    assert "- erp-operator: revoke (InvoiceWrite no longer declared); KSeF then revokes the managed tokens: erp-sender" \
        in text
    assert any(line.startswith(f"- unmanaged person InvoiceRead of Pesel:{web_user} (") for line in text)
    assert any(line.startswith(f"= unmanaged person CredentialsManage of Pesel:{admin} (") and "lockout guard" in line
               for line in text)
    assert text[-2].endswith(" 1 retained.")  # the summary, before the call budget
    saved = json.loads(plan_file.read_text())
    assert saved["plan_text"] == text and [r for r in saved["plan"] if r.get("breaks")] == [breaking]

    applied = result.task("Apply the reviewed plan")
    assert any("lockout guard" in w and "last listed holder" in w for w in applied["warnings"])
    operations = [a for g in applied["grants"].values() for a in g["actions"] if a["action"] != "keep"]
    assert operations and all(a["status"] == "done" and "-EG-" in a["operation"] for a in operations)

    tokens = ctx.emulator.admin("GET", "tokens", params={"context": f"Nip:{ctx.nip}"}).json()
    tokens = tokens["tokens"] if isinstance(tokens, dict) else tokens
    status = next(t["status"] for t in tokens if t["referenceNumber"] == sender.json()["referenceNumber"])
    assert status in ("Revoking", "Revoked"), "the warning said KSeF revokes it"
    assert ctx.authorizations() == []  # revoked through its own endpoint (the common one ends 450)
    (subunit,) = ctx.subunits()
    assert (subunit.subunit_identifier.value, subunit.subunit_name) == (branch, "Oddział Kraków-Płaszów")
    assert subunit.id != ids["branch"]["CredentialsManage"]
    eu_rows = ctx.eu_entities()
    assert {str(getattr(r.permission_scope, "value", r.permission_scope)) for r in eu_rows} == {
        "VatUeManage", "InvoiceWrite", "InvoiceRead", "Introspection"}
    assert {(r.vat_ue_identifier, r.authorized_fingerprint_identifier) for r in eu_rows} == {("DE123456789",
                                                                                              fingerprint)}
    assert sorted(r.id for r in eu_rows) == sorted(ids["eu-admin"].values())  # kept as they were
    rows = by_name(ctx.rows())
    assert set(rows["erp-operator"]) == {"InvoiceRead", "Introspection"}
    assert rows["erp-operator"]["InvoiceRead"].id == ids["erp-operator"]["InvoiceRead"]  # untouched
    assert set(rows["office"]) == {"InvoiceRead", "InvoiceWrite"}
    assert all(row.can_delegate is False and row.id not in ids["office"].values() for row in rows["office"].values())
    assert "auditor" not in rows
    (clerk_row,) = rows["clerk"].values()
    assert clerk_row.target_identifier.value == client and clerk_row.id == ids["clerk"]["InvoiceRead"]  # kept
    unmanaged = {(row.authorized_identifier.value, scope(row)) for row in rows[None].values()}
    assert unmanaged == {(zaw_user, "InvoiceWrite"), (admin, "CredentialsManage")}  # System and the guard
    assert sorted(applied["grants"]["erp-operator"]["permission_ids"]) == sorted(r.id for r in
                                                                                 rows["erp-operator"].values())

    inventory = result.task("Inventory")
    assert inventory["changed"] is False and inventory["summary"]["grants"] == 12
    # The inventory logged in with a token: the end of token authentication is a finding about that login (its
    # reference number; the test environment's date is 2099-12-31, so info).
    (login,) = [f for f in inventory["findings"] if f["kind"] == "token_auth_end"]
    assert login["severity"] == "info" and login["reference_number"] and "this run logged in with it" in login["message"]
    findings = {(f["kind"], f["severity"], f["permission_id"]) for f in inventory["findings"] if f is not login}
    admin_row = next(r.id for r in rows[None].values() if r.authorized_identifier.value == admin)
    zaw_row = next(r.id for r in rows[None].values() if r.authorized_identifier.value == zaw_user)
    assert findings == {("undeclared_manager", "error", admin_row), ("system_authored", "info", zaw_row)}
    assert inventory["summary"]["errors"] == 1
    listed = {r["permission_id"]: r for r in inventory["grants"]}
    assert set(listed) == set(ctx.rows()) | {subunit.id} | {r.id for r in eu_rows}
    assert listed[subunit.id]["kind"] == "subunit" and listed[subunit.id]["declared"] is True
    assert listed[rows["office"]["InvoiceRead"].id]["subject"] == {"nip": office, "full_name": "Biuro Rachunkowe sp. z o.o."}
    assert listed[zaw_row]["author"] == "System" and listed[zaw_row]["findings"] == ["system_authored"]
    # The documented check fails naming the error finding (failed_when would say only "Unknown error").
    check = result.task("No grant finding is an error")
    (error,) = [f for f in inventory["findings"] if f["severity"] == "error"]
    (status,) = [r["status"] for r in result.results if r["task"] == "No grant finding is an error"]
    assert status == "failed" and check["msg"] == error["message"] and f"Pesel:{admin}" in check["msg"]
    assert error["message"] in result.stdout and "Unknown error" not in result.stdout
    assert documented_check() == [dict(t, ignore_errors=True) for t in yaml.safe_load(
        (PLAYBOOKS / "converge.yml").read_text())[0]["tasks"] if t["name"] == "No grant finding is an error"] * 2


def test_an_operation_still_in_progress_is_resumed_by_the_next_run_not_sent_again(ctx):
    declared = [{"name": "erp-operator", "kind": "person", "description": "ERP operator",
                 "subject": {"pesel": random_pesel(), "first_name": "Jan", "last_name": "Kowalski"},
                 "permissions": ["InvoiceRead"]}]
    previous = ctx.emulator.admin("GET", "config").json()["permission_delay"]
    ctx.emulator.admin("PUT", "config", json={"permission_delay": 3600}).raise_for_status()
    try:
        stopped = ctx.play("declare.yml", expect_rc=2, declared_grants=declared, wait_timeout=1)
    finally:
        ctx.emulator.admin("PUT", "config", json={"permission_delay": previous}).raise_for_status()
    failed = stopped.task("Declare the grants")
    assert failed["failed_grants"] == ["erp-operator"] and "still in progress" in failed["msg"]
    (journal,) = (ctx.tmp_path / "journal").glob("*.json")
    ((operation, entry),) = json.loads(journal.read_text()).items()
    assert entry["name"] == "erp-operator" and entry["action"] == "create"
    assert ctx.rows() == {}  # KSeF lists nothing of an operation in progress
    # The grant was sent: KSeF changes, so the run did; it names the operation still in progress.
    assert failed["changed"] is True and "create sent, still in progress at KSeF" in failed["msg"]
    (sent,) = failed["grants"]["erp-operator"]["actions"]
    assert (sent["action"], sent["operation"], sent["status"]) == ("create", operation, "in progress")

    ctx.emulator.admin("POST", f"permissions/operations/{operation}/finish", json={"code": 200}).raise_for_status()
    resumed = ctx.play("declare.yml", declared_grants=declared).task("Declare the grants")
    assert resumed["changed"] is False and resumed["summary"] == {"keep": 1}
    (resumed_row, kept) = resumed["grants"]["erp-operator"]["actions"]  # the earlier run's operation, ended
    assert (resumed_row["action"], resumed_row["operation"], resumed_row["status"]) == ("resume", operation, "done")
    assert resumed_row["reason"].startswith("create operation of an earlier run, sent ") and kept["action"] == "keep"
    assert "POST /permissions/persons/grants" not in resumed["api_calls"]  # waited for, not sent again
    assert resumed["api_calls"]["GET /permissions/operations/{referenceNumber}"] == 1
    assert json.loads(journal.read_text()) == {}
    (row,) = ctx.rows().values()
    assert row.description == "ERP operator " + MARKER % "erp-operator" and scope(row) == "InvoiceRead"

    # A run logged in with a token of a managed administrator never revokes that administrator's CredentialsManage.
    admin, other_admin = random_pesel(), random_pesel()
    ctx.record(f"Pesel:{admin}", ["CredentialsManage"], f"Nip:{ctx.nip}", "Admin " + MARKER % "admin")
    ctx.record(f"Pesel:{other_admin}", ["CredentialsManage"], f"Nip:{ctx.nip}", "Another administrator")
    token = ctx.emulator.admin("POST", "tokens", json={
        "context": f"Nip:{ctx.nip}", "author": f"Pesel:{admin}", "status": "Active",
        "description": "admin's automation", "permissions": ["CredentialsManage", "CredentialsRead"]})
    token.raise_for_status()
    pruned = ctx.play("declare.yml", declared_grants=[], exclusive="managed",
                      manager_token=token.json()["token"]).task("Declare the grants")
    steps = {(r["name"], r["action"]) for r in pruned["plan"]}
    assert steps == {("erp-operator", "revoke"), ("admin", "retain")}
    assert any("admin: lockout guard: CredentialsManage of Pesel:%s, the identity this run logs in with" % admin in w
               for w in pruned["warnings"])
    assert pruned["api_calls"]["GET /tokens/{referenceNumber}"] == 1  # the login token's author
    assert {(r.authorized_identifier.value, scope(r)) for r in ctx.rows().values()} == {
        (admin, "CredentialsManage"), (other_admin, "CredentialsManage")}


def _permission_writes(ctx) -> dict:
    """The grant and revoke requests the emulator answered in this context (its stats, not the module's word)."""
    by_context = ctx.emulator.admin("GET", "stats").json()["by_context"]
    return {op: n for key, ops in by_context.items() if key.endswith(ctx.nip) for op, n in ops.items()
            if op.startswith(("DELETE /permissions/", "POST /permissions/")) and "/query/" not in op}


def test_a_run_the_status_hour_cannot_finish_changes_nothing_and_a_grant_failed_after_its_revoke_comes_back(ctx):
    pesel = random_pesel()
    grant = {"name": "erp-operator", "kind": "person", "description": "ERP operator",
             "subject": {"pesel": pesel, "first_name": "Jan", "last_name": "Kowalski"}, "permissions": ["InvoiceRead"]}
    changed = [dict(grant, description="ERP operator of the invoices")]  # no update in KSeF: revoke, then grant
    ctx.play("declare.yml", declared_grants=[grant])
    (before,) = ctx.rows()
    writes = _permission_writes(ctx)

    # This context's hour of GET /permissions/operations/{referenceNumber} is used up, as the shared pacing state
    # every task of a run reads says (the TEST profile: 1200 an hour).
    status = "GET /permissions/operations/{referenceNumber}"
    pacing = ctx.tmp_path / "ratelimit"
    pacing.mkdir()
    host = ctx.emulator.api_url.split("//")[1].split("/")[0].replace(":", "-")
    (pacing / f"{host}_Nip-{ctx.nip}.json").write_text(json.dumps({status: {"sent": [time.time()] * 1200}}))
    env = {"KSEF_RATELIMIT_DIR": str(pacing)}
    preview = ctx.play("declare.yml", env=env, check=True, declared_grants=changed).task("Declare the grants")
    calls = preview["plan_text"][-1]
    assert calls.startswith("Calls: DELETE /permissions/common/grants/{permissionId} 1, POST /permissions/persons/"
                            "grants 1, GET /permissions/operations/{referenceNumber} at least 2, GET /tokens 1, POST"
                            " /permissions/query/persons/grants up to 3; left this hour in this context: "), calls
    assert f"{status} 0" in calls and "DELETE /permissions/common/grants/{permissionId} 1200" in calls
    assert any(w.startswith(status + ": the plan needs at least 2 calls, and only 0 of the 1200") for w in
               preview["warnings"])

    refused = ctx.play("declare.yml", expect_rc=2, env=env, declared_grants=changed).task("Declare the grants")
    assert refused["msg"].startswith("nothing was changed: the plan needs at least 2 calls of " + status)
    assert "0 of 1200 left this hour" in refused["msg"] and "max_retry_wait" in refused["msg"]
    assert _permission_writes(ctx) == writes  # not one grant or revoke reached KSeF
    assert list(ctx.rows()) == [before]

    # With the window free again the grant of the change ends 550 after its revoke: the message says the grant is
    # missing now, and the next run grants it again.
    ctx.emulator.admin("PUT", "permissions/outcomes", json={"next": [200, 550]}).raise_for_status()
    half = ctx.play("declare.yml", expect_rc=2, declared_grants=changed).task("Declare the grants")
    assert "Nothing to undo" not in half["msg"] and "the others" not in half["msg"]
    assert half["msg"].startswith("1 of 1 changes failed: erp-operator: replace failed while waiting for its grant"
                                  " operation: operation ")
    assert ("Not undone: erp-operator revoked %s before it (break-before-make), so the grant is missing now; the next"
            " run grants it again" % before) in half["msg"]
    assert half["changed"] is True and ctx.rows() == {}
    again = ctx.play("declare.yml", declared_grants=changed).task("Declare the grants")
    assert [a["action"] for a in again["grants"]["erp-operator"]["actions"]] == ["create"]
    (row,) = ctx.rows().values()
    assert row.description == "ERP operator of the invoices " + MARKER % "erp-operator"


BAD_DIGITS = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: "{{ item.option }}"
      ksef.credentials.permissions:
        api_url: "{{ api_url }}"
        context: {nip: "{{ nip }}"}
        auth: {ksef_token: "{{ manager_token }}"}
        grants: [{name: ok, kind: person, subject: {pesel: "{{ pesel }}", first_name: Jan, last_name: Kowalski},
                  permissions: [InvoiceRead]}, "{{ item.grant }}"]
      loop: "{{ cases }}"
      ignore_errors: true
"""


def test_wrong_check_digits_are_refused_before_any_request(ctx):
    person = {"first_name": "Anna", "last_name": "Nowak"}
    pesel, nip = random_pesel(), random_nip()
    bad_pesel = pesel[:10] + str((int(pesel[10]) + 1) % 10)
    bad_nip = nip[:9] + str((int(nip[9]) + 1) % 10)
    unit = internal_id(ctx.nip, 7)
    bad_unit = unit[:-1] + str((int(unit[-1]) + 1) % 10)
    cases = [
        {"option": "subject.pesel", "grant": {"name": "p", "kind": "person", "subject": dict(person, pesel=bad_pesel),
                                              "permissions": ["InvoiceRead"]}},
        {"option": "subject.nip", "grant": {"name": "e", "kind": "entity", "permissions": ["InvoiceRead"],
                                            "subject": {"nip": bad_nip, "full_name": "Biuro sp. z o.o."}}},
        {"option": "target", "grant": {"name": "i", "kind": "indirect", "target": bad_nip, "permissions": ["InvoiceRead"],
                                       "subject": dict(person, pesel=pesel)}},
        {"option": "subunit", "grant": {"name": "s", "kind": "subunit", "subunit": bad_unit, "subunit_name": "Oddział",
                                        "subject": dict(person, pesel=pesel)}},
    ]
    stats = ctx.emulator.admin("GET", "stats").json()["total"]
    result = ctx.run_playbook(BAD_DIGITS, {"api_url": ctx.emulator.api_url, "nip": ctx.nip, "manager_token": ctx.token,
                                           "pesel": pesel, "cases": cases}, env=ctx.env)
    (looped,) = [r for r in result.results if "results" in r["result"]] or [None]
    items = looped["result"]["results"] if looped else [r["result"] for r in result.results]
    messages = [item["msg"] for item in items]
    # A failed item says `failed: true`; ansible-core 2.21 marks it with its `exception` instead.
    assert len(messages) == 4 and all(item.get("failed", "exception" in item) for item in items)
    for case, item in zip(cases, items):
        assert item["option"] == "grants[1].%s" % case["option"], item
        assert item["msg"].startswith("grants[1]: %s " % case["option"]) and "wrong check digit" in item["msg"]
    assert "unit 0007" in messages[3] and unit in messages[3]  # the right InternalId, to copy
    assert ctx.emulator.admin("GET", "stats").json()["total"] == stats  # no request: not even a login
