"""The audit report over an inventory of several companies: JSON against its schema, CSV, and the HTML page
rendered in headless Chromium (DOM checks: summary counts, highlighted findings, sorting by a header click)."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._identity import compose
from ksef_emulator.testcerts import random_nip, random_pesel
from tests.integration.test_token_info import ALL_KINDS, ENV, AuditedCompany

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = Path(__file__).parent / "playbooks" / "audit" / "report.yml"
SCHEMA = json.loads((REPO / "docs" / "report.schema.json").read_text())
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ERROR_BACKGROUND = "rgba(253, 228, 226, 1)"  # --bad-bg of the page


@pytest.fixture(scope="module")
def audit(emulator, tmp_path_factory):
    """Three companies with every finding kind, one company whose auditor token was revoked, one run."""
    base = tmp_path_factory.mktemp("audit")
    companies = {f"company-{i}": AuditedCompany(emulator, base / f"stores-{i}") for i in (1, 2, 3)}
    broken = AuditedCompany(emulator, base / "stores-4")
    for company in companies.values():
        _seed_grants(emulator, company)
    return base, companies, broken


def _seed_grants(emulator, company):
    """Three rows in force in the company's context: its accounting office's entity grant with canDelegate, made by
    the collection and declared (company.grants); an administrator's CredentialsManage nobody declared (an error);
    and a row ZAW-FA made (System: information)."""
    company.office, company.admin, company.zaw_user = random_nip(), random_pesel(), random_pesel()
    company.grants = [{"name": "office", "kind": "entity", "description": "Accounting office",
                       "subject": {"nip": company.office, "full_name": "Biuro Rachunkowe"},
                       "permissions": ["InvoiceRead"], "can_delegate": True}]
    for body in (
        {"kind": "entity", "subject": f"Nip:{company.office}", "permissions": ["InvoiceRead"], "can_delegate": True,
         "author": f"Nip:{company.nip}", "description": compose("office", "Accounting office"),
         "subject_details": {"subjectDetailsType": "EntityByIdentifier", "fullName": "Biuro Rachunkowe"}},
        {"subject": f"Pesel:{company.admin}", "permissions": ["CredentialsManage"], "author": f"Nip:{company.nip}",
         "description": "Granted in the web app"},
        {"subject": f"Pesel:{company.zaw_user}", "permissions": ["InvoiceWrite"], "author": "System",
         "description": "Granted through ZAW-FA"},
    ):
        emulator.admin("POST", "permissions/grants", json={"context": f"Nip:{company.nip}", **body}).raise_for_status()


def _inventory(base: Path, companies: dict, broken: AuditedCompany, report_dir: Path) -> Path:
    hosts = {}
    for host, company in {**companies, "company-4-revoked": broken}.items():
        hosts[host] = {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "ksef_api_url": company.emulator.api_url, "ksef_context": {"nip": company.nip},
            "ksef_auth": {"ksef_token": company.auditor["token"]}, "ksef_tokens": company.declared,
            "ksef_grants": getattr(company, "grants", []),
        }
    group_vars = {"ksef_report_dir": str(report_dir), "ksef_report_unused_after": "30d"}
    inventory = {"all": {"hosts": hosts, "vars": group_vars}}
    path = base / "inventory.yml"
    path.write_text(json.dumps(inventory))  # JSON is YAML
    return path


@pytest.fixture(scope="module")
def reports(audit, emulator):
    """Run the auditors' playbook once in check mode (module scope: the browser tests share the output)."""
    base, companies, broken = audit
    report_dir = base / "reports"
    # The fourth company's auditor token is revoked: its scan fails and the report says so.
    _revoke(emulator, broken)
    inventory = _inventory(base, companies, broken, report_dir)
    before = {c.nip: c.mutations() for c in companies.values()}
    env = dict(os.environ, **ENV, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"), ANSIBLE_NOCOLOR="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(PLAYBOOK), "-i", str(inventory),
                           "--check"], capture_output=True, text=True, env=env, cwd=base, timeout=300, check=False)
    return {"dir": report_dir, "proc": proc, "companies": companies, "broken": broken, "before": before}


def _revoke(emulator, company):
    """Revoke the company's auditor token through the API, logged in with its own (still active) token."""
    from ansible_collections.ksef.credentials.plugins.module_utils._auth import Authenticator
    from ansible_collections.ksef.credentials.plugins.module_utils._connection import KsefContext
    from ansible_collections.ksef.credentials.plugins.module_utils._http import KsefHttp
    http = KsefHttp(emulator.api_url)
    session = Authenticator(http).login_with_ksef_token(KsefContext("Nip", company.nip), company.auditor["token"])
    emulator.api("DELETE", f"tokens/{company.auditor['referenceNumber']}",
                 headers={"Authorization": f"Bearer {session.bearer()}"}).raise_for_status()


def test_run_fails_only_the_company_that_could_not_be_scanned(reports):
    proc = reports["proc"]
    assert proc.returncode == 2, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert "company-4-revoked" in proc.stdout and "could not be scanned" in proc.stdout
    recap = proc.stdout[proc.stdout.index("PLAY RECAP"):]
    for host in ("company-1", "company-2", "company-3"):
        line = next(line for line in recap.splitlines() if line.startswith(host))
        assert "failed=0" in line
    for company in reports["companies"].values():
        assert company.mutations() == reports["before"][company.nip]


def test_json_report_validates_and_every_company_has_every_finding(reports):
    document = json.loads((reports["dir"] / "report.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)
    by_host = {c["host"]: c for c in document["contexts"]}
    assert set(by_host) == {"company-1", "company-2", "company-3", "company-4-revoked"}
    for host, company in reports["companies"].items():
        entry = by_host[host]
        assert entry["error"] is None and entry["context"] == {"type": "Nip", "value": company.nip}
        assert {f["kind"] for f in entry["findings"]} == ALL_KINDS
        assert all(entry["summary"]["findings"][kind] >= 1 for kind in ALL_KINDS)
        assert entry["summary"]["tokens"] == 5  # live tokens only: the revoked archiver is left out
    assert by_host["company-4-revoked"]["error"] and by_host["company-4-revoked"]["tokens"] == []
    assert document["summary"]["contexts"] == 4 and document["summary"]["contexts_failed"] == 1
    # An emulator is no public environment: the report names it by its URL.
    api_url = reports["companies"]["company-1"].emulator.api_url
    assert document["environment"] == api_url and document["environments"] == [api_url]
    assert {c["environment"] for c in document["contexts"]} == {api_url}


def test_csv_has_one_row_per_token(reports):
    with open(reports["dir"] / "report.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 15 and {r["credential"] for r in rows} == {"token"}
    company = reports["companies"]["company-2"]
    row = next(r for r in rows if r["reference_number"] == company.erp["referenceNumber"])
    assert row["host"] == "company-2" and row["name"] == "erp-sender" and row["rotation_due"] == "true"
    assert set(row["findings"].split()) == {"rotation_overdue", "store_missing", "unused", "token_auth_end"}
    assert row["stores"].endswith("erp.token")


def test_grants_of_each_company_with_their_findings(reports):
    document = json.loads((reports["dir"] / "grants" / "report.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)
    by_host = {c["host"]: c for c in document["contexts"]}
    assert set(by_host) == {"company-1", "company-2", "company-3", "company-4-revoked"}
    for host, company in reports["companies"].items():
        entry = by_host[host]
        assert entry["grant_error"] is None
        grants = {g["permission"]: g for g in entry["grants"]}
        assert set(grants) == {"InvoiceRead", "CredentialsManage", "InvoiceWrite"}, entry["grants"]
        office, admin, zaw = grants["InvoiceRead"], grants["CredentialsManage"], grants["InvoiceWrite"]
        assert office["subject"]["nip"] == company.office and office["kind"] == "entity" and office["can_delegate"]
        assert office["name"] == "office" and office["managed"] and office["declared"] and office["findings"] == []
        assert office["author"] == f"Nip:{company.nip}" and office["start_date"]
        assert admin["subject"] == {"pesel": company.admin} and not admin["managed"]
        assert admin["findings"] == ["undeclared_manager"] and zaw["author"] == "System"
        assert zaw["findings"] == ["system_authored"]
        assert {(f["kind"], f["severity"], f["permission_id"]) for f in entry["grant_findings"]} == {
            ("undeclared_manager", "error", admin["permission_id"]), ("system_authored", "info", zaw["permission_id"])}
    assert by_host["company-4-revoked"]["grants"] == [] and by_host["company-4-revoked"]["grant_error"]
    assert document["summary"]["grants"] == 9 and document["summary"]["grant_errors"] == 3
    with open(reports["dir"] / "grants" / "report.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["credential"] == "grant"]
    company = reports["companies"]["company-2"]
    office = next(row for row in rows if row["host"] == "company-2" and row["grant_kind"] == "entity")
    assert len(rows) == 9 and office["subject"] == f"nip:{company.office} (Biuro Rachunkowe)"
    assert office["can_delegate"] == "true" and office["permissions"] == "InvoiceRead" and office["managed"] == "true"
    assert office["author"] == f"Nip:{company.nip}" and office["status"] == "Active" and office["created"]
    # The report of the tokens alone has no grant in it.
    assert json.loads((reports["dir"] / "report.json").read_text())["summary"]["grants"] == 0


def test_scans_takes_a_list_of_results_of_any_kind_per_host(reports):
    """`scans` with each host's token_info and permission_info results gives the report of the older spelling
    (grant_scans); a failed result says no kind, so it is the company's error."""
    older = json.loads((reports["dir"] / "grants" / "report.json").read_text())
    document = json.loads((reports["dir"] / "any" / "report.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)
    assert document["title"] == "KSeF credential audit"
    old, new = ({c["host"]: c for c in report["contexts"]} for report in (older, document))
    for host in reports["companies"]:
        assert new[host] == old[host]
    broken_old, broken_new = old["company-4-revoked"], new["company-4-revoked"]
    assert broken_old["grant_error"] and broken_new["grant_error"] is None
    assert broken_new["error"].startswith(broken_old["error"]) and broken_old["grant_error"] in broken_new["error"]
    assert (reports["dir"] / "any" / "report.csv").read_text() == (reports["dir"] / "grants" / "report.csv").read_text()


def test_a_report_of_the_grants_alone_needs_no_token_scan(reports):
    document = json.loads((reports["dir"] / "grants-only" / "report.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)
    with_tokens = {c["host"]: c for c in json.loads((reports["dir"] / "grants" / "report.json").read_text())["contexts"]}
    for entry in document["contexts"]:
        assert entry["tokens"] == [] and entry["grants"] == with_tokens[entry["host"]]["grants"]
        assert (entry["error"] is None) == (entry["host"] != "company-4-revoked")  # its login was refused
    summary = document["summary"]
    assert (summary["tokens"], summary["grants"], summary["grant_errors"]) == (0, 9, 3)
    assert summary["errors"] == 3 and summary["findings_total"] == sum(summary["grant_findings"].values()) == 6


def test_no_token_value_in_any_report_or_output(reports):
    texts = [(reports["dir"] / name).read_text() for name in ("report.json", "report.csv", "report.html")]
    texts += [(reports["dir"] / "grants" / name).read_text() for name in ("report.json", "report.csv", "report.html")]
    texts += [reports["proc"].stdout, reports["proc"].stderr]
    for company in [*reports["companies"].values(), reports["broken"]]:
        for secret in company.secrets():
            assert all(secret.split("|")[-1] not in text for text in texts)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("chromium and chromium-driver are not installed (scripts/system_deps.sh installs them)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (requirements-dev.txt)")
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1600,1400", f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def test_the_headline_of_the_report_with_grants_counts_every_kinds_findings(reports, browser):
    from selenium.webdriver.common.by import By
    browser.get((reports["dir"] / "grants" / "report.html").as_uri())
    document = json.loads((reports["dir"] / "grants" / "report.json").read_text())
    summary = document["summary"]
    assert summary["grant_errors"] == 3 and summary["errors"] == sum(
        1 for c in document["contexts"] for f in c["findings"] if f["severity"] == "error") + 3
    assert browser.find_element(By.ID, "count-errors").text == str(summary["errors"])
    assert browser.find_element(By.ID, "count-findings").text == str(summary["findings_total"])
    assert summary["findings_total"] == sum(
        len(c["findings"]) + len(c["certificate_findings"]) + len(c["grant_findings"]) for c in document["contexts"])
    errors = browser.find_elements(By.CSS_SELECTOR, "#findings tr.finding.error, #grant-findings tr.finding.error")
    assert len(errors) == summary["errors"]
    by_host = {c["host"]: c for c in document["contexts"]}
    hosts = [td.text.split("\n")[0] for td in browser.find_elements(By.CSS_SELECTOR, "#summary tbody td.host")]
    grant_counts = _column(browser, "summary", "Grant findings")
    assert grant_counts == [str(len(by_host[host]["grant_findings"])) for host in hosts]
    assert _column(browser, "summary", "Findings") == [str(by_host[host]["summary"]["findings_total"]) for host in hosts]


def _column(driver, table_id: str, header: str) -> list[str]:
    from selenium.webdriver.common.by import By
    heads = [th.text.strip() for th in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} thead th")]
    index = heads.index(header) + 1
    return [td.text.strip() for td in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr td:nth-child({index})")]


def test_html_report_in_headless_chromium(reports, browser, output_dir):
    from selenium.webdriver.common.by import By
    page = reports["dir"] / "report.html"
    browser.get(page.as_uri())
    document = json.loads((reports["dir"] / "report.json").read_text())

    # Summary: counts, scan time and environment.
    assert browser.find_element(By.ID, "count-contexts").text == "4"
    assert browser.find_element(By.ID, "count-tokens").text == "15"
    assert browser.find_element(By.ID, "count-findings").text == str(document["summary"]["findings_total"])
    assert browser.find_element(By.ID, "environment").text == document["environment"]
    assert browser.find_element(By.ID, "generated-at").get_attribute("datetime") == document["generated_at"]
    companies = browser.find_elements(By.CSS_SELECTOR, "#summary tbody tr.company")
    assert len(companies) == 4 and all("has-findings" in row.get_attribute("class") for row in companies)
    missing_counts = _column(browser, "summary", "Missing")
    assert missing_counts.count("1") == 3 and missing_counts.count("0") == 1
    assert browser.find_element(By.CSS_SELECTOR, "#summary td.scan-error").text.startswith("KSeF")

    # Findings are highlighted: error rows on the error background, counts of errors in red cells.
    errors = browser.find_elements(By.CSS_SELECTOR, "#findings tbody tr.finding.error")
    assert len(errors) == document["summary"]["errors"]
    assert errors[0].find_element(By.CSS_SELECTOR, "td").value_of_css_property("background-color") == ERROR_BACKGROUND
    assert browser.find_elements(By.CSS_SELECTOR, "#summary td.count-error")
    erp = reports["companies"]["company-1"].erp["referenceNumber"]
    erp_row = browser.find_element(By.CSS_SELECTOR, f'#tokens tr[data-ref="{erp}"]')
    assert "has-findings" in erp_row.get_attribute("class")
    assert "Rotation overdue" in erp_row.text

    # Sorting by clicking a header: ascending, then descending, on numbers.
    header = next(th for th in browser.find_elements(By.CSS_SELECTOR, "#tokens thead th") if th.text.startswith("Age"))
    header.click()
    ages = [int(v) for v in _column(browser, "tokens", header.text.strip())]
    assert ages == sorted(ages) and ages[0] < ages[-1]
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    ages = [int(v) for v in _column(browser, "tokens", header.text.strip())]
    assert ages == sorted(ages, reverse=True)
    # ... and on text: the name column.
    name_header = next(th for th in browser.find_elements(By.CSS_SELECTOR, "#tokens thead th") if th.text.strip() == "Name")
    name_header.click()
    names = [n.lower() for n in _column(browser, "tokens", "Name")]
    assert names == sorted(names)

    # Every table fits a 1400 px window: nothing scrolls sideways.
    browser.set_window_size(1400, 1000)
    widths = browser.execute_script(
        "return {page: document.documentElement.scrollWidth, window: document.documentElement.clientWidth,"
        " tables: Array.from(document.querySelectorAll('table')).map(t => [t.id, t.getBoundingClientRect().right])}")
    assert widths["window"] > 1300 and widths["page"] <= widths["window"], widths
    assert all(table[1] <= widths["window"] for table in widths["tables"]), widths
    browser.set_window_size(1600, 1400)

    # The report with the grants: who holds what in each company, an undeclared manager on the error background,
    # and it still fits a 1400 px window.
    grants_page = reports["dir"] / "grants" / "report.html"
    browser.get(grants_page.as_uri())
    grants = json.loads((reports["dir"] / "grants" / "report.json").read_text())
    assert browser.find_element(By.ID, "count-grants").text == "9"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#grants tbody tr.grant")) == 9
    admin = next(g for g in grants["contexts"][0]["grants"] if g["permission"] == "CredentialsManage")
    admin_row = browser.find_element(By.CSS_SELECTOR, f'#grants tr[data-permission-id="{admin["permission_id"]}"]')
    assert "Undeclared manager" in admin_row.text and admin_row.find_element(
        By.CSS_SELECTOR, "td").value_of_css_property("background-color") == ERROR_BACKGROUND
    assert sorted(_column(browser, "grants", "Granted by")).count("System") == 3
    assert browser.find_element(By.CSS_SELECTOR, "#grants td.scan-error").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#grant-findings tbody tr.finding.error")) == 3
    assert len(browser.find_elements(By.CSS_SELECTOR, "#grant-findings tbody tr.finding.info")) == 3
    browser.set_window_size(1400, 1000)
    widths = browser.execute_script(
        "return {page: document.documentElement.scrollWidth, window: document.documentElement.clientWidth,"
        " tables: Array.from(document.querySelectorAll('table')).map(t => [t.id, t.getBoundingClientRect().right])}")
    assert widths["window"] > 1300 and widths["page"] <= widths["window"], widths
    assert all(table[1] <= widths["window"] for table in widths["tables"]), widths
    browser.set_window_size(1600, 1400)
    browser.execute_script("document.getElementById('grants').scrollIntoView()")
    shot = output_dir / "audit-report-grants.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10000
    browser.get(page.as_uri())

    # Back to the order of seriousness for the picture: sort findings by severity.
    next(th for th in browser.find_elements(By.CSS_SELECTOR, "#findings thead th") if th.text.startswith("Severity")).click()
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1600, min(max(height + 40, 900), 6000))
    browser.execute_script("window.scrollTo(0, 0)")
    shot = output_dir / "audit-report.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10000
    copy = output_dir / "audit-report.html"
    shutil.copyfile(page, copy)
