"""docs/migration.md: from token logins to certificate logins, run as written against the shared emulator.

The example (docs/examples/migration/) is copied as it is; the test adds only what a real company has: the
emulator's URL, its own NIP and PESEL (the shared emulator serves many tests), the qualified certificates (self-signed,
as TEST accepts them), the manager token in host_vars/acme/vault.yml and the ERP's token. The inventory edits of
steps 4 and 6 are the ones the guide shows, made in the order shown; step 6 writes the audit report. The end of
token authentication is 20 days from today, so every token login and token is a warning whatever the date of the
run."""
from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._identity import compose
from ksef_emulator.testcerts import generate_certificate, random_nip, random_pesel
from tests.conftest import REPO

pytestmark = pytest.mark.integration

GUIDE = REPO / "docs" / "migration.md"
EXAMPLE = REPO / "docs" / "examples" / "migration"
VARS = "docs/examples/migration/inventory/host_vars/acme/vars.yml"
MANAGER_PERMISSIONS = ["CredentialsManage", "CredentialsRead", "InvoiceRead", "InvoiceWrite"]
ROLE_TASK = "ksef.credentials.tokens : Reconcile the declared tokens"


def _blocks(doc: Path):
    """The guide's ```yaml blocks that name an example file: (kind, path, text) with kind `whole` (`# docs/...`, the
    file), `excerpt` (`# excerpt of docs/...`, lines of it) or `step N` (`# step N of docs/...`, what the excerpt
    shown just before becomes)."""
    for block in re.findall(r"```yaml\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
        first, rest = block.split("\n", 1)
        named = re.fullmatch(r"# (?:(excerpt|step \d+) of )?(docs/examples/\S+)", first)
        if named:
            yield (named.group(1) or "whole"), named.group(2), (block if not named.group(1) else rest)


def _edits(doc: Path) -> dict:
    """step N -> (path, the lines before, the lines after), as the guide shows them."""
    edits, previous = {}, None
    for kind, path, text in _blocks(doc):
        if kind.startswith("step"):
            assert previous and previous[0] == "excerpt" and previous[1] == path, f"{kind} follows no excerpt of {path}"
            edits[kind] = (path, previous[2], text)
        previous = (kind, path, text)
    return edits


def test_the_guide_shows_the_example_files_as_they_are():
    shown = set()
    for kind, path, text in _blocks(GUIDE):
        content = (REPO / path).read_text(encoding="utf-8")
        if kind == "whole":
            assert content.removeprefix("---\n") == text, f"migration.md shows {path} differently from the file"
            shown.add(path)
        elif kind == "excerpt":
            assert text in content and text.endswith("\n"), f"migration.md shows lines {path} does not have"
    names = {str(p.relative_to(REPO)) for p in EXAMPLE.rglob("*.yml")}
    assert names == shown, f"example files the guide does not show whole: {sorted(names - shown)}"
    assert sorted(_edits(GUIDE)) == ["step 4", "step 6"]


class Company:
    """acme before the migration, in a fresh context of the shared emulator."""

    def __init__(self, emulator, base: Path):
        self.emulator = emulator
        self.nip, self.pesel = random_nip(), random_pesel()
        self.example = base / "migration"
        shutil.copytree(EXAMPLE, self.example)
        secure = base / "secure"
        self.seal = generate_certificate(secure, nip=self.nip, kind="seal")
        self.person = generate_certificate(secure, pesel=self.pesel)
        self.manager = self.seed(MANAGER_PERMISSIONS, "Token Ansible uses to manage credentials")
        self.erp = self.seed(["InvoiceWrite"], compose("erp-sender", "ERP invoice sender"))
        # What `ansible-vault encrypt_string` writes, in plain text here: the test has no vault password to keep.
        (self.example / "inventory" / "host_vars" / "acme" / "vault.yml").write_text(
            "vault_ksef_manager_token: %s\n" % json.dumps(self.manager["token"]))
        self.secrets_dir = base / "etc-ksef"
        self.extra = {
            "ksef_api_url": emulator.api_url,
            "ksef_context": {"nip": self.nip},
            "erp_person": {"pesel": self.pesel, "first_name": "Jan", "last_name": "Kowalski"},
            "erp_person_certificate": str(self.person.cert_path), "erp_person_key": str(self.person.key_path),
            "seal_certificate": str(self.seal.cert_path), "seal_key": str(self.seal.key_path),
            "secrets_dir": str(self.secrets_dir),
        }

    def seed(self, permissions: list, description: str) -> dict:
        body = {"context": f"Nip:{self.nip}", "permissions": permissions, "description": description,
                "status": "Active", "author": f"Nip:{self.nip}"}
        created = self.emulator.admin("POST", "tokens", json=body)
        created.raise_for_status()
        return created.json()

    def edit(self, step: str) -> None:
        """Make the inventory edit the guide shows for `step`."""
        path, before, after = _edits(GUIDE)[step]
        target = self.example / Path(path).relative_to("docs/examples/migration")
        text = target.read_text(encoding="utf-8")
        assert text.count(before) == 1, f"{step}: the lines the guide changes are not in {path}"
        target.write_text(text.replace(before, after), encoding="utf-8")

    def live_tokens(self) -> set:
        listed = self.emulator.admin("GET", "tokens", params={"context": f"Nip:{self.nip}"})
        listed.raise_for_status()
        body = listed.json()
        items = body["tokens"] if isinstance(body, dict) else body
        return {t["referenceNumber"] for t in items if t["status"] in ("Pending", "Active")}


def test_the_migration_from_token_logins_to_certificate_logins(emulator, run_playbook, tmp_path):
    company = Company(emulator, tmp_path)
    end = datetime.now(timezone.utc).date() + timedelta(days=20)
    env = {"KSEF_TOKEN_AUTH_END": end.isoformat()}

    def run(playbook: str, **kwargs):
        result = run_playbook(company.example / playbook, company.extra, inventory=company.example / "inventory",
                              env=env, **kwargs)
        output = result.stdout + result.stderr + repr(result.results)
        for value in (company.manager["token"], company.erp["token"]):
            assert value not in output
        assert "PRIVATE KEY" not in output
        return result

    # Step 1: every token login and every live token, with the days left; permission_info flags its token login.
    found = run("find.yml")
    tokens = found.task("The live tokens, and the token this run logs in with")
    ending = {f["reference_number"]: f for f in tokens["findings"] if f["kind"] == "token_auth_end"}
    assert set(ending) == {company.manager["referenceNumber"], company.erp["referenceNumber"]}
    assert {f["severity"] for f in ending.values()} == {"warning"}
    # 20 days, or 19 when the run crosses midnight (UTC) after `end` was set.
    logged_in = r"(20|19) days left until the end of token authentication \(%s\); this run logged in with it" % end
    assert re.fullmatch(logged_in, ending[company.manager["referenceNumber"]]["message"])
    assert any("KSeF tokens authenticate until %s" % end in w and "docs/migration.md" in w for w in tokens["warnings"])
    grants = found.task("The permissions in force, against the declared grants")
    assert grants["token_auth_end"] == end.isoformat()
    (login,) = [f for f in grants["findings"] if f["kind"] == "token_auth_end"]
    assert login["reference_number"] == company.manager["referenceNumber"] and login["severity"] == "warning"
    assert re.fullmatch(logged_in, login["message"])
    assert [f["name"] for f in grants["findings"] if f["kind"] == "missing"] == ["erp-login"]

    # Steps 2 and 3: the ERP's person holds InvoiceWrite only; each subject enrolls its KSeF certificate.
    enrolled = run("enroll.yml")
    assert enrolled.task("The ERP's person holds InvoiceWrite, and nothing else")["changed"] is True
    for name in ("erp-login", "automation-login"):
        bundle = company.secrets_dir / f"{name}.pem"
        assert bundle.stat().st_mode & 0o777 == 0o600 and "PRIVATE KEY" in bundle.read_text()
    erp_certificate = enrolled.task("The ERP's KSeF certificate, enrolled with the person's qualified certificate")
    automation = enrolled.task("The automation's KSeF certificate, enrolled with the company's seal")
    assert erp_certificate["changed"] is True and automation["changed"] is True

    # Step 4: the role logs in with the automation's certificate. Step 5: in check mode it plans nothing, and the
    # ERP's certificate logs in as its person, who cannot read the company's tokens.
    company.edit("step 4")
    verified = run("verify.yml", check=True)
    reconciled = verified.task(ROLE_TASK)
    assert reconciled["changed"] is False and verified.recap_changed == 0
    assert "POST /auth/ksef-token" not in reconciled["api_calls"]
    assert reconciled["api_calls"]["POST /auth/xades-signature"] == 1
    assert not [w for w in reconciled.get("warnings", []) if "authenticate until" in w]
    erp_login = verified.task("The ERP logs in with its KSeF certificate")
    assert [c["name"] for c in erp_login["certificates"]] == ["erp-login"]
    erp_tokens = verified.task("The ERP sees none of the company's tokens")
    assert erp_tokens["tokens"] == [] and erp_tokens["api_calls"]["GET /tokens"] == 1
    assert company.live_tokens() == {company.manager["referenceNumber"], company.erp["referenceNumber"]}

    # Step 6: the tokens revoked; no token and no token login is left to report.
    company.edit("step 6")
    report_dir = tmp_path / "report"
    revoked = run("site.yml", extra_args=["-e", f"ksef_report_dir={report_dir}"])
    assert revoked.task(ROLE_TASK)["changed"] is True
    assert company.live_tokens() == set()
    (acme,) = json.loads((report_dir / "report.json").read_text())["contexts"]
    assert acme["error"] is None and acme["tokens"] == []
    assert not [f for f in acme["findings"] if f["kind"] == "token_auth_end"]
    after = run("find.yml")
    assert after.task("The live tokens, and the token this run logs in with")["findings"] == []
    assert after.task("The live tokens, and the token this run logs in with")["tokens"] == []
    grants = after.task("The permissions in force, against the declared grants")
    assert grants["findings"] == []
    assert [(g["name"], g["permission"]) for g in grants["grants"]] == [("erp-login", "InvoiceWrite")]
    assert "authenticate until" not in after.stdout + after.stderr
