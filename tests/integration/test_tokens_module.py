"""ksef.credentials.tokens through real playbooks against the emulator over HTTP, with real files."""
from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import pytest

from ksef_emulator.testcerts import random_nip

pytestmark = pytest.mark.integration

DECLARE = Path(__file__).parent / "playbooks" / "tokens" / "declare.yml"
TASK = "Declare the tokens"
MARKER = "[ksef.credentials:%s]"
LOGIN = ("POST /auth/challenge", "POST /auth/ksef-token", "POST /auth/token/redeem")
RW = ("InvoiceRead", "InvoiceWrite")


class Context:
    """A fresh context (random NIP) with a seeded, unmanaged manager token, and helpers to run and inspect it."""

    def __init__(self, emulator, run_playbook, tmp_path):
        self.emulator = emulator
        self.run_playbook = run_playbook
        self.tmp_path = tmp_path
        self.nip = random_nip()
        self.manager = self.seed("bootstrap manager", ["CredentialsManage", "CredentialsRead", "InvoiceRead",
                                                       "InvoiceWrite"])
        self.env = {"KSEF_LOCK_DIR": str(tmp_path / "locks")}
        self.secrets = [self.manager["token"]]

    def seed(self, description, permissions=RW, status="Active") -> dict:
        """A token made outside the module (web app, another tool): {referenceNumber, token}."""
        seeded = self.emulator.admin("POST", "tokens", json={
            "context": f"Nip:{self.nip}", "author": f"Nip:{self.nip}", "status": status,
            "description": description, "permissions": list(permissions)})
        seeded.raise_for_status()
        return seeded.json()

    def store(self, name) -> Path:
        return self.tmp_path / f"{name}.token"

    def entry(self, name, **options) -> dict:
        entry = {"name": name, "description": f"{name} integration", "permissions": list(RW),
                 "store": [{"type": "file", "path": str(self.store(name))}]}
        entry.update(options)
        return entry

    def declare(self, tokens, check=False, diff=False, expect_rc=0, **extra):
        variables = {"api_url": self.emulator.api_url, "nip": self.nip, "manager_token": self.manager["token"],
                     "declared_tokens": tokens, **extra}
        result = self.run_playbook(DECLARE, variables, check=check, diff=diff, env=self.env, expect_rc=expect_rc)
        self.assert_no_secret_in(result)
        return result

    def listed(self) -> dict:
        """Every token of the context by reference number, with full metadata (control API, never a value)."""
        answer = self.emulator.admin("GET", "tokens", params={"context": f"Nip:{self.nip}"})
        answer.raise_for_status()
        body = answer.json()
        items = body["tokens"] if isinstance(body, dict) else body
        return {t["referenceNumber"]: t for t in items}

    def status(self, ref) -> str:
        return self.listed()[ref]["status"]

    def calls(self) -> dict:
        """Requests KSeF counted for this context so far, per operation (server side)."""
        return dict(self.emulator.stats()["by_context"].get(f"Nip:{self.nip}", {}))

    def since(self, before: dict) -> dict:
        after = self.calls()
        return {op: n - before.get(op, 0) for op, n in after.items() if n - before.get(op, 0)}

    def assert_no_secret_in(self, result):
        text = result.stdout + result.stderr + repr(result.results)
        values = list(self.secrets)
        values += [p.read_text().strip() for p in self.tmp_path.glob("*.token") if p.is_file()]
        for value in values:
            assert value.split("|")[-1] not in text


@pytest.fixture
def ctx(emulator, run_playbook, tmp_path):
    return Context(emulator, run_playbook, tmp_path)


def only_tokens_calls(calls: dict) -> dict:
    """The /tokens operations of a count (logins and session closes left out)."""
    return {op: n for op, n in calls.items() if op.split(" ", 1)[1].startswith("/tokens")}


def actions(result) -> list:
    return [(row["name"], row["action"]) for row in result["plan"]]


def test_create_a_set_then_a_rerun_costs_one_login_and_one_list(ctx):
    declared = [ctx.entry("erp-sender"), ctx.entry("archiver", permissions=["invoice_read"]),
                ctx.entry("ops", permissions=["CredentialsRead"], verify=False)]
    before = ctx.calls()
    first = ctx.declare(declared).task(TASK)
    assert first["changed"] is True
    assert actions(first) == [("erp-sender", "create"), ("archiver", "create"), ("ops", "create")]
    used = ctx.since(before)
    assert used["POST /tokens"] == 3 and "GET /tokens/{referenceNumber}" not in used
    assert "DELETE /tokens/{referenceNumber}" not in used
    # The plan's list plus the shared activation polls: never one call per token.
    assert used["GET /tokens"] < 1 + 3 * 3
    assert first["api_calls"]["POST /auth/ksef-token"] == 1 + 2, "one login for the run, one proof per verified token"
    listed = ctx.listed()
    for name, perms in (("erp-sender", list(RW)), ("archiver", ["InvoiceRead"]), ("ops", ["CredentialsRead"])):
        token = first["tokens"][name]
        assert token["status"] == "Active" and token["permissions"] == perms
        assert token["actions"][0]["action"] == "create"
        assert ctx.store(name).read_text().startswith(token["reference_number"] + "|")
        assert listed[token["reference_number"]]["description"] == f"{name} integration " + MARKER % name
        assert listed[token["reference_number"]]["status"] == "Active"
    assert first["revoked"] == []

    before = ctx.calls()
    second = ctx.declare(declared).task(TASK)
    assert second["changed"] is False
    assert [row["action"] for row in second["plan"]] == ["keep"] * 3
    assert only_tokens_calls(ctx.since(before)) == {"GET /tokens": 1}
    calls = second["api_calls"]
    assert only_tokens_calls(calls) == {"GET /tokens": 1}
    assert all(calls[op] == 1 for op in LOGIN)
    assert "DELETE /auth/sessions/current" in calls
    assert second["summary"] == {"keep": 3}


def test_noop_run_of_many_tokens_lists_them_in_pages_of_100(ctx):
    count = 130
    declared = []
    for index in range(count):
        name = f"branch-{index:03d}"
        seeded = ctx.seed(f"{name} integration " + MARKER % name)
        ctx.store(name).write_text(seeded["token"] + "\n")
        declared.append(ctx.entry(name))
    ctx.secrets.append(seeded["token"])
    before = ctx.calls()
    result = ctx.declare(declared).task(TASK)
    assert result["changed"] is False and result["summary"] == {"keep": count}
    pages = math.ceil(count / 100)
    assert only_tokens_calls(ctx.since(before)) == {"GET /tokens": pages}
    assert only_tokens_calls(result["api_calls"]) == {"GET /tokens": pages}
    assert all(result["api_calls"][op] == 1 for op in LOGIN)


def test_exclusive_managed_revokes_undeclared_managed_tokens_and_leaves_unmanaged(ctx):
    both = [ctx.entry("erp-sender"), ctx.entry("archiver", verify=False)]
    created = ctx.declare(both).task(TASK)
    archiver = created["tokens"]["archiver"]["reference_number"]
    erp = created["tokens"]["erp-sender"]["reference_number"]
    legacy = ctx.seed("legacy web app token")

    preview = ctx.declare([both[0]], check=True, exclusive="managed").task(TASK)
    assert actions(preview) == [("erp-sender", "keep"), ("archiver", "revoke")]
    assert ctx.status(archiver) == "Active"

    result = ctx.declare([both[0]], exclusive="managed").task(TASK)
    assert result["changed"] is True
    assert result["revoked"] == [{"name": "archiver", "reference_number": archiver}]
    # Nothing in this run says where archiver's value was: the run says so, naming it.
    assert any(w.startswith("archiver: revoked because it is no longer declared") and "store_template" in w
               for w in result.get("warnings", [])), result.get("warnings")
    assert ctx.store("archiver").exists()
    assert result["plan"][1]["reason"] == "not declared (exclusive: managed)"
    assert result["tokens"]["archiver"]["declared"] is False
    statuses = {ref: t["status"] for ref, t in ctx.listed().items()}
    assert statuses[archiver] in ("Revoking", "Revoked")
    assert statuses[erp] == "Active" and statuses[legacy["referenceNumber"]] == "Active"
    assert statuses[ctx.manager["referenceNumber"]] == "Active"


def test_a_store_template_gives_each_token_its_stores_and_exclusive_empties_them_when_it_revokes(ctx):
    template = [{"type": "file", "path": str(ctx.tmp_path / "{name}.tpl.token")},
                {"type": "file", "path": str(ctx.tmp_path / "all.env"), "format": "env", "key": "KSEF_{name}"}]
    erp, archiver = ctx.entry("erp", store=[]), ctx.entry("archiver", store=[], verify=False)
    created = ctx.declare([erp, archiver], store_template=template).task(TASK)
    for name in ("erp", "archiver"):
        ref = created["tokens"][name]["reference_number"]
        assert (ctx.tmp_path / f"{name}.tpl.token").read_text().startswith(ref)
        assert f"KSEF_{name}={ref}|" in (ctx.tmp_path / "all.env").read_text()
    assert ctx.declare([erp, archiver], store_template=template).task(TASK)["changed"] is False

    # archiver is dropped: exclusive revokes it and empties its template stores; erp's stay as they are.
    preview = ctx.declare([erp], check=True, diff=True, exclusive="managed", store_template=template)
    assert "- archiver: purge (not declared (exclusive: managed): the stores keep no revoked token)" in preview.stdout
    assert (ctx.tmp_path / "archiver.tpl.token").exists()
    pruned = ctx.declare([erp], exclusive="managed", store_template=template).task(TASK)
    old = created["tokens"]["archiver"]["reference_number"]
    assert ("archiver", "revoke", old) in [(r["name"], r["action"], r["reference_number"]) for r in pruned["plan"]]
    assert ctx.status(old) in ("Revoking", "Revoked")
    assert not (ctx.tmp_path / "archiver.tpl.token").exists()
    env = (ctx.tmp_path / "all.env").read_text()
    assert "KSEF_archiver" not in env and f"KSEF_erp={created['tokens']['erp']['reference_number']}|" in env
    assert (ctx.tmp_path / "erp.tpl.token").exists() and not pruned.get("warnings")

    bad = ctx.declare([erp], expect_rc=2, store_template=[{"type": "file", "path": str(ctx.tmp_path / "x")}])
    assert bad.task(TASK)["option"] == "store_template[0]" and bad.task(TASK)["api_calls"] == {}
    # A template no declared token uses is still checked before any request (a pruned name would use it).
    wrong = ctx.declare([ctx.entry("erp")], expect_rc=2, store_template=[
        {"type": "file", "path": str(ctx.tmp_path / "{name}.token"), "mode": "0644"}]).task(TASK)
    assert wrong["option"] == "store_template[0].mode" and wrong["api_calls"] == {}, wrong


def test_exclusive_all_revokes_unmanaged_tokens_but_never_the_auth_token(ctx):
    legacy = ctx.seed("legacy web app token")
    pending = ctx.seed("another tool, still activating", status="Pending")
    stray = ctx.seed("stray managed token " + MARKER % "stray")
    result = ctx.declare([ctx.entry("erp-sender", verify=False)], exclusive="all").task(TASK)
    manager = ctx.manager["referenceNumber"]
    rows = {row["reference_number"]: row for row in result["plan"]}
    assert rows[manager]["action"] == "retain" and "revoke_auth_token" in rows[manager]["reason"]
    assert rows[legacy["referenceNumber"]]["name"] is None
    revoked = {entry["reference_number"] for entry in result["revoked"]}
    assert revoked == {legacy["referenceNumber"], pending["referenceNumber"], stray["referenceNumber"]}
    statuses = {ref: t["status"] for ref, t in ctx.listed().items()}
    assert statuses[manager] == "Active"
    for ref in revoked:
        assert statuses[ref] in ("Revoking", "Revoked")
    assert statuses[result["tokens"]["erp-sender"]["reference_number"]] == "Active"
    assert "GET /tokens/{referenceNumber}" not in result["api_calls"]


def test_adopt_takes_over_a_stored_unmanaged_token_without_issuing(ctx):
    known = ctx.seed("erp-sender integration")
    ctx.store("erp-sender").write_text(known["token"] + "\n")
    ctx.secrets.append(known["token"])
    unknown = ctx.seed("archiver integration")      # matches, but no store holds its value
    ctx.secrets.append(unknown["token"])
    declared = [ctx.entry("erp-sender"), ctx.entry("archiver", verify=False)]

    before = ctx.calls()
    preview = ctx.declare(declared, check=True, adopt=True).task(TASK)
    assert actions(preview) == [("erp-sender", "keep"), ("archiver", "create")]
    assert preview["plan"][0]["reason"].startswith("adopted:")
    assert unknown["referenceNumber"] in preview["plan"][1]["reason"]
    assert "adoption needs" in preview["plan"][1]["reason"] or "adopting needs" in preview["plan"][1]["reason"]
    assert only_tokens_calls(ctx.since(before)) == {"GET /tokens": 1}

    result = ctx.declare(declared, adopt=True).task(TASK)
    adopted = result["tokens"]["erp-sender"]
    assert adopted["adopted"] == known["referenceNumber"] == adopted["reference_number"]
    assert adopted["actions"][0]["action"] == "keep"
    assert ctx.store("erp-sender").read_text().strip() == known["token"]
    assert result["api_calls"]["POST /tokens"] == 1, "only the token without a stored value is created"
    statuses = {ref: t["status"] for ref, t in ctx.listed().items()}
    assert statuses[known["referenceNumber"]] == "Active" and statuses[unknown["referenceNumber"]] == "Active"

    again = ctx.declare(declared, adopt=True, exclusive="all").task(TASK)
    assert again["tokens"]["erp-sender"]["adopted"] == known["referenceNumber"]
    assert {e["reference_number"] for e in again["revoked"]} == {unknown["referenceNumber"]}, \
        "exclusive: all spares the adopted token and revokes the unadopted look-alike"


def test_check_mode_returns_the_plan_and_diff_without_mutations(ctx):
    kept = ctx.declare([ctx.entry("erp-sender", verify=False)]).task(TASK)["tokens"]["erp-sender"]
    declared = [ctx.entry("erp-sender", permissions=["InvoiceRead"]), ctx.entry("archiver"),
                ctx.entry("gone", state="absent")]
    before = ctx.calls()
    result = ctx.declare(declared, check=True, diff=True).task(TASK)
    assert result["changed"] is True
    assert actions(result) == [("erp-sender", "replace"), ("erp-sender", "revoke"), ("archiver", "create")]
    replace = result["plan"][0]
    assert replace["reference_number"] == kept["reference_number"] and "permissions differ" in replace["reason"]
    assert set(replace) == {"name", "action", "reference_number", "reason"}
    assert only_tokens_calls(ctx.since(before)) == {"GET /tokens": 1}
    assert not ctx.store("archiver").exists()
    diff = result["diff"]
    assert diff["before"]["erp-sender"]["permissions"] == list(RW)
    assert diff["after"]["erp-sender"]["permissions"] == ["InvoiceRead"]
    assert diff["before"]["archiver"] == {} and diff["after"]["archiver"]["status"] == "Active"
    assert "gone" not in diff["before"], "nothing to revoke for an absent name without tokens"


def test_duplicate_names_fail_before_any_api_call(ctx):
    failed = ctx.declare([ctx.entry("erp-sender"), ctx.entry("archiver"), ctx.entry("erp-sender")],
                         expect_rc=2).task(TASK)
    assert failed["option"] == "tokens[2].name"
    assert "declared twice" in failed["msg"] and "tokens[0]" in failed["msg"]
    assert failed["api_calls"] == {}
    assert ctx.calls() == {}
    bad = ctx.declare([ctx.entry("erp-sender", permissions=["invoices_read"])], expect_rc=2).task(TASK)
    assert bad["option"] == "tokens[0].permissions" and bad["api_calls"] == {}
    store = ctx.declare([ctx.entry("erp-sender", store=[{"type": "file", "path": str(ctx.store("x")),
                                                         "url": "https://vault"}])], expect_rc=2).task(TASK)
    assert store["option"] == "tokens[0].store[0].url" and store["api_calls"] == {}
    # A store that cannot be read stops the run before the login, and the message says whose store it is.
    broken = ctx.tmp_path / "broken.yml"
    broken.write_text("a: [unclosed\n")
    broken.chmod(0o600)
    unreadable = ctx.declare([ctx.entry("erp-sender"), ctx.entry("archiver", store=[
        {"type": "file", "path": str(broken), "format": "yaml", "key": "archiver"}])], expect_rc=2).task(TASK)
    assert unreadable["msg"].startswith("archiver: file:%s#archiver: " % broken), unreadable["msg"]
    assert unreadable["msg"].endswith("; nothing was changed") and unreadable["api_calls"] == {}
    assert ctx.calls() == {}, "no request reached KSeF for this context"


def test_one_failing_token_does_not_undo_the_others(ctx):
    ctx.emulator.admin("PUT", "activation", json={"fail_next": 1}).raise_for_status()
    declared = [ctx.entry("first", verify=False), ctx.entry("second", verify=False)]
    run = ctx.declare(declared, expect_rc=2)
    result = run.task(TASK)
    assert result["failed_tokens"] == ["first"]
    assert result["tokens"]["first"]["failed"] is True and "failed to activate" in result["tokens"]["first"]["msg"]
    assert "revoked the new token" in result["msg"]
    second = result["tokens"]["second"]
    assert second["status"] == "Active" and ctx.store("second").read_text().startswith(second["reference_number"])
    assert not ctx.store("first").exists()
    # The next run creates only what is missing.
    again = ctx.declare(declared).task(TASK)
    assert actions(again) == [("first", "create"), ("second", "keep")]


def test_a_token_whose_stores_were_lost_converges_in_one_run_as_its_plan_says(ctx):
    """Lost right after it was made (younger than the orphan margin): the plan says what happens to the old
    token, the run does just that, and the run after it changes nothing."""
    declared = [ctx.entry("erp-sender", verify=False),
                ctx.entry("archiver", verify=False, revoke_previous_after="1h")]
    made = ctx.declare(declared).task(TASK)["tokens"]
    lost = {name: made[name]["reference_number"] for name in ("erp-sender", "archiver")}
    ctx.store("erp-sender").unlink()
    ctx.store("archiver").unlink()

    printed = ctx.declare(declared, diff=True)
    first = printed.task(TASK)
    assert first["changed"] is True
    # The printed plan (no -v) says what happens to each old token, and nothing about a change in progress.
    text = " ".join(printed.stdout.split())
    assert "the old one, %s, is revoked in this run once the new one is stored" % lost["erp-sender"] in text
    assert "the old one, %s, stays valid until " % lost["archiver"] in text
    assert "Plan: 2 to rotate. Old ones: 1 revoked in this run, 1 kept until " in text
    assert "in progress" not in text
    assert [(r["name"], r["action"], r["reference_number"]) for r in first["plan"]] == [
        ("erp-sender", "rotate", lost["erp-sender"]), ("erp-sender", "revoke", lost["erp-sender"]),
        ("archiver", "rotate", lost["archiver"]), ("archiver", "retain", lost["archiver"])]
    revoke, retain = first["plan"][1], first["plan"][3]
    assert revoke["reason"] == "no store holds its value; superseded by the new token"
    assert retain["reason"].startswith("value lost from the stores; kept until ")
    assert "revoke_previous_after 1h" in retain["reason"]
    assert {e["reference_number"] for e in first["revoked"]} == {lost["erp-sender"]}
    listed = ctx.listed()
    assert listed[lost["erp-sender"]]["status"] in ("Revoking", "Revoked")
    assert listed[lost["archiver"]]["status"] == "Active", "a consumer may still hold it: kept for the grace"

    second = ctx.declare(declared, diff=True).task(TASK)
    assert second["changed"] is False, second["plan"]
    assert [(r["name"], r["action"], r["reference_number"]) for r in second["plan"]] == [
        ("erp-sender", "keep", first["tokens"]["erp-sender"]["reference_number"]),
        ("archiver", "keep", first["tokens"]["archiver"]["reference_number"]),
        ("archiver", "retain", lost["archiver"])]
    announced = datetime.fromisoformat(retain["reason"].split("kept until ")[1].split(" ")[0])
    kept = datetime.fromisoformat(second["plan"][2]["reason"].split("kept until ")[1].split(" ")[0])
    # Counted from the new token's creation, a moment after the first run planned: never earlier than announced.
    assert kept >= announced and "revoke_previous_after 1h" in second["plan"][2]["reason"]
    assert second["revoked"] == []
