"""The ksef.credentials.tokens role: real playbooks over an inventory of three companies, run with -f 3
against a fresh emulator over HTTP, with real files as stores."""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from ksef_emulator.testcerts import random_nip

from ansible_collections.ksef.credentials.plugins.module_utils._ratelimit import (
    limits_for, minimal_span, state_path, window_lengths)

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
REPO = HERE.parent.parent
REFERENCE_MODULE = REPO / "bench" / "reference" / "ksef_noop.py"
REFERENCE_NOOP = HERE / "playbooks" / "role" / "reference_noop.yml"
INVENTORY = HERE / "inventories" / "three_companies"
CONVERGE = HERE / "playbooks" / "role" / "converge.yml"
CONVERGE_UNVALIDATED = HERE / "playbooks" / "role" / "converge_unvalidated.yml"
HOSTS = ("alpha", "beta", "gamma")
MANAGER_PERMISSIONS = ["CredentialsManage", "CredentialsRead", "InvoiceRead", "InvoiceWrite"]
RECONCILE = "Reconcile the declared tokens"


class Companies:
    """Three fresh contexts with seeded manager tokens, and the helpers to run the role and inspect KSeF."""

    def __init__(self, emulator, run_playbook, tmp_path):
        self.emulator = emulator
        self.run_playbook = run_playbook
        self.tmp_path = tmp_path
        self.nips = {host: random_nip() for host in HOSTS}
        self.managers = {host: self.seed(host, MANAGER_PERMISSIONS, "bootstrap") for host in HOSTS}
        self.store_dir = tmp_path / "stores"
        self.store_dir.mkdir()
        self.ratelimit_dir = tmp_path / "ratelimit"
        self.env = {"KSEF_LOCK_DIR": str(tmp_path / "locks"), "KSEF_RATELIMIT_DIR": str(self.ratelimit_dir)}

    def seed(self, host, permissions, description):
        seeded = self.emulator.admin("POST", "tokens", json={
            "context": f"Nip:{self.nips[host]}", "permissions": permissions, "description": description,
            "status": "Active"})
        seeded.raise_for_status()
        return seeded.json()

    def converge(self, check=False, expect_rc=0, env=None, diff=False, playbook=CONVERGE, command_line=(), **extra):
        extra_vars = {"emulator_api_url": self.emulator.api_url, "company_nips": self.nips,
                      "manager_tokens": {h: m["token"] for h, m in self.managers.items()},
                      "store_dir": str(self.store_dir)}
        extra_vars.update(extra)
        result = self.run_playbook(playbook, extra_vars, check=check, diff=diff, inventory=INVENTORY,
                                   extra_args=["-f", "3", *command_line],
                                   env={**self.env, **(env or {})}, expect_rc=expect_rc)
        self.assert_no_secret_in(result)
        return result

    def run_reference_noop(self, http):
        """bench/reference/ksef_noop.py over the same inventory, from a throw-away collection like make bench's."""
        modules = self.tmp_path / "reference" / "ansible_collections" / "ksef_bench" / "reference" / "plugins" / "modules"
        modules.mkdir(parents=True, exist_ok=True)
        shutil.copy(REFERENCE_MODULE, modules / "ksef_noop.py")
        paths = os.pathsep.join([str(REPO / ".collections"), str(self.tmp_path / "reference")])
        return self.converge(playbook=REFERENCE_NOOP, env={"ANSIBLE_COLLECTIONS_PATH": paths}, reference_http=http)

    def tokens(self, host, statuses=("Pending", "Active")):
        """The context's tokens as the emulator holds them (bootstrap token excluded)."""
        listed = self.emulator.admin("GET", "tokens", params={"context": f"Nip:{self.nips[host]}"})
        listed.raise_for_status()
        body = listed.json()
        items = body["tokens"] if isinstance(body, dict) else body
        return [t for t in items if t["referenceNumber"] != self.managers[host]["referenceNumber"]
                and t["status"] in statuses]

    def reconcile_results(self, result):
        return {r["host"]: r["result"] for r in result.results if r["task"].endswith(RECONCILE)}

    def open_sessions(self, host):
        """Sessions of the context still open, seen from a fresh session (which itself is left out)."""
        from ansible_collections.ksef.credentials.plugins.module_utils._auth import Authenticator
        from ansible_collections.ksef.credentials.plugins.module_utils._connection import KsefContext
        from ansible_collections.ksef.credentials.plugins.module_utils._http import KsefHttp
        with KsefHttp(self.emulator.api_url) as http:
            session = Authenticator(http).login_with_ksef_token(KsefContext("Nip", self.nips[host]),
                                                                self.managers[host]["token"])
            listed = http.request("GET", "/auth/sessions", params={"pageSize": 100}, bearer=session.bearer()).json()
            session.close()
        return [s for s in listed["items"] if not s.get("isCurrent")]

    def assert_no_secret_in(self, result):
        text = result.stdout + result.stderr + json.dumps(result.results)
        secrets = [m["token"] for m in self.managers.values()]
        secrets += [p.read_text().strip().split("=")[-1] for p in self.store_dir.glob("*.token")]
        for secret in secrets:
            assert secret.split("|")[-1] not in text


@pytest.fixture
def companies(emulator_factory, run_playbook, tmp_path):
    return Companies(emulator_factory("--activation-delay", "0.3"), run_playbook, tmp_path)


def test_role_converges_three_contexts_in_parallel_and_the_second_run_changes_nothing(companies):
    first = companies.converge()
    for host in HOSTS:
        tokens = companies.tokens(host)
        assert len(tokens) == 2 and all(t["status"] == "Active" for t in tokens), host
        sender = (companies.store_dir / f"{host}-erp-sender.token").read_text().strip()
        archive = (companies.store_dir / f"{host}-archive.token").read_text().strip()
        assert archive.startswith("KSEF_ARCHIVE_TOKEN=")
        stored = {sender.split("|")[0], archive.split("=", 1)[1].split("|")[0]}
        assert stored == {t["referenceNumber"] for t in tokens}
        assert companies.reconcile_results(first)[host]["changed"] is True
        assert companies.open_sessions(host) == []
    created = companies.emulator.stats()["operations"]["POST /tokens"]
    assert created == 6

    companies.emulator.reset_stats()
    second = companies.converge()
    assert all(r["changed"] is False for r in companies.reconcile_results(second).values())
    # The recap a CI idempotence gate reads: nothing changed on any host, and one module task ran per host.
    ran = [r["task"] for r in second.results if r["host"] == "alpha" and r["status"] == "ok"]
    assert len(ran) == 2 and "Validating arguments" in ran[0] and ran[1].endswith(RECONCILE), ran
    for host in HOSTS:
        # ok=2: Ansible's argument validation and the one module task; the report task is skipped.
        assert re.search(r"^%s\s+: ok=2 +changed=0 +unreachable=0 +failed=0 +skipped=1 " % host, second.stdout,
                         re.M), second.stdout[-2000:]
    assert second.recap_changed == 0
    stats = companies.emulator.stats()
    assert "POST /tokens" not in stats["operations"] and "DELETE /tokens/{referenceNumber}" not in stats["operations"]
    # One login, one list and one close per context.
    for host in HOSTS:
        ops = stats["by_context"][f"Nip:{companies.nips[host]}"]
        assert ops["POST /auth/token/redeem"] == 1 and ops["DELETE /auth/sessions/current"] == 1
        assert companies.open_sessions(host) == []
    # Every fork paced through the shared state: one file per context, one for the per-IP endpoints.
    assert len(list(companies.ratelimit_dir.glob("*.json"))) == 4

    # make bench compares the no-op with a minimal module; it is a fair reference only while it sends the
    # very requests the no-op sends (the status polls follow KSeF's pace, so only their presence counts).
    companies.emulator.reset_stats()
    companies.run_reference_noop("http.client")
    reference = companies.emulator.stats()
    polls = "GET /auth/{referenceNumber}"
    assert {op: n for op, n in reference["operations"].items() if op != polls} == \
        {op: n for op, n in stats["operations"].items() if op != polls}
    assert reference["operations"][polls] >= 3


def test_check_mode_returns_the_plan_and_the_drift_changes_nothing_and_closes_the_session(companies, tmp_path):
    companies.emulator.reset_stats()
    # With the report, and exclusive and the pacing wait given on the command line (strings, as -e gives them).
    reports = tmp_path / "reports"
    result = companies.converge(check=True, diff=True, command_line=[
        "-e", "ksef_tokens_exclusive=false", "-e", "ksef_max_retry_wait=600", "-e", f"ksef_report_dir={reports}"])
    stats = companies.emulator.stats()
    for host, task in companies.reconcile_results(result).items():
        arguments = task["invocation"]["module_args"]
        assert arguments["exclusive"] == "false" and arguments["max_retry_wait"] == 600, arguments
        actions = sorted((step["name"], step["action"]) for step in task["plan"])
        assert actions == [("archive", "create"), ("erp-sender", "create")], host
        kinds = sorted(f["kind"] for f in task["drift"])
        assert kinds.count("missing") == 2, kinds  # both declared tokens are missing in KSeF
        assert task["plan_text"][-1] == "Plan: 2 to create."
        # Plan and drift come from one login and one list of the context; the report's scan from one more of each.
        ops = stats["by_context"][f"Nip:{companies.nips[host]}"]
        assert ops["POST /auth/token/redeem"] == 2 and ops["GET /tokens"] == 2, ops
        assert ops["DELETE /auth/sessions/current"] == 2, ops
        assert companies.tokens(host) == []
        assert companies.open_sessions(host) == []
    # With --diff the plan and the drift are printed for people at default verbosity, once per company.
    assert result.stdout.count("+ erp-sender: create (no active token named 'erp-sender')") == 3
    assert result.stdout.count("Plan: 2 to create.") == 3
    assert "! missing erp-sender: declared but no Pending or Active token named 'erp-sender' exists" in result.stdout
    assert list(companies.store_dir.iterdir()) == []
    assert "POST /tokens" not in companies.emulator.stats()["operations"]
    contexts = json.loads((reports / "report.json").read_text())["contexts"]
    assert sorted(c["host"] for c in contexts) == list(HOSTS)


def test_exclusive_and_adopt_through_role_variables(companies):
    # alpha already has an ERP token by hand, its value in the store the role declares: adopt it.
    legacy = companies.seed("alpha", ["InvoiceRead", "InvoiceWrite"], "ERP invoice sender")
    (companies.store_dir / "alpha-erp-sender.token").write_text(legacy["token"] + "\n")
    # beta has a forgotten token nobody declares.
    stray = companies.seed("beta", ["InvoiceRead"], "old integration")
    companies.converge(ksef_tokens_adopt=True, ksef_tokens_exclusive="all")
    alpha = {t["referenceNumber"] for t in companies.tokens("alpha")}
    assert legacy["referenceNumber"] in alpha and len(alpha) == 2
    assert (companies.store_dir / "alpha-erp-sender.token").read_text().strip() == legacy["token"]
    beta = {t["referenceNumber"] for t in companies.tokens("beta")}
    assert stray["referenceNumber"] not in beta and len(beta) == 2
    # The login token is never revoked by exclusive: all.
    assert companies.tokens("beta", statuses=("Active",)) and companies.open_sessions("beta") == []

    # managed: a token dropped from the declaration is revoked, unmanaged ones stay.
    keep = companies.seed("gamma", ["InvoiceRead"], "kept by hand")
    only_sender = [{"name": "erp-sender", "description": "ERP invoice sender", "permissions": ["InvoiceRead", "InvoiceWrite"],
                    "store": [{"type": "file", "path": str(companies.store_dir / "{{ inventory_hostname }}-erp-sender.token")}]}]
    # The archive token's stores follow the company's layout: the template says where a dropped name's value was.
    template = [{"type": "file", "path": str(companies.store_dir / "{{ inventory_hostname }}-{name}.token"),
                 "format": "env", "key": "KSEF_ARCHIVE_TOKEN"}]
    archive_file = companies.store_dir / "gamma-archive.token"
    assert "KSEF_ARCHIVE_TOKEN=" in archive_file.read_text()
    companies.converge(ksef_tokens=only_sender, ksef_tokens_exclusive="managed", ksef_tokens_store_template=template)
    gamma = companies.tokens("gamma")
    assert keep["referenceNumber"] in {t["referenceNumber"] for t in gamma}
    assert len(gamma) == 2  # erp-sender and the hand-made token; archive revoked
    assert not archive_file.exists() or "KSEF_ARCHIVE_TOKEN" not in archive_file.read_text()


def test_each_host_shows_its_own_error_at_default_verbosity_without_a_secret(companies):
    # alpha's manager token is replaced by a revoked one, beta's context lacks the permission to create tokens.
    seeded = companies.emulator.admin("POST", "tokens", json={
        "context": f"Nip:{companies.nips['alpha']}", "permissions": MANAGER_PERMISSIONS,
        "description": "revoked manager", "status": "Revoking"})
    revoked = seeded.json()
    reader = companies.seed("beta", ["InvoiceRead"], "reader only")
    companies.managers["alpha"], companies.managers["beta"] = revoked, reader
    result = companies.converge(expect_rc=2)
    recap = {host: re.search(r"^%s\s+: .*failed=(\d)" % host, result.stdout, re.M).group(1) for host in HOSTS}
    assert recap == {"alpha": "1", "beta": "1", "gamma": "0"}, result.stdout[-3000:]
    failures = {r["host"]: r["result"]["msg"] for r in result.results if r["status"] == "failed"}
    assert sorted(failures) == ["alpha", "beta"]
    assert failures["alpha"] != failures["beta"]
    for host, message in failures.items():
        assert message in result.stdout, "%s's own error is shown at default verbosity" % host
    assert "censored" not in result.stdout
    assert revoked["token"].split("|")[-1] not in result.stdout + result.stderr
    assert reader["token"].split("|")[-1] not in result.stdout + result.stderr


@pytest.mark.parametrize("mistake, named", [
    ({"name": "erp", "permisions": ["InvoiceRead"]}, "permisions"),
    ({"name": "erp", "permissions": ["InvoiceReed"]}, "InvoiceReed"),
    ({"name": "erp", "permissions": ["InvoiceRead"], "store": [{"type": "fiel", "path": "/tmp/x"}]}, "fiel"),
    ({"permissions": ["InvoiceRead"]}, "name"),
])
def test_a_typo_in_declared_tokens_fails_before_any_api_call(companies, mistake, named):
    companies.emulator.reset_stats()
    result = companies.converge(expect_rc=2, ksef_tokens=[mistake])
    assert "Validating arguments against arg spec" in result.stdout
    assert named in result.stdout
    assert companies.emulator.stats()["total"] == 0


def test_without_the_role_validation_task_the_module_refuses_a_typo_before_any_api_call_and_converges(companies):
    """import_role with rolespec_validate: false leaves out Ansible's per-host validation task (what make bench
    measures as the faster no-op); the module checks the same values first. The messages are the module's, as
    docs/role-tokens.md quotes them: its own checks name the entry, Ansible's the option only."""
    companies.emulator.reset_stats()
    mistakes = {"alpha": [{"name": "erp", "permissions": ["InvoiceReed"]}],
                "beta": [{"name": "erp", "permisions": ["InvoiceRead"]}],
                "gamma": "erp-sender"}
    result = companies.converge(expect_rc=2, playbook=CONVERGE_UNVALIDATED, mistakes=mistakes,
                                ksef_tokens="{{ mistakes[inventory_hostname] }}")
    assert "Validating arguments" not in result.stdout
    failures = {r["host"]: r["result"]["msg"] for r in result.results if r["status"] == "failed"}
    assert failures["alpha"].startswith("tokens[0]: unknown permission(s) 'InvoiceReed'; allowed: InvoiceRead, ")
    assert failures["beta"].startswith(
        "Unsupported parameters for (ksef.credentials.tokens) module: tokens.permisions. Supported parameters include: ")
    assert failures["gamma"] == "dictionary requested, could not parse JSON or key=value"
    assert companies.emulator.stats()["total"] == 0
    second = companies.converge(playbook=CONVERGE_UNVALIDATED)
    ran = [r["task"] for r in second.results if r["host"] == "alpha" and r["status"] == "ok"]
    assert len(ran) == 1 and ran[0].endswith(RECONCILE), ran
    assert all(r["changed"] is True for r in companies.reconcile_results(second).values())


# make bench measures a paced run against the same bound (docs/performance.md); make test-soak runs this too.
@pytest.mark.soak
def test_production_limits_with_a_time_scale_give_no_429_and_take_at_least_the_bound(
        emulator_factory, run_playbook, tmp_path):
    """prd limits, a minute of 5 s (--time-scale 12): 35 creates per context need two minute windows."""
    scale, count = 12, 35
    emulator = emulator_factory("--rate-limits", "prd", "--time-scale", str(scale), "--activation-delay", "0.3")
    companies = Companies(emulator, run_playbook, tmp_path)
    declared = [{"name": f"bulk-{i:02d}", "permissions": ["InvoiceRead"], "verify": False} for i in range(count)]
    companies.converge(ksef_tokens=declared, rate_limits="prd", env={"KSEF_RATELIMIT_TIME_SCALE": str(scale)})

    stats = emulator.stats()
    assert "429" not in stats["by_status"], stats["by_status"]
    assert stats["operations"]["POST /tokens"] == 3 * count
    bound = minimal_span(count, limits_for("POST /tokens", "prd"), window_lengths(scale))
    assert bound == pytest.approx(5.0)
    for host in HOSTS:
        assert len(companies.tokens(host)) == count
        assert companies.open_sessions(host) == []
        state = json.loads(Path(state_path(emulator.api_url, f"Nip:{companies.nips[host]}",
                                           str(companies.ratelimit_dir))).read_text())
        sent = sorted(state["POST /tokens"]["sent"])
        assert len(sent) == count
        span = sent[-1] - sent[0]
        # Never faster than the limits allow, and paced closely (tolerant: 2 CPUs shared with other tests).
        assert bound <= span < bound * 2 + 3, (host, span)


def test_a_reviewed_plan_is_applied_exactly_per_company_or_refused_naming_what_moved(companies, tmp_path):
    companies.converge()
    plans = tmp_path / "plans"
    plans.mkdir()
    # The change under review: the archive token also gets InvoiceWrite (a replace in every company).
    wider = [{"name": "erp-sender", "description": "ERP invoice sender", "permissions": ["InvoiceRead", "InvoiceWrite"],
              "store": [{"type": "file", "path": str(companies.store_dir / "{{ inventory_hostname }}-erp-sender.token")}]},
             {"name": "archive", "description": "Archive reader",
              "permissions": "{{ ['InvoiceRead', 'InvoiceWrite'] if inventory_hostname != 'gamma' or not edited | default(false) else ['InvoiceWrite'] }}",
              "store": [{"type": "file", "path": str(companies.store_dir / "{{ inventory_hostname }}-archive.token"),
                         "format": "env", "key": "KSEF_ARCHIVE_TOKEN"}]}]
    before = {host: {t["referenceNumber"] for t in companies.tokens(host)} for host in HOSTS}
    planned = companies.converge(check=True, diff=True, ksef_tokens=wider, ksef_plan_dir=str(plans))
    # Without -v, the printed plan says what the replace does to the token in use: revoked in this run.
    assert planned.stdout.count("Plan: 1 to replace. Old ones: 1 revoked in this run.") == 3
    assert planned.stdout.count("the old one, ") == 3
    for host in HOSTS:
        saved = json.loads((plans / f"{host}.json").read_text())
        assert [(row["name"], row["action"]) for row in saved["plan"]] == [
            ("erp-sender", "keep"), ("archive", "replace"), ("archive", "revoke")]
        assert saved["context"] == f"Nip:{companies.nips[host]}" and saved["plan_text"][-1] == (
            "Plan: 1 to replace. Old ones: 1 revoked in this run.")
        assert saved["after"]["archive"]["permissions"] == ["InvoiceRead", "InvoiceWrite"]
        text = (plans / f"{host}.json").read_text()
        for secret in [companies.managers[host]["token"]] + [p.read_text() for p in companies.store_dir.glob(f"{host}-*")]:
            assert secret.strip().split("=")[-1].split("|")[-1] not in text  # no value, no manager token
    assert {host: {t["referenceNumber"] for t in companies.tokens(host)} for host in HOSTS} == before

    # Between review and apply, beta's ERP store lost its value and gamma's declaration was edited.
    (companies.store_dir / "beta-erp-sender.token").unlink()
    companies.emulator.reset_stats()
    applied = companies.converge(expect_rc=2, ksef_tokens=wider, ksef_apply_plan_dir=str(plans), edited=True)
    results = companies.reconcile_results(applied)
    assert results["alpha"]["changed"] is True and [
        (a["name"], a["action"]) for a in results["alpha"]["plan"] if a["action"] != "keep"] == [("archive", "replace"), ("archive", "revoke")]
    archive = [t for t in companies.tokens("alpha") if t["referenceNumber"] not in before["alpha"]]
    assert len(archive) == 1 and sorted(archive[0]["requestedPermissions"]) == ["InvoiceRead", "InvoiceWrite"]
    beta, gamma = results["beta"], results["gamma"]
    assert beta["option"] == "apply_plan" and any(
        line.startswith("erp-sender: store file:") and line.endswith(", now nothing") for line in beta["moved"]), beta
    assert gamma["moved"] == ["archive: its declaration changed since the plan was made"], gamma
    for host in ("beta", "gamma"):
        assert "nothing was changed" in results[host]["msg"] and results[host]["msg"] in applied.stdout
        assert {t["referenceNumber"] for t in companies.tokens(host)} == before[host]
    created = companies.emulator.stats()["by_context"]
    assert "POST /tokens" in created[f"Nip:{companies.nips['alpha']}"]
    assert all("POST /tokens" not in created[f"Nip:{companies.nips[h]}"] for h in ("beta", "gamma"))

    # A plan is carried out once: alpha's state has moved on since.
    again = companies.converge(expect_rc=2, ksef_tokens=wider, ksef_apply_plan_dir=str(plans), edited=True)
    moved = companies.reconcile_results(again)["alpha"]["moved"]
    assert any(line.startswith("token archive ") and "appeared" in line for line in moved), moved
