"""Bad input fails with a clear message naming the option, before any change (no POST or DELETE reaches KSeF).

All cases run in one ansible-playbook run (one inventory host per case, in parallel forks); each test checks
one case. Refusals that only KSeF can make (wrong credentials, 26001, 403) are checked by the state afterwards:
the request was sent, KSeF refused it, and no token was created or revoked.
"""
from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from ksef_emulator.testcerts import generate_certificate, random_nip

from tests.security.canary import Canaries

pytestmark = pytest.mark.integration

PLAYBOOK = Path(__file__).parent / "playbooks" / "bad_input.yml"
MUTATING = ("POST /tokens", "DELETE /tokens/{referenceNumber}")
MARKER_OVERHEAD = len(" [ksef.credentials:erp]")


class BadInputRun:
    """Builds the cases (each with its own context), runs them once, and answers per case."""

    def __init__(self, emulator, tmp_path: Path):
        self.emulator = emulator
        self.tmp = tmp_path
        self.cases: list[dict] = []
        self.expect: dict[str, tuple[str, str]] = {}   # case -> (option named, text in the message)
        self.nips: dict[str, str] = {}
        self.refused_by_ksef: set[str] = set()  # cases whose mutation reaches KSeF and is refused there
        self.canaries = Canaries()

    def seed(self, nip: str, permissions: list[str]) -> str:
        response = self.emulator.admin("POST", "tokens", json={"context": f"Nip:{nip}", "permissions": permissions})
        response.raise_for_status()
        token = response.json()["token"]
        self.canaries.add("seeded token", token)
        return token

    def add(self, case: str, option: str, text: str, *, nip: str | None = None, manager: bool = True,
            refused_by_ksef: bool = False, **args):
        nip = nip or random_nip()
        auth = args.pop("auth", None)
        if auth is None:
            auth = {"ksef_token": self.seed(nip, ["CredentialsManage", "CredentialsRead", "InvoiceRead"])
                    if manager else "x" * 40}
        self.cases.append({"case": case, "context": args.pop("context", {"nip": nip}), "auth": auth, **args})
        self.expect[case] = (option, text)
        self.nips[case] = nip
        if refused_by_ksef:
            self.refused_by_ksef.add(case)


@pytest.fixture(scope="module")
def bad_input(emulator, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad-input")
    run = BadInputRun(emulator, tmp)
    nip = random_nip()
    run.add("nip too short", "context.nip", "exactly 10 digits", context={"nip": "526587763"}, manager=False)
    run.add("nip checksum", "context.nip", "check digit", context={"nip": "5265877636"}, manager=False)
    run.add("internal id shape", "context.internal_id", "NIP-5digits", context={"internal_id": "5265877635-1"},
            manager=False)
    run.add("both context keys", "context", "exactly one", context={"nip": nip, "internal_id": f"{nip}-00001"},
            manager=False)
    run.add("unknown permission", "permissions", "InvoiceSend", permissions=["InvoiceRead", "InvoiceSend"])
    run.add("no permission", "permissions", "at least one", permissions=[])
    run.add("description too long", "description", "256", description="d" * (256 - MARKER_OVERHEAD + 1))
    run.add("bad name", "name", "name", name="ERP Sender!")
    run.add("conflicting auth", "auth.", "more than one way", auth={"ksef_token": "x" * 40, "access_token": "y" * 40})
    run.add("no auth", "auth", "one way to log in", auth={})
    seal_nip = random_nip()
    passphrase = secrets.token_urlsafe(12)
    seal = generate_certificate(tmp / "seal", nip=seal_nip, kind="seal", passphrase=passphrase)
    run.canaries.add_private_key(seal.key_path, passphrase)
    garbage = tmp / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    run.add("certificate missing", "auth.certificate", "", nip=seal_nip,
            auth={"certificate": str(tmp / "missing.pem"), "private_key": str(seal.key_path),
                  "private_key_passphrase": passphrase})
    run.add("certificate unreadable", "auth.certificate", "", nip=seal_nip,
            auth={"certificate": str(garbage), "private_key": str(seal.key_path),
                  "private_key_passphrase": passphrase})
    run.add("wrong key passphrase", "auth.private_key_passphrase", "wrong passphrase", nip=seal_nip,
            auth={"certificate": str(seal.cert_path), "private_key": str(seal.key_path),
                  "private_key_passphrase": passphrase + "x"})
    anonymous = generate_certificate(tmp / "anonymous", kind="seal", identifier=False)
    run.add("certificate without identifier", "auth.certificate", "no NIP or PESEL", nip=seal_nip,
            auth={"certificate": str(anonymous.cert_path), "private_key": str(anonymous.key_path)})
    run.add("unreachable api", "", "Could not reach KSeF", api_url="http://127.0.0.1:9/v2", manager=False)
    wrong_nip = random_nip()
    real = run.seed(wrong_nip, ["CredentialsManage"])
    wrong = f"{real.split('|')[0]}|nip-{wrong_nip}|{secrets.token_hex(32)}"
    run.canaries.add("wrong token", wrong)
    run.add("wrong credentials", "", "450", nip=wrong_nip, auth={"ksef_token": wrong})
    reader_nip = random_nip()
    reader = run.seed(reader_nip, ["CredentialsRead", "InvoiceRead"])
    run.add("permission the login lacks (26001)", "", "26001", nip=reader_nip, auth={"ksef_token": reader},
            permissions=["InvoiceWrite"], refused_by_ksef=True)
    victim_nip = random_nip()
    victim = emulator.admin("POST", "tokens", json={
        "context": f"Nip:{victim_nip}", "author": f"Nip:{random_nip()}", "permissions": ["InvoiceRead"],
        "description": "Someone else's token [ksef.credentials:victim]"})
    victim.raise_for_status()
    run.victim = victim.json()["referenceNumber"]
    run.add("revoke without CredentialsManage (403)", "", "403", nip=victim_nip, name="victim", state="absent",
            auth={"ksef_token": run.seed(victim_nip, ["CredentialsRead"])}, refused_by_ksef=True)
    run.add("unknown store type", "store", "type must be one of", store=[{"type": "s3", "path": "/tmp/x"}])
    run.add("store option missing", "store[0].path", "", store=[{"type": "file"}])
    run.add("store directory missing", "store[0].path", "does not exist",
            store=[{"type": "file", "path": str(tmp / "no-such-dir" / "erp.token")}])
    run.add("vault store without url", "store[0].url", "", store=[{"type": "hashicorp_vault", "path": "ksef/erp"}])
    run.add("duplicate store", "store[1]", "same place",
            store=[{"type": "file", "path": str(tmp / "a.token")}, {"type": "file", "path": str(tmp / "a.token")}])
    # Numbers are read from the ASCII digits 0-9 only: int() would take the others, or fail naming no option.
    run.add("duration with a superscript digit", "rotate_after", "'²' (U+00B2 SUPERSCRIPT TWO) is not an ASCII digit",
            rotate_after="1²d")
    run.add("number in Arabic-Indic digits", "wait_timeout", "(U+0661 ARABIC-INDIC DIGIT ONE) is not an ASCII digit",
            wait_timeout="١٢٠")
    run.add("store number in full-width digits", "store[0].timeout", "(U+FF13 FULLWIDTH DIGIT THREE)",
            store=[{"type": "hashicorp_vault", "url": "http://127.0.0.1:9", "token": "x" * 20, "path": "ksef/erp",
                    "timeout": "３０"}])
    run.add("nip in Arabic-Indic digits", "context.nip", "(U+0665 ARABIC-INDIC DIGIT FIVE) is not an ASCII digit",
            context={"nip": "٥٢٦٥٨٧٧٦٣٥"}, manager=False)
    run.add("token_auth_end in Arabic-Indic digits", "token_auth_end",
            "YYYY-MM-DD in the ASCII digits 0-9, for example 2026-12-31; character 6, '١' (U+0661 ARABIC-INDIC DIGIT "
            "ONE), is not an ASCII digit (0-9)", token_auth_end="2027-١2-31")

    return run


@pytest.fixture(scope="module")
def outcome(bad_input, emulator, tmp_path_factory):
    """Run every case once (module scope) with a small ansible-playbook runner of its own."""
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import COLLECTIONS, REPO, VENV_BIN

    tmp = bad_input.tmp
    results_file = tmp / "results.jsonl"
    vars_file = tmp / "vars.json"
    vars_file.write_text(json.dumps({"api_url": emulator.api_url}))
    inventory = tmp / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"vars": {"ansible_connection": "local"}, "hosts": {
        f"case{n}": {"case": case} for n, case in enumerate(bad_input.cases)}}}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
               ANSIBLE_CALLBACK_PLUGINS=str(REPO / "tests" / "integration" / "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="result_dump", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_NOCOLOR="1", KSEF_TEST_RESULTS_FILE=str(results_file),
               KSEF_LOCK_DIR=str(tmp / "locks"), PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    before = emulator.stats()
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), str(PLAYBOOK), "-i", str(inventory), "--forks", "8",
                           "-e", f"@{vars_file}"], capture_output=True, text=True, env=env, cwd=tmp, timeout=300,
                          check=False)
    after = emulator.stats()
    records = [json.loads(line) for line in results_file.read_text().splitlines() if line.strip()]
    hosts = {f"case{n}": case["case"] for n, case in enumerate(bad_input.cases)}
    items = {hosts[r["host"]]: dict(r["result"], status=r["status"]) for r in records
             if r["task"] == "Declare a bad token"}
    return {"proc": proc, "items": items, "before": before, "after": after}


def _mutations(stats: dict, context: str) -> int:
    return sum(n for op, n in stats["by_context"].get(context, {}).items() if op in MUTATING)


def _case_ids():
    # The ids must be known at collection time; they mirror the cases added in the fixture above.
    return ["nip too short", "nip checksum", "internal id shape", "both context keys", "unknown permission",
            "no permission", "description too long", "bad name", "conflicting auth", "no auth", "certificate missing",
            "certificate unreadable", "wrong key passphrase", "certificate without identifier", "unreachable api",
            "wrong credentials", "permission the login lacks (26001)", "revoke without CredentialsManage (403)",
            "unknown store type", "store option missing",
            "store directory missing", "vault store without url", "duplicate store",
            "duration with a superscript digit", "number in Arabic-Indic digits", "store number in full-width digits",
            "nip in Arabic-Indic digits", "token_auth_end in Arabic-Indic digits"]


def test_every_case_is_covered(bad_input, outcome):
    assert sorted(_case_ids()) == sorted(c["case"] for c in bad_input.cases) == sorted(outcome["items"])
    assert outcome["proc"].returncode == 0, outcome["proc"].stdout[-3000:]


@pytest.mark.parametrize("case", _case_ids())
def test_bad_input_fails_clearly_naming_the_option_and_changes_nothing(case, bad_input, outcome, emulator):
    item = outcome["items"][case]
    option, text = bad_input.expect[case]
    msg = item.get("msg", "")
    assert item["status"] == "failed", item
    assert msg, f"{case}: no message"
    if option:
        assert item.get("option", "").startswith(option) or option in msg, f"{case}: {option} not named in {msg!r}"
    assert text in msg, f"{case}: {text!r} not in {msg!r}"
    context = f"Nip:{bad_input.nips[case]}"
    if case not in bad_input.refused_by_ksef:
        assert _mutations(outcome["after"], context) == _mutations(outcome["before"], context), \
            f"{case}: a POST or DELETE reached KSeF"
    listed = emulator.admin("GET", "tokens", params={"context": context}).json()
    listed = listed["tokens"] if isinstance(listed, dict) else listed
    managed = {t["referenceNumber"]: t["status"] for t in listed if "[ksef.credentials:" in t["description"]}
    if case == "revoke without CredentialsManage (403)":
        assert managed == {bad_input.victim: "Active"}, f"{case}: the other token was touched"
    else:
        assert managed == {}, f"{case}: a token was created"


def test_no_secret_of_the_bad_inputs_is_echoed(bad_input, outcome):
    proc = outcome["proc"]
    leaks = bad_input.canaries.leaks_in("stdout", proc.stdout) + bad_input.canaries.leaks_in("stderr", proc.stderr)
    for case, item in outcome["items"].items():
        leaks += bad_input.canaries.leaks_in(case, repr(item))
    assert leaks == []
