"""`make ee-test`: jobs in the execution environment image, run the way AWX runs them.

AWX hands a job to an execution node as a private data directory: the inventory, the project, the extra variables,
and what its credentials inject (environment variables, and files in env/). Receptor streams that directory to
`ansible-runner worker` inside the EE container, and streams the job's events back to `ansible-runner process`,
which writes the artifacts AWX shows (job_events, stdout, rc, status). These tests run the same three programs:
`ansible-runner transmit` | `podman run -i IMAGE ansible-runner worker` | `ansible-runner process`, against the
emulator and an OpenBao server on the host's loopback (the container shares the host's network).

The credentials are the definitions shipped in extensions/awx/credential_types, rendered as AWX renders injectors
(tests/support/awx_credentials.py).
The jobs: the demo playbook logging in with a KSeF certificate credential (files); the tokens role creating a token
into Vault with a KSeF token credential and a Vault credential, then rotating it; and a job that fails (a Vault
token Vault refuses). Afterwards, no secret may be in any artifact, in the output, or anywhere in the private data
directories but the credential inputs themselves (AWX deletes a job's private data directory when the job ends).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from ksef_emulator.testcerts import generate_certificate, random_nip

from tests.security.canary import Canaries, leaks_in_files, walk_files
from tests.support.awx_credentials import inject

REPO = Path(__file__).resolve().parents[2]
RUNNER = Path(sys.executable).parent / "ansible-runner"
IMAGE = os.environ.get("KSEF_EE_IMAGE", "localhost/ksef-credentials-ee:latest")
# Where the worker unpacks the private data directory inside the container (ansible-runner worker's option).
RUNNER_DIR = "/runner"

pytestmark = pytest.mark.ee


@dataclass
class Job:
    private_data_dir: Path
    rc: int
    status: str
    stdout: str
    events: list[dict]
    streams: str  # what the three programs printed

    def results(self, task: str) -> list[dict]:
        return [e["event_data"]["res"] for e in self.events
                if e.get("event") in ("runner_on_ok", "runner_on_failed") and e["event_data"].get("task") == task]


def run_job(root: Path, name: str, playbook: Path, inventory: dict, extra_vars: dict,
            credentials: list[tuple[str, dict]]) -> Job:
    """One AWX job: a fresh private data directory, transmitted to a worker in the image, its events processed."""
    pdd = root / name
    for sub in ("env", "inventory", "project"):
        (pdd / sub).mkdir(parents=True)
    env, injected_vars = {}, {}
    for type_name, inputs in credentials:
        credential_env, credential_vars = inject(type_name, inputs, pdd / "env", seen_as=f"{RUNNER_DIR}/env")
        env.update(credential_env)
        injected_vars.update(credential_vars)
    (pdd / "env" / "envvars").write_text(yaml.safe_dump(env))
    (pdd / "env" / "extravars").write_text(yaml.safe_dump({**extra_vars, **injected_vars}))
    (pdd / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (pdd / "project" / playbook.name).write_text(playbook.read_text())
    ident = "1"
    transmit = subprocess.Popen([str(RUNNER), "transmit", str(pdd), "-p", playbook.name, "--ident", ident],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    worker = subprocess.Popen(["podman", "run", "--rm", "-i", "--network", "host", IMAGE,
                               "ansible-runner", "worker", "--private-data-dir", RUNNER_DIR],
                              stdin=transmit.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    transmit.stdout.close()
    process = subprocess.run([str(RUNNER), "process", str(pdd), "--ident", ident], stdin=worker.stdout,
                             capture_output=True, text=True, timeout=900, check=False)
    worker.stdout.close()
    streams = "\n".join([process.stdout, process.stderr, worker.stderr.read().decode(),
                         transmit.stderr.read().decode()])
    worker.wait(60)  # its exit code follows the playbook's; the job's outcome is in the processed artifacts
    assert transmit.wait(60) == 0, streams
    artifacts = pdd / "artifacts" / ident
    assert (artifacts / "rc").exists(), f"no artifacts: {streams[-4000:]}"
    events = [json.loads(p.read_text()) for p in (artifacts / "job_events").glob("*.json")]
    events.sort(key=lambda e: e["counter"])
    return Job(pdd, int((artifacts / "rc").read_text()), (artifacts / "status").read_text(),
               (artifacts / "stdout").read_text(), events, streams)


@pytest.fixture
def podman_env(monkeypatch):
    # The project's podman settings (runc, cgroupfs, no default ulimits), as `make ee-test` sets them.
    monkeypatch.setenv("CONTAINERS_CONF", os.environ.get("CONTAINERS_CONF", str(REPO / "ee" / "containers.conf")))
    image = subprocess.run(["podman", "image", "exists", IMAGE], check=False)
    assert image.returncode == 0, f"{IMAGE} is not built: run make ee"


def test_jobs_run_in_the_image_with_awx_credentials_and_leave_no_secret(
        podman_env, emulator_factory, openbao, tmp_path):
    openbao.reset()
    emulator = emulator_factory("--expose-secrets", "--activation-delay", "0.3")
    jobs_dir, inputs = tmp_path / "jobs", tmp_path / "inputs"
    jobs_dir.mkdir()
    inputs.mkdir()
    base_vars = {"ksef_api_url": emulator.api_url}

    # 1. The demo, logging in with a KSeF certificate credential: certificate and key injected as files.
    demo_nip = random_nip()
    seal = generate_certificate(inputs / "seal", nip=demo_nip, kind="seal")
    demo = run_job(jobs_dir, "demo", REPO / "docs" / "examples" / "demo.yml",
                   {"all": {"hosts": {"localhost": {"ansible_connection": "local"}}}},
                   {**base_vars, "ksef_nip": demo_nip, "ksef_output_dir": "/tmp/ksef-demo"},
                   [("ksef_certificate", {"certificate": seal.cert_path.read_text(),
                                          "private_key": seal.key_path.read_text()})])
    assert (demo.rc, demo.status) == (0, "successful"), demo.stdout[-6000:]
    created = demo.results("Declare the ERP's invoice-sending token")
    assert created and created[0]["changed"] is True and created[0]["status"] == "Active"
    assert "ok=5" in demo.stdout and "failed=0" in demo.stdout

    # 2. The tokens role of one company, logging in with a KSeF token credential, storing into Vault with a
    #    Vault credential; then the same job with rotate: true.
    nip = random_nip()
    manager = emulator.admin("POST", "tokens", json={
        "context": f"Nip:{nip}", "permissions": ["CredentialsManage", "CredentialsRead", "InvoiceRead",
                                                 "InvoiceWrite"]}).json()["token"]
    declared = {"name": "erp", "description": "ERP sends invoices", "permissions": ["InvoiceWrite", "InvoiceRead"],
                "store": [{"type": "hashicorp_vault", "path": "ksef/acme/erp"}]}

    def company(**token_options) -> dict:
        return {"all": {"hosts": {"acme": {"ansible_connection": "local", "ksef_context": {"nip": nip},
                                           "ksef_tokens": [{**declared, **token_options}]}}}}

    role_play = tmp_path / "site.yml"
    role_play.write_text("---\n- name: KSeF tokens of every company\n  hosts: all\n  gather_facts: false\n"
                         "  roles:\n    - role: ksef.credentials.tokens\n")
    credentials = [("ksef_token", {"ksef_token": manager}),
                   ("hashicorp_vault_store", {"url": openbao.url, "token": openbao.root_token})]
    create = run_job(jobs_dir, "create", role_play, company(), base_vars, credentials)
    assert (create.rc, create.status) == (0, "successful"), create.stdout[-6000:]
    first = openbao.data("ksef/acme/erp")["token"]
    assert first.split("|")[1] == f"nip-{nip}"
    rotate = run_job(jobs_dir, "rotate", role_play, company(rotate=True), base_vars, credentials)
    assert (rotate.rc, rotate.status) == (0, "successful"), rotate.stdout[-6000:]
    second = openbao.data("ksef/acme/erp")["token"]
    assert second != first and second.split("|")[1] == f"nip-{nip}"

    # 3. A failing job: Vault refuses the injected token; nothing is issued.
    wrong_vault_token = "hvs." + os.urandom(12).hex()
    tokens_before = len(emulator.admin("GET", "tokens", params={"context": f"Nip:{nip}"}).json()["tokens"])
    failed = run_job(jobs_dir, "failed", role_play, company(rotate=True), base_vars,
                     [("ksef_token", {"ksef_token": manager}),
                      ("hashicorp_vault_store", {"url": openbao.url, "token": wrong_vault_token})])
    assert (failed.rc, failed.status) != (0, "successful")
    refused = failed.results("Reconcile the declared tokens")
    assert refused and "vault:secret/data/ksef/acme/erp" in refused[0]["msg"] and "403" in refused[0]["msg"], \
        failed.stdout[-4000:]
    assert refused[0]["api_calls"] == {}  # refused before any KSeF request
    assert len(emulator.admin("GET", "tokens", params={"context": f"Nip:{nip}"}).json()["tokens"]) == tokens_before

    # No secret anywhere the jobs wrote: artifacts (job_events, stdout, ...), and what the programs printed.
    canaries = Canaries()
    canaries.add_emulator_secrets(emulator)
    canaries.add("manager token", manager)
    canaries.add("vault root token", openbao.root_token)
    canaries.add("refused vault token", wrong_vault_token)
    canaries.add_private_key(seal.key_path, None)
    minted = json.loads(emulator.admin("GET", "secrets").text)
    assert len(minted["ksef_tokens"]) >= 6 and len(minted["access_tokens"]) >= 4, minted.keys()
    jobs = (demo, create, rotate, failed)
    credential_inputs = {job.private_data_dir / "env" for job in jobs}
    files = walk_files(jobs_dir, skip=credential_inputs)
    assert sum(1 for p in files if "job_events" in p.parts) >= 40, "the jobs wrote no events: the scan proves nothing"
    # Control: the scan finds the injected secrets where AWX puts them.
    assert leaks_in_files(canaries, walk_files(*credential_inputs))
    leaks = leaks_in_files(canaries, files)
    for job in jobs:
        leaks += canaries.leaks_in(f"{job.private_data_dir.name} streams", job.streams)
    assert leaks == [], f"secrets leaked (where, kind): {sorted(set(leaks))}"
