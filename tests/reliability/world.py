"""A small fleet for the reliability suites: contexts with seeded manager tokens, a converge playbook run as a
real `ansible-playbook` process (killable), and the invariants every run must leave behind (or restore).

Invariants, per context and declared name:
- exactly one live (Pending or Active) managed token, and it is Active;
- its store holds its value (and only the store; a value is never lost);
- no orphan: no other live managed token with that name.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ksef_emulator.testcerts import random_nip

from tests.conftest import COLLECTIONS, REPO, VENV_BIN

CONVERGE = Path(__file__).parent / "playbooks" / "converge.yml"
DECLARED = [
    {"name": "erp", "description": "ERP invoice sender", "permissions": ["InvoiceRead", "InvoiceWrite"]},
    {"name": "archiver", "description": "Invoice archive", "permissions": ["InvoiceRead"]},
]
LIVE = ("Pending", "Active")
ORPHAN_MARGIN_SECONDS = 600


@dataclass
class Context:
    nip: str
    manager_ref: str
    store_dir: Path


@dataclass
class Fleet:
    emulator: object
    root: Path
    contexts: list[Context] = field(default_factory=list)
    declared: list[dict] = field(default_factory=lambda: [dict(d) for d in DECLARED])

    @classmethod
    def create(cls, emulator, root: Path, size: int) -> "Fleet":
        fleet = cls(emulator, root)
        (root / "secrets").mkdir(parents=True, exist_ok=True)
        for _context_number in range(size):
            nip = random_nip()
            seeded = emulator.admin("POST", "tokens", json={
                "context": f"Nip:{nip}", "description": "bootstrap manager",
                "permissions": ["CredentialsManage", "CredentialsRead", "InvoiceRead", "InvoiceWrite"]})
            seeded.raise_for_status()
            token_file = root / "secrets" / f"{nip}.token"
            fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(seeded.json()["token"])
            store_dir = root / "stores" / nip
            store_dir.mkdir(parents=True)
            fleet.contexts.append(Context(nip, seeded.json()["referenceNumber"], store_dir))
        return fleet

    # -- running ------------------------------------------------------------------------------------
    def inventory(self) -> Path:
        path = self.root / "inventory.json"
        hosts = {f"nip{c.nip}": {"nip": c.nip, "store_dir": str(c.store_dir),
                                 "manager_token_file": str(self.root / "secrets" / f"{c.nip}.token")}
                 for c in self.contexts}
        path.write_text(json.dumps({"all": {"vars": {"ansible_connection": "local", "api_url": self.emulator.api_url,
                                                     "declared_tokens": self.declared},
                                            "hosts": hosts}}))
        return path

    def start(self, *, rotate: bool = False, tag: str = "run") -> subprocess.Popen:
        """ansible-playbook in its own process group (so a test can SIGKILL the whole tree)."""
        results = self.root / f"results-{tag}.jsonl"
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
                   ANSIBLE_CALLBACK_PLUGINS=str(REPO / "tests" / "integration" / "callback_plugins"),
                   ANSIBLE_CALLBACKS_ENABLED="result_dump", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
                   ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_NOCOLOR="1", KSEF_TEST_RESULTS_FILE=str(results),
                   KSEF_LOCK_DIR=str(self.root / "locks"), PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        cmd = [str(VENV_BIN / "ansible-playbook"), str(CONVERGE), "-i", str(self.inventory()), "--forks", "4",
               "-e", json.dumps({"rotate": rotate})]
        log = open(self.root / f"ansible-{tag}.log", "w")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.root,
                                start_new_session=True)
        proc.log_path = self.root / f"ansible-{tag}.log"
        proc.results_path = results
        log.close()
        return proc

    def run(self, *, rotate: bool = False, tag: str = "run", timeout: float = 300) -> "RunOutcome":
        proc = self.start(rotate=rotate, tag=tag)
        proc.wait(timeout)
        return RunOutcome.read(proc)

    # -- state --------------------------------------------------------------------------------------
    def tokens(self, context: Context) -> list[dict]:
        listed = self.emulator.admin("GET", "tokens", params={"context": f"Nip:{context.nip}"}).json()
        return listed["tokens"] if isinstance(listed, dict) else listed

    def live_managed(self, context: Context, name: str) -> list[dict]:
        marker = f"[ksef.credentials:{name}]"
        return [t for t in self.tokens(context) if t["status"] in LIVE and t["description"].endswith(marker)]

    def backdate_live(self, seconds: int = ORPHAN_MARGIN_SECONDS + 60) -> int:
        """Age every live managed token past the orphan margin, so a rerun may revoke the orphans."""
        aged = 0
        for context in self.contexts:
            for item in self.declared:
                for token in self.live_managed(context, item["name"]):
                    self.emulator.admin("POST", f"tokens/{token['referenceNumber']}/backdate",
                                        json={"seconds": seconds}).raise_for_status()
                    aged += 1
        return aged

    def violations(self) -> list[str]:
        """Every broken invariant, as text (empty when all hold)."""
        found = []
        for context in self.contexts:
            manager = [t for t in self.tokens(context) if t["referenceNumber"] == context.manager_ref]
            if not manager or manager[0]["status"] != "Active":
                found.append(f"{context.nip}: the manager token was revoked")
            for item in self.declared:
                live = self.live_managed(context, item["name"])
                where = f"{context.nip}/{item['name']}"
                if len(live) != 1:
                    found.append(f"{where}: {len(live)} live tokens ({[t['status'] for t in live]})")
                    continue
                (token,) = live
                if token["status"] != "Active":
                    found.append(f"{where}: current token is {token['status']}")
                store = context.store_dir / f"{item['name']}.token"
                held = store.read_text().strip() if store.exists() else ""
                if not held.startswith(token["referenceNumber"] + "|"):
                    found.append(f"{where}: the store does not hold the current token")
        return found

    def stores_missing_values(self) -> list[str]:
        """Stores that do not hold the value of a live Active token of their name (orphans allowed)."""
        missing = []
        for context in self.contexts:
            for item in self.declared:
                active = {t["referenceNumber"] for t in self.live_managed(context, item["name"])
                          if t["status"] == "Active"}
                store = context.store_dir / f"{item['name']}.token"
                held = store.read_text().split("|", 1)[0] if store.exists() else None
                if held not in active:
                    missing.append(f"{context.nip}/{item['name']}")
        return missing

    def leftover_temp_files(self) -> list[Path]:
        return [p for c in self.contexts for p in c.store_dir.iterdir() if p.name.endswith(".tmp")]


@dataclass
class RunOutcome:
    rc: int
    output: str
    results: list[dict]

    @classmethod
    def read(cls, proc: subprocess.Popen) -> "RunOutcome":
        results = []
        if proc.results_path.exists():
            results = [json.loads(line) for line in proc.results_path.read_text().splitlines() if line.strip()]
        return cls(proc.returncode, proc.log_path.read_text(), results)

    def failure_messages(self) -> list[str]:
        """The message of every failed token task item."""
        messages = []
        for record in self.results:
            for item in record["result"].get("results", [record["result"]]):
                if item.get("failed") or record["status"] == "failed" and item.get("msg"):
                    if item.get("msg") and item.get("failed", True):
                        messages.append(item["msg"])
        return messages
