"""The info modules' one result shape (docs/audit.md, "One result shape"): token_info, certificate_info and
permission_info in one playbook against the emulator, each result checked for the keys they all share; and
audit_report refusing a scans entry that is no info result before it writes anything."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from ksef_emulator.testcerts import random_pesel
from tests.integration.test_certificate import Subject

pytestmark = pytest.mark.integration

PLAYBOOK = Path(__file__).parent / "playbooks" / "audit" / "shape.yml"
SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "report.schema.json").read_text())
# kind -> (task, rows' key, the row's own id key, the row's own time key)
KINDS = {
    "token": ("Tokens", "tokens", "reference_number", "created"),
    "certificate": ("Certificates", "certificates", "serial_number", "requested"),
    "grant": ("Grants", "grants", "permission_id", "start_date"),
}
SUMMARY = {"managed": int, "findings": dict, "findings_total": int, "errors": int, "warnings": int}
FINDING = {"kind": str, "severity": str, "message": str}
OPTIONAL_TEXT = ("name", "reference", "store")


def test_the_three_info_modules_share_one_shape_and_the_report_refuses_a_bad_scans_entry(
    emulator, run_playbook, tmp_path
):
    subject = Subject(emulator, tmp_path)
    subject.seeded_token()  # a live token: a row and its token_auth_end finding
    emulator.admin("POST", "permissions/grants", json={
        "context": f"Nip:{subject.nip}", "subject": f"Pesel:{random_pesel()}", "permissions": ["CredentialsManage"],
        "author": f"Nip:{subject.nip}", "description": "Granted in the web app"}).raise_for_status()
    report_dir = tmp_path / "report"
    variables = dict(subject.vars, pem=str(subject.pem), token_store=str(tmp_path / "erp.token"),
                     reader=random_pesel(), report_dir=str(report_dir))
    result = run_playbook(PLAYBOOK, variables)

    for kind, (task, items, id_key, time_key) in KINDS.items():
        scan = result.task(task)
        assert scan["kind"] == kind and scan["changed"] is False
        summary = scan["summary"]
        for key, typ in SUMMARY.items():
            assert isinstance(summary[key], typ), (kind, key)
        assert summary[items] == len(scan[items]) >= 1
        assert summary["findings_total"] == len(scan["findings"]) == sum(summary["findings"].values())
        assert summary["errors"] == sum(1 for f in scan["findings"] if f["severity"] == "error")
        assert summary["warnings"] == sum(1 for f in scan["findings"] if f["severity"] == "warning")
        for row in scan[items]:
            assert row["reference"] == row[id_key] and isinstance(row["reference"], str), (kind, row)
            assert row["since"] == row[time_key] and isinstance(row["since"], str), (kind, row)
            assert isinstance(row["managed"], bool) and isinstance(row["findings"], list)
        assert scan["findings"], kind
        for finding in scan["findings"]:
            for key, typ in FINDING.items():
                assert isinstance(finding[key], typ), (kind, key)
            assert all(finding[key] is None or isinstance(finding[key], str) for key in OPTIONAL_TEXT)
            assert finding["reference"] == finding.get(id_key, finding.get("reference_number")), (kind, finding)
        assert any(f["reference"] for f in scan["findings"]), kind
        assert scan["declared"], kind
        for declared in scan["declared"]:
            assert isinstance(declared["name"], str) and declared["state"] == "present"
            assert isinstance(declared["references"], list)

    tokens, certificates, grants = (result.task(KINDS[k][0]) for k in KINDS)
    # The older view, kept as it was: `declared` without its common `references`.
    assert tokens["declared_tokens"] == [{k: v for k, v in d.items() if k != "references"} for d in tokens["declared"]]
    assert {d["name"]: d["references"] for d in certificates["declared"]} == {
        "automation-login": [certificates["certificates"][0]["serial_number"]], "backup-login": []}
    assert certificates["declared"][0]["stores"][0]["holds_active"] is True
    assert grants["declared"][0]["references"] == [] and "missing" in {f["kind"] for f in grants["findings"]}

    # The report of the three keeps to its schema: the common keys are the info results', not report.json's.
    report = json.loads((report_dir / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    (company,) = report["contexts"]
    assert company["tokens"] and company["certificates"] and company["grants"]

    for task, named in (("A scans entry that is no result", "scans.c1[0]"), ("A scans host that is a text",
                                                                             "scans.junk")):
        refused = result.task(task)
        assert refused["option"] == named and refused["changed"] is False
        assert refused["msg"].startswith(named + " must be an info module's registered result")
        assert "hello" not in refused["msg"]
    assert not (report_dir / "bad").exists()
