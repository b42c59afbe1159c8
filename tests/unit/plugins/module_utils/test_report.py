"""The audit report: building it from token_info results, the JSON schema, CSV and HTML rendering."""
import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _drift as d
from ansible_collections.ksef.credentials.plugins.module_utils import _identity as identity
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import grant_drift as gd
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import grant_plan as g
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import token_plan as p
from ansible_collections.ksef.credentials.plugins.module_utils import _report as r
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError

SCHEMA = json.loads((Path(__file__).resolve().parents[4] / "docs" / "report.schema.json").read_text())
NOW = datetime(2025, 10, 1, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
REF_A = "20250601-EC-1DCE3E3000-12ECB5B36E-45"
REF_B = "20250901-EC-220B0CE000-E228129563-96"
REF_H = "20250101-EC-3A0B0CE000-E228129563-07"


def item(ref, created, name, text, perms=("InvoiceRead",), used=None):
    found = {"referenceNumber": ref, "status": "Active", "requestedPermissions": list(perms),
             "description": identity.compose(name, text) if name else text, "dateCreated": created.isoformat(),
             "authorIdentifier": {"type": "Nip", "value": "5265877635"},
             "contextIdentifier": {"type": "Nip", "value": "5265877635"}}
    if used:
        found["lastUseDate"] = used.isoformat()
    return found


def scan(nip="5265877635", hand_text="made by hand"):
    """A token_info result, assembled the way the module does it."""
    items = [item(REF_B, NOW - 30 * DAY, "erp", "ERP sender", used=NOW - DAY),
             item(REF_A, NOW - 122 * DAY, "erp", "ERP sender"),
             item(REF_H, NOW - 273 * DAY, None, hand_text)]
    declared = [p.Declared(name="erp", description="ERP sender", permissions=("InvoiceRead", "InvoiceWrite"),
                           rotate_after=90 * DAY),
                p.Declared(name="archiver", permissions=("InvoiceRead",))]
    holdings = {"erp": [p.Holding("file:/etc/erp.token", REF_A), p.Holding("file:/backup/erp.token", None)],
                "archiver": [p.Holding("file:/etc/archiver.token", None)]}
    findings = d.drift(declared, items, holdings, NOW, d.Policy(unused_after=60 * DAY))
    rows = []
    for it in items:
        row = d.token_row(it, NOW, 90 * DAY, 60 * DAY)
        row["declared"] = row["name"] == "erp"
        row["stores"] = [h.label for h in holdings.get(row["name"], []) if h.reference_number == row["reference_number"]]
        row["findings"] = sorted({f.kind for f in findings if f.reference == row["reference_number"]})
        rows.append(row)
    return {"changed": False, "tokens": rows, "findings": [f.as_dict() for f in findings],
            "declared_tokens": [{"name": "erp", "state": "present", "permissions": ["InvoiceRead", "InvoiceWrite"],
                                 "rotate_after": "90d", "reference_number": REF_A,
                                 "stores": [{"label": "file:/etc/erp.token", "reference_number": REF_A,
                                             "holds_current": True},
                                            {"label": "file:/backup/erp.token", "reference_number": None,
                                             "holds_current": False}]},
                                {"name": "archiver", "state": "present", "permissions": ["InvoiceRead"],
                                 "rotate_after": None, "reference_number": None,
                                 "stores": [{"label": "file:/etc/archiver.token", "reference_number": None,
                                             "holds_current": False}]}],
            "context": {"type": "Nip", "value": nip}, "api_url": "https://api-test.ksef.mf.gov.pl/v2",
            "scanned_at": NOW.isoformat(), "api_calls": {"GET /tokens": 1}}


@pytest.fixture
def report():
    scans = {"acme": scan(), "beta": scan("7010000006"),
             "broken": {"failed": True, "msg": "KSeF refused the login (450)"}}
    return r.build(scans, NOW.isoformat(), title="Audit Q3")


def test_build_counts_per_context_and_in_total(report):
    assert [c["host"] for c in report["contexts"]] == ["acme", "beta", "broken"]
    assert report["environment"] == "test"
    acme = report["contexts"][0]["summary"]
    assert acme["tokens"] == 3 and acme["managed"] == 2 and acme["unmanaged"] == 1 and acme["declared"] == 2
    assert acme["findings"]["missing"] == 1 and acme["findings"]["unmanaged"] == 1
    assert acme["findings"]["store_missing"] == 1 and acme["findings"]["scope_differs"] == 1
    total = report["summary"]
    assert total["contexts"] == 3 and total["contexts_failed"] == 1 and total["tokens"] == 6
    assert total["findings_total"] == 2 * acme["findings_total"]
    assert report["contexts"][2]["error"] == "KSeF refused the login (450)"


def test_json_validates_against_the_schema(report):
    document = json.loads(r.to_json(report))
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)


def test_schema_rejects_an_unknown_finding_kind(report):
    report["contexts"][0]["findings"][0]["kind"] = "made_up"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(r.to_json(report)), SCHEMA, cls=jsonschema.Draft202012Validator)


def test_csv_has_one_row_per_token_and_defuses_formulas():
    report = r.build({"acme": scan(hand_text="=HYPERLINK(\"http://evil\")")}, NOW.isoformat())
    rows = list(csv.DictReader(io.StringIO(r.to_csv(report))))
    assert len(rows) == 3 and list(rows[0]) == list(r.CSV_COLUMNS)
    by_ref = {row["reference_number"]: row for row in rows}
    assert by_ref[REF_A]["context"] == "Nip:5265877635" and by_ref[REF_A]["rotation_due"] == "true"
    assert by_ref[REF_A]["environment"] == "test" and by_ref[REF_A]["credential"] == "token"
    assert by_ref[REF_A]["permissions"] == "InvoiceRead"
    assert by_ref[REF_H]["description"].startswith("'=")
    assert by_ref[REF_H]["name"] == "" and by_ref[REF_H]["managed"] == "false"


def test_html_is_self_contained_and_escapes_text():
    report = r.build({"acme": scan(hand_text="<script>alert(1)</script>")}, NOW.isoformat())
    page = r.to_html(report)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "@import" not in page and "url(" not in page
    assert page.count("<script>") == 1  # the page's own sorting code, inline


def test_html_highlights_findings_and_shows_scan_time_and_environment(report):
    page = r.to_html(report)
    assert 'id="environment">test<' in page and 'datetime="2025-10-01T12:00:00+00:00"' in page
    assert page.count('class="finding error"') == report["summary"]["errors"]
    assert 'class="token has-findings error" data-ref="%s"' % REF_A in page
    assert 'class="scan-error">KSeF refused the login (450)<' in page
    assert 'id="count-findings">%d<' % report["summary"]["findings_total"] in page


def test_a_token_value_is_never_written():
    value = REF_A + "|nip-5265877635|" + "ab" * 32
    report = r.build({"acme": scan(hand_text="pasted " + value)}, NOW.isoformat())
    for render in (r.to_json, r.to_csv, r.to_html):
        with pytest.raises(r.UnsafeReportError) as raised:
            render(report)
        assert value not in str(raised.value)


def test_environment_from_the_api_url():
    assert r.environment_of("https://api.ksef.mf.gov.pl/v2") == "prod"
    assert r.environment_of("https://api-demo.ksef.mf.gov.pl/v2/") == "demo"
    assert r.environment_of("http://127.0.0.1:8080/v2") == "http://127.0.0.1:8080/v2"  # an emulator names itself
    assert r.environment_of(None) == "unknown"
    assert r.environment_name("staging", "http://127.0.0.1:8080/v2") == "staging"
    assert r.environment_name("https://api-test.ksef.mf.gov.pl/v2", None) == "test"
    assert r.environment_name(None, "https://api.ksef.mf.gov.pl/v2") == "prod"


def at(api_url, nip="5265877635", hand_text="made by hand"):
    return dict(scan(nip, hand_text), api_url=api_url)


def test_scans_of_several_environments_combine_into_one_report():
    scans = {"acme-prod": at("https://api.ksef.mf.gov.pl/v2"), "acme-test": scan(),
             "acme-demo": at("https://api-demo.ksef.mf.gov.pl/v2"), "acme-lab": at("http://127.0.0.1:8080/v2"),
             "acme-staging": at("http://127.0.0.1:9090/v2"), "down": {"failed": True, "msg": "KSeF did not answer"}}
    report = r.build(scans, NOW.isoformat(), environments={"acme-staging": "staging", "down": "prod"})
    got = [(c["environment"], c["host"]) for c in report["contexts"]]
    assert got == [("test", "acme-test"), ("demo", "acme-demo"), ("prod", "acme-prod"), ("prod", "down"),
                   ("http://127.0.0.1:8080/v2", "acme-lab"), ("staging", "acme-staging")]
    assert report["environments"] == ["test", "demo", "prod", "http://127.0.0.1:8080/v2", "staging"]
    assert report["environment"] == "test, demo, prod, http://127.0.0.1:8080/v2, staging"
    assert r.build(scans, NOW.isoformat(), environment="all of them")["environment"] == "all of them"
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(
        json.loads(r.to_json(report)))

    rows = list(csv.DictReader(io.StringIO(r.to_csv(report))))
    assert {(row["environment"], row["host"]) for row in rows} == set(got) - {("prod", "down")}

    page = r.to_html(report)
    select = page[page.index('<select id="environment-filter">'):page.index("</select>")]
    assert re.findall(r'<option value="([^"]*)">', select) == ["", *report["environments"]]
    summary = page[page.index('<table id="summary"'):page.index("</table>")]
    rows_shown = re.findall(r'data-environment="([^"]*)">\s*<td class="env">([^<]*)</td><td class="host">([^<]*)<div class="sub">', summary)
    assert rows_shown == [(env, env, host) for env, host in got]
    tokens = page[page.index('<table id="tokens"'):page.index("</table>", page.index('<table id="tokens"'))]
    assert tokens.count('data-environment="prod"') == 3 and tokens.count('data-environment="staging"') == 3


CERT_SERIAL = "0123456789ABCDEF"


def certificate_scan():
    """A certificate_info result: one managed certificate, expiring soon, that no store holds."""
    return {"changed": False,
            "certificates": [{"serial_number": CERT_SERIAL, "name": "login", "certificate_name": "ksef-credentials login",
                              "managed": True, "declared": True, "certificate_type": "Authentication",
                              "status": "Active", "subject": "Nip:5265877635",
                              "valid_from": (NOW - 700 * DAY).isoformat(), "valid_to": (NOW + 20 * DAY).isoformat(),
                              "days_to_expiry": 20, "requested": (NOW - 701 * DAY).isoformat(), "last_used": None,
                              "stores": [], "findings": ["expiring", "store_missing"]}],
            "findings": [{"kind": "expiring", "severity": "warning", "name": "login", "serial_number": CERT_SERIAL,
                          "store": None, "message": "valid to ... (20 days)"},
                         {"kind": "store_missing", "severity": "error", "name": "login", "serial_number": None,
                          "store": "file:/etc/ksef/login.pem", "message": "file:/etc/ksef/login.pem holds nothing"}]}


def test_csv_has_a_row_per_certificate_next_to_the_tokens():
    report = r.build({"acme": scan()}, NOW.isoformat(), certificate_scans={"acme": certificate_scan()})
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(
        json.loads(r.to_json(report)))
    rows = list(csv.DictReader(io.StringIO(r.to_csv(report))))
    assert [row["credential"] for row in rows] == ["token"] * 3 + ["certificate"]
    cert = rows[-1]
    assert cert["serial_number"] == CERT_SERIAL and cert["reference_number"] == ""
    assert cert["environment"] == "test" and cert["host"] == "acme" and cert["context"] == "Nip:5265877635"
    assert cert["name"] == "login" and cert["certificate_name"] == "ksef-credentials login"
    assert cert["certificate_type"] == "Authentication" and cert["status"] == "Active"
    assert cert["days_to_expiry"] == "20" and cert["valid_to"] == (NOW + 20 * DAY).isoformat()
    assert cert["created"] == (NOW - 701 * DAY).isoformat() and cert["last_used"] == ""
    assert cert["findings"] == "expiring store_missing" and cert["permissions"] == ""
    token = rows[0]
    assert token["serial_number"] == "" and token["certificate_type"] == "" and token["permissions"]


def test_an_unchanged_report_keeps_the_times_of_the_one_already_written():
    first = r.build({"alpha": scan()}, "2025-10-01T12:00:00+00:00")
    written = r.to_json(first)
    later = r.build({"alpha": dict(scan(), scanned_at="2025-10-01T13:00:00+00:00")}, "2025-10-01T13:00:00+00:00")
    kept = r.keep_times(later, written)
    assert r.to_json(kept) == written and r.to_html(kept) == r.to_html(first)
    changed = r.build({"alpha": scan(hand_text="renamed by hand")}, "2025-10-01T13:00:00+00:00")
    assert r.keep_times(changed, written)["generated_at"] == "2025-10-01T13:00:00+00:00"
    assert r.keep_times(later, "not json") is later and r.keep_times(later, None) is later


def test_html_escapes_every_value_through_jinja2():
    hostile = r.build({"<b>host</b>": scan(hand_text="<script>alert(1)</script> & \"q\"")}, NOW.isoformat())
    page = r.to_html(hostile)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;q&#34;" in page
    assert "<b>host</b>" not in page and "&lt;b&gt;host&lt;/b&gt;" in page
    assert '<span class="badge unmanaged warning">Unmanaged</span>' in page  # the template's own markup stays


# -- permission grants (permission_info results) ---------------------------------------------------------------------

OFFICE_NIP = "1234563218"


def grant_scan():
    """A permission_info result, assembled the way the module does it: a declared office grant with canDelegate, a
    CredentialsManage row nobody declared, and a row System granted."""
    office = g.declare({"name": "office", "kind": "entity", "description": "Accounting office",
                        "subject": {"nip": OFFICE_NIP, "full_name": "Biuro Rachunkowe"},
                        "permissions": ["InvoiceRead"], "can_delegate": True})
    rows = [
        g.GrantRow("perm-office", "entity", "InvoiceRead", "Nip", OFFICE_NIP, office.full_description,
                   can_delegate=True, details=office.details, author=("Nip", "5265877635"),
                   context=("Nip", "5265877635"), created=NOW - 10 * DAY),
        g.GrantRow("perm-manager", "person", "CredentialsManage", "Pesel", "85011512342", "=HYPERLINK(\"x\")",
                   details=(("firstName", "Jan"), ("lastName", "Kowalski")), author=("Nip", "5265877635"),
                   context=("Nip", "5265877635"), created=NOW - 400 * DAY),
        g.GrantRow("perm-system", "person", "InvoiceRead", "Pesel", "90010112345", "ZAW-FA",
                   author=("System", None), context=("Nip", "5265877635"), created=NOW - 900 * DAY),
    ]
    found = gd.findings([office], rows, ("Nip", "5265877635"))
    found += d.token_auth_end([], NOW.date(), NOW, REF_A)  # about the login: the tokens' part of the report
    inventory = []
    for row in rows:
        entry = gd.row(row, {"office"})
        entry["findings"] = sorted({f.kind for f in found if f.reference == row.reference_number})
        inventory.append(entry)
    return {"changed": False, "grants": inventory, "findings": [f.as_dict() for f in found],
            "summary": {"grants": 3}, "token_auth_end": NOW.date().isoformat()}


def test_grants_of_each_company_in_json_csv_and_html():
    report = r.build({"acme": scan(), "beta": scan("7010000006")}, NOW.isoformat(),
                     grant_scans={"acme": grant_scan(), "beta": {"failed": True, "msg": "KSeF refused the login (450)"}})
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(
        json.loads(r.to_json(report)))
    acme, beta = report["contexts"]
    assert [g_["permission_id"] for g_ in acme["grants"]] == ["perm-office", "perm-manager", "perm-system"]
    assert {f["kind"]: f["severity"] for f in acme["grant_findings"]} == {
        "undeclared_manager": "error", "system_authored": "info"}
    assert acme["summary"]["grants"] == 3 and acme["summary"]["grant_errors"] == 1
    assert beta["grants"] == [] and beta["grant_error"] == "KSeF refused the login (450)"
    assert report["summary"]["grants"] == 3 and report["summary"]["grant_findings"]["system_authored"] == 1
    assert report["summary"]["grant_errors"] == 1

    rows = [row for row in csv.DictReader(io.StringIO(r.to_csv(report))) if row["credential"] == "grant"]
    assert [row["permission_id"] for row in rows] == ["perm-office", "perm-manager", "perm-system"]
    office, manager, system = rows
    assert office["name"] == "office" and office["managed"] == "true" and office["declared"] == "true"
    assert office["grant_kind"] == "entity" and office["can_delegate"] == "true"
    assert office["permissions"] == "InvoiceRead" and office["subject"] == "nip:%s (Biuro Rachunkowe)" % OFFICE_NIP
    assert office["author"] == "Nip:5265877635" and office["created"] == (NOW - 10 * DAY).isoformat()
    assert office["status"] == "Active" and office["host"] == "acme" and office["context"] == "Nip:5265877635"
    assert manager["managed"] == "false" and manager["findings"] == "undeclared_manager"
    assert manager["subject"] == "pesel:85011512342 (Jan Kowalski)"
    assert manager["description"] == "'=HYPERLINK(\"x\")"  # a formula defused
    assert system["author"] == "System" and system["findings"] == "system_authored"

    page = r.to_html(report)
    grants = page.split('<table id="grants"')[1].split("</table>")[0]
    assert grants.count("<tr class=\"grant") == 3 and 'data-permission-id="perm-manager"' in grants
    assert "KSeF refused the login (450)" in grants and "Since" in grants and "Granted by" in grants
    assert '<span class="badge undeclared_manager error">Undeclared manager</span>' in grants
    assert '<span class="badge system_authored info">System authored</span>' in grants


def test_the_headline_counts_cover_the_findings_of_every_kind():
    report = r.build({"acme": [scan(), grant_scan()]}, NOW.isoformat())
    (acme,) = report["contexts"]
    token_findings = len(acme["findings"])
    token_errors = sum(1 for f in acme["findings"] if f["severity"] == "error")
    for summary in (acme["summary"], report["summary"]):
        assert summary["grant_errors"] == 1
        assert summary["findings_total"] == token_findings + len(acme["grant_findings"])
        assert summary["errors"] == token_errors + 1
    page = r.to_html(report)
    assert 'id="count-errors">%d<' % report["summary"]["errors"] in page
    assert 'id="count-findings">%d<' % report["summary"]["findings_total"] in page
    assert page.count('class="finding error"') == report["summary"]["errors"]  # every error row, of every kind
    summary = page.split('<table id="summary"')[1].split("</table>")[0]
    assert ">Grant findings</th>" in summary and ">Certificate findings</th>" in summary
    assert '<td data-sort="2" class="count-error">2</td>' in summary  # acme's two grant findings, one an error


def test_a_report_of_grants_alone_needs_no_token_scan():
    report = r.build({"acme": grant_scan()}, NOW.isoformat())
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(
        json.loads(r.to_json(report)))
    (acme,) = report["contexts"]
    assert acme["error"] is None and acme["tokens"] == [] and len(acme["grants"]) == 3
    assert report["summary"]["errors"] == 1 and report["summary"]["findings_total"] == 2
    page = r.to_html(report)
    assert 'id="count-errors">1<' in page and "could not be scanned" not in page
    found = page.split('<table id="grant-findings"')[1].split("</table>")[0]
    assert found.count('<tr class="finding error" data-kind="undeclared_manager"') == 1
    assert found.count('<tr class="finding info" data-kind="system_authored"') == 1
    assert "token_auth_end" not in found and 'id="count-grants">3<' in page


def test_a_report_without_grant_scans_says_so():
    report = r.build({"acme": scan()}, NOW.isoformat())
    assert report["contexts"][0]["grants"] == [] and report["contexts"][0]["grant_error"] is None
    assert "No permission grants scanned." in r.to_html(report)
    assert all(row["credential"] != "grant" for row in csv.DictReader(io.StringIO(r.to_csv(report))))


# -- the report built from kinds: `scans` takes any info result ---------------------------------------------------


def _kinded(result, kind):
    return dict(result, kind=kind)


def test_scans_takes_results_of_any_kind_one_or_a_list_per_host():
    """Each result says its kind; a list per host gives the report the older options give."""
    older = r.build({"acme": scan(), "beta": scan("7010000006")}, NOW.isoformat(),
                    certificate_scans={"acme": certificate_scan()}, grant_scans={"beta": grant_scan()})
    listed = r.build({"acme": [_kinded(certificate_scan(), "certificate"), _kinded(scan(), "token")],
                      "beta": [_kinded(scan("7010000006"), "token"), _kinded(grant_scan(), "grant")]},
                     NOW.isoformat())
    assert listed == older
    assert r.to_csv(listed) == r.to_csv(older) and r.to_html(listed) == r.to_html(older)
    assert listed["title"] == "KSeF credential audit"


def test_a_result_without_kind_is_told_by_its_rows_and_a_failed_one_fails_the_company():
    report = r.build({"acme": [certificate_scan(), grant_scan()],  # results of an older collection: no `kind`
                      "beta": [_kinded(scan("7010000006"), "token"), {"failed": True, "msg": "login refused"}],
                      "gamma": {}, "delta": []},
                     NOW.isoformat())
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(
        json.loads(r.to_json(report)))
    by_host = {c["host"]: c for c in report["contexts"]}
    acme, beta, gamma = by_host["acme"], by_host["beta"], by_host["gamma"]
    assert [c["serial_number"] for c in acme["certificates"]] == [CERT_SERIAL] and len(acme["grants"]) == 3
    assert acme["error"] is None and acme["tokens"] == [] and acme["summary"]["certificates"] == 1
    assert beta["error"] == "login refused" and len(beta["tokens"]) == 3  # what was scanned is still listed
    assert gamma["error"] == by_host["delta"]["error"] == "no info result for this host"
    assert report["summary"]["contexts_failed"] == 3 and report["summary"]["certificates"] == 1
    assert report["summary"]["tokens"] == 3 and report["summary"]["grants"] == 3


def test_two_results_of_one_kind_for_a_host_are_one_part():
    report = r.build({"acme": [_kinded(certificate_scan(), "certificate"),
                               {"kind": "certificate", "failed": True, "msg": "second subject refused"},
                               _kinded(dict(certificate_scan(), findings=[]), "certificate")]}, NOW.isoformat())
    acme = report["contexts"][0]
    assert len(acme["certificates"]) == 2 and len(acme["certificate_findings"]) == 2
    assert acme["certificate_error"] == "second subject refused" and acme["error"] is None
    assert acme["summary"]["certificate_findings"]["expiring"] == 1 and acme["summary"]["certificate_errors"] == 1


def test_every_kind_has_its_part_in_the_schema_and_its_section_in_the_page():
    """docs/report.schema.json describes what each kind's audit puts in a company, and its counts are the kinds of
    findings of its catalogue."""
    defs = SCHEMA["$defs"]
    context = defs["context"]["properties"]
    summary = defs["context_summary"]["properties"]
    for audit in r.AUDITS:
        row, finding, counts = audit.schema_defs
        assert context[audit.items_key]["items"] == {"$ref": "#/$defs/%s" % row}
        assert context[audit.findings_key]["items"] == {"$ref": "#/$defs/%s" % finding}
        assert audit.error_key in context and all(key in context for key in audit.extra_keys)
        assert list(defs[counts]["properties"]) == list(audit.catalogue.order)
        assert audit.catalogue.id_key in defs[finding]["properties"]
        assert set(audit.counts(r.Part([], []))) <= set(summary) <= set(defs["summary"]["properties"])
        assert audit.html.startswith(("{% macro", "<h2>"))
    page = r.to_html(r.build({}, NOW.isoformat()))
    for audit in r.AUDITS:
        assert 'id="count-%s">0<' % audit.items_key in page


@pytest.mark.parametrize(
    ("option", "given", "many", "named", "got"),
    [
        ("scans", {"c1": [42]}, True, "scans.c1[0]", "got a number"),
        ("scans", {"c1": [{}, "hello"]}, True, "scans.c1[1]", "got a string"),
        ("scans", {"junk": "hello"}, True, "scans.junk", "or a list of them, got a string"),
        ("scans", [1, 2], True, "scans", "must be a dict of host -> "),
        ("certificate_scans", {"c1": [{}]}, False, "certificate_scans.c1", "got a list"),
    ],
)
def test_a_scans_entry_that_is_no_info_result_is_refused_by_its_place(option, given, many, named, got):
    with pytest.raises(KsefConfigError) as caught:
        r.check_scans(option, given, many)
    assert caught.value.option == named
    assert caught.value.message.startswith(named + " must be ") and got in caught.value.message
    assert "registered result" in caught.value.message and "hello" not in caught.value.message


def test_registered_results_skipped_ones_and_hosts_without_one_pass():
    r.check_scans("scans", {"c1": [{"kind": "token", "tokens": []}, None], "c2": {}, "c3": None})
    r.check_scans("grant_scans", {"c1": {"skipped": True}}, many=False)
    r.check_scans("grant_scans", None, many=False)


def test_the_page_names_an_api_url_once_when_it_is_the_environments_name_too():
    emulator = "http://127.0.0.1:8080/v2"
    named_by_url = r.build({"acme": dict(scan(), api_url=emulator)}, NOW.isoformat())
    assert named_by_url["environment"] == emulator
    page = r.to_html(named_by_url)
    assert 'id="environment">%s</b>' % emulator in page and 'id="api-urls"' not in page
    named = r.build({"acme": scan()}, NOW.isoformat(), environment="staging")
    assert 'id="api-urls">https://api-test.ksef.mf.gov.pl/v2<' in r.to_html(named)
