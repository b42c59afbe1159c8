"""EU representatives through a real playbook against the emulator over HTTP: the company grants an EU
administrator, who logs in to the NipVatUe context by its certificate's fingerprint and grants, keeps, changes and
revokes representatives there; the public client ksef-client (PyPI) reads the rows back in that context."""
from __future__ import annotations

import json
import secrets

import pytest
from ksef_client import KsefClient, KsefClientOptions, models

from ksef_emulator.testcerts import generate_certificate, random_pesel

from tests.integration.test_permissions_module import Context, scope

pytestmark = pytest.mark.integration


def eu_rows(ctx: Context, access: str) -> list:
    """Every row of POST /permissions/query/eu-entities/grants in the NipVatUe context, read with ksef-client in
    the administrator's session (opened by ksef.credentials.session: ksef-client signs XAdES only with xmlsec)."""
    with KsefClient(KsefClientOptions(base_url=ctx.emulator.base_url)) as sdk:
        query = models.EuEntityPermissionsQueryRequest.from_dict({})
        return sdk.permissions.query_eu_entities_grants(query, access_token=access).permissions


def test_an_eu_administrator_grants_changes_and_revokes_representatives_in_the_nip_vat_ue_context(
        emulator, run_playbook, tmp_path):
    ctx = Context(emulator, run_playbook, tmp_path)
    admin = generate_certificate(tmp_path / "admin", kind="person", identifier=False)
    anna, otto = secrets.token_hex(32).upper(), secrets.token_hex(32).upper()
    administrator = {
        "name": "eu-admin", "kind": "eu_administrator", "description": "Administrator of our German branch",
        "subject": {"fingerprint": admin.fingerprint, "first_name": "Hans", "last_name": "Muller",
                    "birth_date": "1980-01-31", "id_document": {"type": "Passport", "number": "C01X00T47",
                                                                "country": "DE"}},
        "eu_entity": {"vat_ue": "DE123456789", "name": "Muller GmbH in KSeF", "full_name": "Muller GmbH",
                      "address": "Unter den Linden 1, Berlin"}}
    first = [
        {"name": "rep-anna", "kind": "eu_representative", "description": "Reads the branch's invoices",
         "subject": {"fingerprint": anna, "first_name": "Anna", "last_name": "Schmidt", "pesel": random_pesel()},
         "permissions": ["invoice_read"]},
        {"name": "rep-otto", "kind": "eu_representative", "description": "Sends the branch's invoices",
         "subject": {"fingerprint": otto, "first_name": "Otto", "last_name": "Weber", "birth_date": "1975-05-05",
                     "id_document": {"type": "IdCard", "number": "L01X00T47", "country": "DE"}},
         "permissions": ["InvoiceRead", "InvoiceWrite"]},
    ]
    # rep-anna: a new description (break-before-make) and InvoiceWrite added; rep-otto: revoked.
    tokens_file = tmp_path / "session.json"
    second = [dict(first[0], description="Reads and sends the branch's invoices",
                   permissions=["InvoiceRead", "InvoiceWrite"]), {"name": "rep-otto", "state": "absent"}]
    result = ctx.play("eu_representative.yml", administrator=administrator, first=first, second=second,
                      admin_certificate=str(admin.cert_path), admin_key=str(admin.key_path),
                      tokens_file=str(tokens_file))

    company = result.task("The company grants the EU administrator")
    admin_ids = set(company["grants"]["eu-admin"]["permission_ids"])
    assert company["changed"] is True and len(admin_ids) == 4

    granted = result.task("Representatives granted by the administrator")
    assert [(r["name"], r["action"]) for r in granted["plan"]] == [("rep-anna", "create"), ("rep-otto", "create")]
    assert granted["grants"]["rep-anna"]["permissions"] == ["InvoiceRead"]
    assert granted["grants"]["rep-anna"]["subject"] == {"fingerprint": anna, "first_name": "Anna",
                                                        "last_name": "Schmidt"}
    assert sorted(granted["grants"]["rep-otto"]["permissions"]) == ["InvoiceRead", "InvoiceWrite"]
    assert granted["api_calls"]["POST /permissions/eu-entities/grants"] == 2
    assert granted["api_calls"]["POST /auth/xades-signature"] == 1
    # VatUeManage lists nothing but the EU entities' rows: nothing else is asked in this context.
    assert {op for op in granted["api_calls"] if "/query/" in op} == {"POST /permissions/query/eu-entities/grants"}
    assert "GET /tokens" not in granted["api_calls"]

    again = result.task("Representatives again")
    assert again["changed"] is False and again["summary"] == {"keep": 3}

    preview = result.task("Preview the change")
    planned = {(r["name"], r["action"]) for r in preview["plan"]}
    assert planned == {("rep-anna", "revoke"), ("rep-anna", "replace"), ("rep-otto", "revoke")}
    assert not any(r["reference_number"] in admin_ids for r in preview["plan"])  # the company's grant

    changed = result.task("Change one, revoke the other")
    anna_ids = changed["grants"]["rep-anna"]["permission_ids"]
    assert changed["changed"] is True
    assert changed["grants"]["rep-anna"]["permissions"] == ["InvoiceWrite", "InvoiceRead"]
    assert set(anna_ids).isdisjoint(granted["grants"]["rep-anna"]["permission_ids"])  # granted again
    assert {r["reference_number"] for r in changed["revoked"]} >= set(granted["grants"]["rep-otto"]["permission_ids"])

    inventory = result.task("Inventory")
    kinds = sorted((r["kind"], r["permission"], r["declared"]) for r in inventory["grants"])
    assert kinds == [("eu_administrator", p, False) for p in sorted(
        ["Introspection", "InvoiceRead", "InvoiceWrite", "VatUeManage"])] + [
        ("eu_representative", "InvoiceRead", True), ("eu_representative", "InvoiceWrite", True)]
    assert inventory["findings"] == [] and inventory["summary"]["errors"] == 0

    person = result.task("A person grant is refused in the NipVatUe context")
    assert person["option"] == "grants[0].kind" and "only an EU representative" in person["msg"]
    company_rep = result.task("The company cannot grant a representative")
    assert company_rep["option"] == "grants[0].kind" and "set context.nip_vat_ue" in company_rep["msg"]
    tokens = result.task("Tokens are refused in the NipVatUe context")
    assert tokens["option"] == "context.nip_vat_ue"
    assert "KSeF creates KSeF tokens only in Nip and InternalId contexts" in tokens["msg"]
    assert person["api_calls"] == company_rep["api_calls"] == tokens["api_calls"] == {}  # refused before any request

    rows = eu_rows(ctx, json.loads(tokens_file.read_text())["access_token"])
    assert {row.id for row in rows} == admin_ids | set(anna_ids)  # rep-otto gone, the administrator untouched
    anna_rows = [row for row in rows if row.id in anna_ids]
    assert {scope(row) for row in anna_rows} == {"InvoiceRead", "InvoiceWrite"}
    assert all(row.authorized_fingerprint_identifier == anna and row.description ==
               "Reads and sends the branch's invoices [ksef.credentials:rep-anna]" for row in anna_rows)
    assert all(row.author_identifier.value == admin.fingerprint for row in anna_rows)
