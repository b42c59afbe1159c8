"""docs/examples/environments/: one company in TEST, DEMO and PROD (one inventory host per company per environment),
run as written against three emulators, one per environment, through the ksef.credentials.tokens role: the manager
tokens come from host_vars/<host>/vault.yml (ansible-vault encrypted values, loaded by Ansible), the auditors'
token survives `ksef_tokens_exclusive: managed` because it is declared, and the auditors' runs (audit.yml,
audit-certificates.yml) log in with it, without the DevOps vault password, and write one report of every
environment. The YAML blocks of docs/role-tokens.md and docs/audit.md that name an example file are that file."""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from ansible.parsing.vault import VaultLib, VaultSecret

from tests.conftest import COLLECTIONS, OUTPUT, REPO, WORKER, Emulator, free_port
# browser: the headless Chromium fixture of the audit report's test, shared by import.
from tests.integration.test_audit_report import SCHEMA, browser  # noqa: F401  pylint: disable=unused-import

pytestmark = pytest.mark.integration

EXAMPLE = REPO / "docs" / "examples" / "environments"
ENVIRONMENTS = ("test", "demo", "prod")
HOSTS = {env: f"acme-{env}" for env in ENVIRONMENTS}
NIP = "5265877635"  # the example's company; every environment is an emulator of its own, as KSeF's are
MANAGER_PERMISSIONS = ["CredentialsManage", "CredentialsRead", "InvoiceRead", "InvoiceWrite"]
DOCS = (REPO / "docs" / "role-tokens.md", REPO / "docs" / "audit.md")


def _ansible(tool: str, *args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", KSEF_RATE_LIMITS="te",
               KSEF_RATELIMIT_DIR=str(cwd / "ratelimit"), KSEF_LOCK_DIR=str(cwd / "locks"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([str(Path(sys.executable).parent / tool), *args], input=stdin, capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300, check=False)


class World:
    """The example copied as it is, three emulators, and what a real team adds: the vault files and passwords."""

    def __init__(self, base: Path):
        self.base = base
        self.emulators: dict[str, Emulator] = {}
        self.example = base / "environments"
        shutil.copytree(EXAMPLE, self.example)
        self.devops_pass = base / "devops.pass"
        self.devops_pass.write_text("devops vault password\n")
        self.audit_pass = base / "audit.pass"
        self.audit_pass.write_text("auditors' vault password\n")
        self.managers: dict[str, dict] = {}
        self.report_dir = base / "report"
        self.certificate_report_dir = base / "report-certificates"

    def start(self) -> None:
        for env in ENVIRONMENTS:
            state = self.base / f"emulator-{env}"
            state.mkdir()
            emulator = Emulator(port=free_port(), state_dir=state,
                                log_path=OUTPUT / f"emulator-{WORKER}-environments-{env}.log",
                                args=["--rate-limits", "te", "--activation-delay", "0.3", "--auth-delay", "0"])
            self.emulators[env] = emulator.start()
            seeded = emulator.admin("POST", "tokens", json={"context": f"Nip:{NIP}", "permissions": MANAGER_PERMISSIONS,
                                                            "description": "bootstrap", "status": "Active"})
            seeded.raise_for_status()
            self.managers[env] = seeded.json()
            self.write_vault(env, seeded.json()["token"])
        # What stands for KSeF here: each environment group points at its emulator. ksef_api_url wins over the
        # ksef_environment of group_vars, and ksef_report_environment names the environment the emulator plays.
        overlay = {env: {"vars": {"ksef_api_url": self.emulators[env].api_url, "ksef_report_environment": env}}
                   for env in ENVIRONMENTS}
        self.overlay = self.base / "emulators.yml"
        self.overlay.write_text(json.dumps(overlay))  # JSON is YAML

    def write_vault(self, env: str, token: str) -> None:
        """host_vars/acme-ENV/vault.yml: an encrypted value, as `ansible-vault encrypt_string` makes it. TEST's is made
        by that command (the value from stdin, as role-tokens.md shows); the others in-process, to save two runs."""
        if env == "test":
            made = _ansible("ansible-vault", "encrypt_string", "--vault-id", f"devops@{self.devops_pass}",
                            "--stdin-name", "vault_ksef_manager_token", cwd=self.base, stdin=token)
            assert made.returncode == 0, made.stderr
            text = made.stdout
        else:
            devops = VaultLib([("devops", VaultSecret(self.devops_pass.read_bytes().strip()))])
            lines = devops.encrypt(token, vault_id="devops").decode().splitlines()
            text = "vault_ksef_manager_token: !vault |\n" + "".join(f"          {line}\n" for line in lines)
        assert token not in text and "!vault" in text
        (self.example / "inventory" / "host_vars" / HOSTS[env] / "vault.yml").write_text("---\n" + text)

    def stop(self) -> None:
        for emulator in self.emulators.values():
            emulator.stop()

    def playbook(self, name: str, *args: str, vault: Path) -> subprocess.CompletedProcess:
        extra = {"secrets_dir": str(self.base / "etc-ksef"), "audit_tokens_dir": str(self.base / "audit-tokens"),
                 "audit_vault_password_file": str(self.audit_pass)}
        label = "devops" if vault == self.devops_pass else "audit"
        return _ansible("ansible-playbook", name, "-i", "inventory", "-i", str(self.overlay),
                        "--vault-id", f"{label}@{vault}", "-e", json.dumps(extra), *args, cwd=self.example)

    def tokens(self, env: str) -> dict:
        """reference number -> each live (Pending or Active) token of acme in that environment."""
        listed = self.emulators[env].admin("GET", "tokens", params={"context": f"Nip:{NIP}"})
        listed.raise_for_status()
        body = listed.json()
        items = body["tokens"] if isinstance(body, dict) else body
        return {t["referenceNumber"]: t for t in items if t["status"] in ("Pending", "Active")}

    def secrets(self) -> list[str]:
        found = [m["token"] for m in self.managers.values()]
        for path in (self.base / "etc-ksef").rglob("*.token"):
            found.append(path.read_text().strip())
        auditors = VaultLib([("audit", VaultSecret(self.audit_pass.read_bytes().strip()))])
        for path in (self.base / "audit-tokens").glob("*.token"):
            found.append(auditors.decrypt(path.read_bytes()).decode().strip())
        assert len(found) == 9 and all(value.count("|") == 2 for value in found)
        return found


def _recap(stdout: str) -> dict:
    recap = stdout[stdout.index("PLAY RECAP"):]
    return {m.group(1): (int(m.group(3)), int(m.group(4))) for m in
            re.finditer(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", recap, re.M)}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Converge twice, then both audits in check mode; module scope so the checks below share the runs."""
    world = World(tmp_path_factory.mktemp("environments"))
    try:
        world.start()
        world.first = world.playbook("site.yml", "-f", "3", vault=world.devops_pass)
        world.after_first = {env: world.tokens(env) for env in ENVIRONMENTS}
        world.second = world.playbook("site.yml", "-f", "3", vault=world.devops_pass)
        world.audit = world.playbook("audit.yml", "--check", "-f", "3", "-e", f"ksef_report_dir={world.report_dir}",
                                     "-e", "ksef_report_unused_after=30d", vault=world.audit_pass)
        world.audit_certificates = world.playbook("audit-certificates.yml", "--check", "-f", "3", "-e",
                                                  f"report_dir={world.certificate_report_dir}", vault=world.audit_pass)
        world.after_audit = {env: world.tokens(env) for env in ENVIRONMENTS}
        yield world
    finally:
        world.stop()


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return proc.stdout


def test_every_environment_converges_from_its_own_vault_file_and_a_rerun_changes_nothing(world):
    first, second = _recap(_ok(world.first)), _recap(_ok(world.second))
    assert set(first) == set(second) == set(HOSTS.values())
    assert all(changed == 2 and failed == 0 for changed, failed in first.values()), first  # folders, tokens
    assert all(changed == 0 and failed == 0 for changed, failed in second.values()), second
    for env in ENVIRONMENTS:
        names = sorted(t["description"] for t in world.after_first[env].values())
        assert names == ["Audit (read-only) [ksef.credentials:auditor]", "ERP invoice sender [ksef.credentials:erp-sender]",
                         "bootstrap"], (env, names)
        # Each host wrote its own files: the TEST token is not the DEMO one.
        held = (world.base / "etc-ksef" / HOSTS[env] / "erp-sender.token").read_text()
        assert held.split("|")[0] in world.after_first[env]
        assert (world.base / "audit-tokens" / f"{HOSTS[env]}.token").read_text().startswith("$ANSIBLE_VAULT;")
    held = {(world.base / "etc-ksef" / HOSTS[env] / "erp-sender.token").read_text() for env in ENVIRONMENTS}
    assert len(held) == 3


def test_the_auditors_token_survives_exclusive_managed_and_the_audits_change_nothing(world):
    _ok(world.audit)
    _ok(world.audit_certificates)
    for env in ENVIRONMENTS:
        # exclusive: managed ran twice and the audits ran: the same tokens, the auditors' included, are live.
        assert world.after_audit[env].keys() == world.after_first[env].keys()
        stats = world.emulators[env].stats()["by_context"][f"Nip:{NIP}"]
        assert not any(op.startswith("DELETE /tokens/") for op in stats), stats
    for proc in (world.first, world.second, world.audit, world.audit_certificates):
        for secret in world.secrets():
            assert secret.split("|")[-1] not in proc.stdout + proc.stderr


def test_one_report_of_every_environment(world):
    document = json.loads((world.report_dir / "report.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)
    assert document["environments"] == list(ENVIRONMENTS) and document["environment"] == "test, demo, prod"
    assert [(c["environment"], c["host"]) for c in document["contexts"]] == [(e, HOSTS[e]) for e in ENVIRONMENTS]
    for ctx in document["contexts"]:
        env = ctx["environment"]
        assert ctx["error"] is None and ctx["api_url"] == world.emulators[env].api_url
        by_name = {t["name"]: t for t in ctx["tokens"]}
        assert by_name["auditor"]["declared"] is True and by_name["auditor"]["last_used"] is not None
        assert by_name["erp-sender"]["stores"] == [f"file:{world.base}/etc-ksef/{HOSTS[env]}/erp-sender.token"]
        # Declared, so no extra_managed; the store holds the current token; only the bootstrap token is unmanaged.
        # Beside the end of token authentication, which every live token shows (test date: 2099-12-31, info).
        assert {f["kind"] for f in ctx["findings"]} == {"unmanaged", "token_auth_end"}, ctx["findings"]
    with open(world.report_dir / "report.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted({(r["environment"], r["host"]) for r in rows}) == sorted((e, HOSTS[e]) for e in ENVIRONMENTS)

    both = json.loads((world.certificate_report_dir / "report.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(both)
    assert both["environments"] == list(ENVIRONMENTS)
    assert all(c["certificate_error"] is None and c["error"] is None for c in both["contexts"])
    # The grants of each company were scanned with the auditors' CredentialsRead token.
    assert all(c["grant_error"] is None for c in both["contexts"]), [c["grant_error"] for c in both["contexts"]]
    assert (world.certificate_report_dir / "report.html").is_file()


def test_the_environment_filter_in_headless_chromium(world, browser):  # noqa: F811 - the imported fixture
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    browser.set_window_size(1400, 1000)
    browser.get((world.report_dir / "report.html").as_uri())

    def visible(table: str) -> list[str]:
        rows = browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr[data-environment]")
        return [r.get_attribute("data-environment") for r in rows if r.is_displayed()]

    assert visible("summary") == list(ENVIRONMENTS)
    Select(browser.find_element(By.ID, "environment-filter")).select_by_value("demo")
    assert visible("summary") == ["demo"] and set(visible("tokens")) == {"demo"} and len(visible("tokens")) == 3
    assert set(visible("findings")) == {"demo"} and set(visible("declared")) == {"demo"}
    assert not browser.find_element(By.CSS_SELECTOR, "#summary tfoot").is_displayed()
    Select(browser.find_element(By.ID, "environment-filter")).select_by_value("")
    assert visible("summary") == list(ENVIRONMENTS) and len(visible("tokens")) == 9
    width = browser.execute_script("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], width


def _named_blocks(doc: Path):
    """The ```yaml blocks of a guide whose first line names an example file: `# docs/examples/...` (the whole file)
    or `# excerpt of docs/examples/...` (lines of it, as they are)."""
    for block in re.findall(r"```yaml\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
        first, rest = block.split("\n", 1)
        if first.startswith("# docs/examples/"):
            yield first[2:], block, False
        elif first.startswith("# excerpt of docs/examples/"):
            yield first[len("# excerpt of "):], rest, True


def test_the_guides_show_the_example_files_as_they_are():
    shown = {}
    for doc in DOCS:
        for path, block, excerpt in _named_blocks(doc):
            text = (REPO / path).read_text(encoding="utf-8")
            if excerpt:
                assert block in text and block.endswith("\n"), f"{doc.name} shows lines {path} does not have"
            else:
                assert text.removeprefix("---\n") == block, f"{doc.name} shows {path} differently from the file"
                shown[path] = doc.name
    names = {str(p.relative_to(REPO)) for p in EXAMPLE.rglob("*.yml")}
    assert names <= set(shown), f"example files no guide shows whole: {sorted(names - set(shown))}"
    assert len([b for doc in DOCS for b in _named_blocks(doc) if b[2]]) >= 2  # the excerpts were found
