"""ksef.credentials.token_info through real playbooks against the emulator, logged in with a CredentialsRead-only token."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._identity import compose
from ksef_emulator.testcerts import random_nip

pytestmark = pytest.mark.integration

PLAYBOOKS = Path(__file__).parent / "playbooks" / "audit"
DAY = 86400
MUTATIONS = ("POST /tokens", "DELETE /tokens/")
ALL_KINDS = {"missing", "scope_differs", "store_missing", "store_stale", "rotation_overdue", "extra_managed",
             "unmanaged", "unused", "token_auth_end"}
# Fast pacing for the emulator (it enforces the TEST limits).
ENV = {"KSEF_RATE_LIMITS": "te"}


class AuditedCompany:
    """A fresh context seeded so that every finding kind is present once the declared tokens are compared:

    erp-sender   declared, rotate_after 90d, 100 days old, never used -> rotation_overdue, unused;
                 stores: one holds it, one is empty -> store_missing
    archiver     declared with InvoiceWrite too -> scope_differs; its store holds a revoked archiver -> store_stale
    reporting    declared, never created -> missing
    legacy-sync  managed, not declared -> extra_managed
    (by hand)    no marker, another author, 40 days old -> unmanaged, unused
    auditor      CredentialsRead only: the token the audit logs in with (unmanaged, just used)
    """

    def __init__(self, emulator, store_dir: Path, nip: str | None = None):
        self.emulator = emulator
        self.nip = nip or random_nip()
        self.other_author = random_nip()
        self.store_dir = store_dir
        store_dir.mkdir(parents=True, exist_ok=True)
        self.auditor = self.seed(["CredentialsRead"], "Auditor read-only access")
        self.erp = self.seed(["InvoiceRead", "InvoiceWrite"], compose("erp-sender", "ERP invoice sender"),
                             backdate=100 * DAY)
        self.archiver_old = self.seed(["InvoiceRead"], compose("archiver", "Archive download"), status="Revoked",
                                      backdate=10 * DAY)
        self.archiver = self.seed(["InvoiceRead"], compose("archiver", "Archive download"))
        self.legacy = self.seed(["InvoiceRead"], compose("legacy-sync", "Old sync job"), backdate=5 * DAY)
        self.hand = self.seed(["InvoiceWrite"], "Made by HAND in the web app", author=f"Nip:{self.other_author}",
                              backdate=40 * DAY)
        self.erp_store = store_dir / "erp.token"
        self.erp_store.write_text(self.erp["token"] + "\n")
        self.erp_backup = store_dir / "erp-backup.token"
        self.archiver_store = store_dir / "archiver.token"
        self.archiver_store.write_text(self.archiver_old["token"] + "\n")

    def seed(self, permissions, description, status="Active", author=None, backdate=0) -> dict:
        body = {"context": f"Nip:{self.nip}", "permissions": permissions, "description": description,
                "status": status, "author": author or f"Nip:{self.nip}"}
        created = self.emulator.admin("POST", "tokens", json=body)
        created.raise_for_status()
        token = created.json()
        if backdate:
            self.emulator.admin("POST", f"tokens/{token['referenceNumber']}/backdate",
                                json={"seconds": backdate}).raise_for_status()
        return token

    @property
    def declared(self) -> list:
        return [
            {"name": "erp-sender", "description": "ERP invoice sender", "permissions": ["InvoiceRead", "InvoiceWrite"],
             "rotate_after": "90d", "store": [{"type": "file", "path": str(self.erp_store)},
                                              {"type": "file", "path": str(self.erp_backup)}]},
            {"name": "archiver", "description": "Archive download", "permissions": ["invoice_read", "invoice_write"],
             "store": [{"type": "file", "path": str(self.archiver_store)}]},
            {"name": "reporting", "permissions": ["InvoiceRead"],
             "store": [{"type": "file", "path": str(self.store_dir / "reporting.token")}]},
        ]

    def vars(self) -> dict:
        return {"api_url": self.emulator.api_url, "nip": self.nip, "auditor_token": self.auditor["token"],
                "other_author": self.other_author, "declared": self.declared}

    def secrets(self) -> list:
        return [t["token"] for t in (self.auditor, self.erp, self.archiver_old, self.archiver, self.legacy, self.hand)]

    def mutations(self) -> int:
        ops = self.emulator.stats()["by_context"].get(f"Nip:{self.nip}", {})
        return sum(count for op, count in ops.items() if op.startswith(MUTATIONS))

    def list_calls(self) -> int:
        return self.emulator.stats()["by_context"].get(f"Nip:{self.nip}", {}).get("GET /tokens", 0)

    def assert_no_secret_in(self, text: str) -> None:
        for secret in self.secrets():
            assert secret.split("|")[-1] not in text


@pytest.fixture
def company(emulator, tmp_path):
    return AuditedCompany(emulator, tmp_path / "stores")


def refs(result) -> set:
    return {t["reference_number"] for t in result["tokens"]}


@pytest.mark.parametrize("check", [False, True], ids=["run", "check-mode"])
def test_filters_with_a_credentials_read_token_and_no_mutation(company, run_playbook, check):
    before = company.list_calls()
    result = run_playbook(PLAYBOOKS / "token_info.yml", company.vars(), check=check, env=ENV)
    company.assert_no_secret_in(result.stdout + result.stderr + repr(result.results))
    c = company

    every = result.task("Every token")
    assert every["changed"] is False
    assert refs(every) == {t["referenceNumber"] for t in (c.auditor, c.erp, c.archiver_old, c.archiver, c.legacy,
                                                          c.hand)}
    assert every["summary"]["tokens"] == 6 and every["summary"]["live"] == 5
    rows = {t["reference_number"]: t for t in every["tokens"]}
    erp = rows[c.erp["referenceNumber"]]
    assert erp["name"] == "erp-sender" and erp["managed"] is True and erp["description"] == "ERP invoice sender"
    assert erp["permissions"] == ["InvoiceRead", "InvoiceWrite"] and erp["status"] == "Active"
    assert erp["author"] == {"type": "Nip", "value": c.nip}
    assert erp["age_days"] in (99, 100, 101) and erp["rotation_due"] is True and erp["unused"] is True
    assert erp["last_used"] is None and erp["findings"] == ["rotation_overdue", "unused", "token_auth_end"]
    # The test environment sets the end of token authentication to 2099-12-31 (tests/conftest.py): info only.
    assert erp["token_auth_end"].endswith("left until the end of token authentication (2099-12-31)")
    hand = rows[c.hand["referenceNumber"]]
    assert hand["name"] is None and hand["managed"] is False and hand["author"]["value"] == c.other_author
    assert hand["unused_days"] >= 39 and hand["unused"] is True
    auditor = rows[c.auditor["referenceNumber"]]
    assert auditor["last_used"] is not None and auditor["unused"] is False and auditor["rotation_due"] is False
    assert rows[c.archiver_old["referenceNumber"]]["status"] == "Revoked"
    assert rows[c.archiver_old["referenceNumber"]]["rotation_due"] is False
    kinds = {f["kind"] for f in every["findings"]}
    assert kinds == {"rotation_overdue", "unused", "token_auth_end"}  # policy only: nothing declared
    ending = [f for f in every["findings"] if f["kind"] == "token_auth_end"]
    assert {f["reference_number"] for f in ending} == refs(every) - {c.archiver_old["referenceNumber"]}
    assert {f["severity"] for f in ending} == {"info"} and not every.get("warnings")

    assert refs(result.task("Active tokens")) == refs(every) - {c.archiver_old["referenceNumber"]}
    assert refs(result.task("By name")) == {c.erp["referenceNumber"], c.archiver["referenceNumber"],
                                            c.archiver_old["referenceNumber"]}
    assert refs(result.task("By description")) == {c.hand["referenceNumber"]}
    assert refs(result.task("By author")) == {c.hand["referenceNumber"]}
    assert refs(result.task("Managed tokens")) == {c.erp["referenceNumber"], c.archiver["referenceNumber"],
                                                   c.archiver_old["referenceNumber"], c.legacy["referenceNumber"]}
    assert refs(result.task("Unmanaged tokens")) == {c.auditor["referenceNumber"], c.hand["referenceNumber"]}

    # Seven tasks: seven logins and exactly seven list calls, one each; nothing created or revoked.
    assert company.list_calls() - before == 7
    assert all(result.task(name)["api_calls"]["GET /tokens"] == 1 for name in ("Every token", "By name"))
    assert company.mutations() == 0


def test_drift_of_declared_tokens_and_their_stores(company, run_playbook):
    result = run_playbook(PLAYBOOKS / "drift.yml", company.vars(), env=ENV)
    company.assert_no_secret_in(result.stdout + result.stderr + repr(result.results))
    drift = result.task("Compare declared and actual")
    c = company
    found = {(f["kind"], f["name"], f["reference_number"], f["store"]) for f in drift["findings"]}
    assert {f["kind"] for f in drift["findings"]} == ALL_KINDS
    assert ("missing", "reporting", None, None) in found
    assert ("scope_differs", "archiver", c.archiver["referenceNumber"], None) in found
    assert ("store_missing", "erp-sender", c.erp["referenceNumber"], f"file:{c.erp_backup}") in found
    assert ("store_stale", "archiver", c.archiver["referenceNumber"], f"file:{c.archiver_store}") in found
    assert ("rotation_overdue", "erp-sender", c.erp["referenceNumber"], None) in found
    assert ("extra_managed", "legacy-sync", c.legacy["referenceNumber"], None) in found
    assert ("unmanaged", None, c.hand["referenceNumber"], None) in found
    assert ("unused", None, c.hand["referenceNumber"], None) in found
    assert drift["summary"]["findings_total"] == len(drift["findings"])

    declared = {d["name"]: d for d in drift["declared_tokens"]}
    assert declared["erp-sender"]["reference_number"] == c.erp["referenceNumber"]
    assert declared["erp-sender"]["stores"] == [
        {"label": f"file:{c.erp_store}", "reference_number": c.erp["referenceNumber"], "holds_current": True},
        {"label": f"file:{c.erp_backup}", "reference_number": None, "holds_current": False}]
    assert declared["archiver"]["stores"][0]["reference_number"] == c.archiver_old["referenceNumber"]
    rows = {t["reference_number"]: t for t in drift["tokens"]}
    assert rows[c.erp["referenceNumber"]]["stores"] == [f"file:{c.erp_store}"]
    assert rows[c.erp["referenceNumber"]]["declared"] is True and rows[c.legacy["referenceNumber"]]["declared"] is False
    assert drift["api_calls"]["GET /tokens"] == 1 and company.mutations() == 0
    # Reading the stores changed nothing in them.
    assert c.erp_store.read_text().strip() == c.erp["token"] and not c.erp_backup.exists()


def test_a_wrong_declaration_fails_before_any_call(company, run_playbook):
    variables = company.vars()
    variables["declared"] = [{"name": "Bad Name", "permissions": ["InvoiceRead"]}]
    before = company.emulator.stats()["total"]
    result = run_playbook(PLAYBOOKS / "drift.yml", variables, env=ENV, expect_rc=2)
    failed = result.task("Compare declared and actual")
    assert failed["option"] == "declared[0].name" and "name must match" in failed["msg"]
    assert company.emulator.stats()["total"] == before


def test_the_end_of_token_authentication_is_a_setting_shown_per_token_and_warned_once(company, run_playbook):
    today = datetime.now(timezone.utc).date()
    manager = company.seed(["CredentialsManage", "InvoiceRead"], "Manager for the date test")
    variables = dict(company.vars(), manager_token=manager["token"], near=str(today + timedelta(days=10)),
                     past=str(today - timedelta(days=1)))
    result = run_playbook(PLAYBOOKS / "token_auth_end.yml", variables, env=ENV)
    company.assert_no_secret_in(result.stdout + result.stderr + repr(result.results))

    near = result.task("Near the end")
    assert near["token_auth_end"] == variables["near"]
    ending = {f["reference_number"]: f for f in near["findings"] if f["kind"] == "token_auth_end"}
    live = {t["reference_number"] for t in near["tokens"] if t["status"] in ("Active", "Pending")}
    assert set(ending) == live and {f["severity"] for f in ending.values()} == {"warning"}
    assert ending[manager["referenceNumber"]]["message"] == (
        "10 days left until the end of token authentication (%s); this run logged in with it" % variables["near"])
    (warning,) = near["warnings"]
    # The same token's session, opened by ksef.credentials.session and handed over with its token's reference.
    handed_over = result.task("Near the end, in the session handed over")
    assert handed_over["api_calls"].get("POST /auth/ksef-token") is None  # no login of its own
    reused = {f["reference_number"]: f for f in handed_over["findings"] if f["kind"] == "token_auth_end"}
    assert reused[manager["referenceNumber"]]["message"] == ending[manager["referenceNumber"]]["message"]
    assert [f for f in reused.values() if f["message"].endswith("this run logged in with it")] == [
        reused[manager["referenceNumber"]]]
    assert "KSeF tokens authenticate until %s" % variables["near"] in warning and "docs/migration.md" in warning

    past = result.task("Past the end")
    rows = {t["reference_number"]: t for t in past["tokens"]}
    assert rows[manager["referenceNumber"]]["token_auth_end"] == (
        "past the end of token authentication (%s)" % variables["past"])
    assert rows[company.archiver_old["referenceNumber"]]["token_auth_end"] is None  # Revoked: logs in no more
    assert {f["severity"] for f in past["findings"] if f["kind"] == "token_auth_end"} == {"error"}

    created = result.task("A token created near the end")
    # A token login and a create in one task: one warning.
    assert created["changed"] is True and len([w for w in created["warnings"] if "authenticate until" in w]) == 1
    # Ansible prints the same words once per run, however many tasks or hosts warned: near (twice) and past.
    printed = " ".join((result.stdout + result.stderr).split())
    assert printed.count("this run logs in with, creates or rotates KSeF tokens") == 2
