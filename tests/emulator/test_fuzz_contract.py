"""Contract-based fuzzing of the emulator with schemathesis: every operation of the groups /auth, /tokens,
/certificates, /permissions, /testdata and /security in the contract the emulator follows (ksef_emulator.contract).

Each operation gets requests built from its schemas, valid and not (schemathesis' examples, coverage and fuzzing
phases), sent by an owner logged in with a company seal (XAdES), and each answer must keep the contract: never a 5xx,
only documented statuses, content types, headers and bodies (schemathesis' own checks), and every exchange is then
checked once more by the emulator's conformance check (ksef_emulator.conformance), which also knows the two error
formats and X-Error-Format.

Where the contract contradicts itself, fuzzed_contract() makes it consistent the way the service behaves, each case
with its reason in docs/emulator-limits.md; nothing else is excused. `make test` runs a bounded number of examples per
operation; the soak run (the `soak` marker, KSEF_SOAK=1) the coverage phase and many more.
"""
from __future__ import annotations

import copy
import json
import re

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ksef_emulator.conformance import OFFSET_OPTIONAL_DATE_TIMES, ContractChecker
from ksef_emulator.contract import contract
from tests.conftest import WORKER, Emulator, free_port

from .conftest import KsefClient, new_nip
from .test_signature_auth import Signer

pytestmark = pytest.mark.timeout(300)

FUZZED = re.compile(r"^/(auth|tokens|certificates|permissions|testdata|security)(/|$)")


# Operations that end the caller's own session: each example gets a session of its own.
ENDS_THE_SESSION = {("DELETE", "/auth/sessions/current")}

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


class Fuzzing:
    """The fuzzed emulator (limits off, its own capture) and an owner's sessions on it."""

    def __init__(self, tmp_path_factory, output_dir):
        state = tmp_path_factory.mktemp("emulator-fuzz")
        self.capture = output_dir / f"fuzz-capture-{WORKER}.jsonl"
        self.capture.unlink(missing_ok=True)
        self.emu = Emulator(port=free_port(), state_dir=state, log_path=output_dir / f"emulator-{WORKER}-fuzz.log",
                            args=["--capture", str(self.capture), "--rate-limits", "off", "--activation-delay", "0",
                                  "--auth-delay", "0"])
        self.emu.start()
        self.ksef = KsefClient(self.emu)
        self.nip = new_nip()
        self.signer = Signer(self.ksef, tmp_path_factory.mktemp("fuzz-certs"))
        self.files = self.signer.cert(nip=self.nip, kind="seal")
        self.session = requests.Session()
        self.owner = self.login()

    def login(self) -> dict:
        headers, _tokens = self.signer.login(self.files, self.nip)
        return headers

    def headers(self, case) -> dict:
        """The owner's session; a fresh one for an operation that ends it (nothing else fuzzed can end it)."""
        return self.login() if (case.method, case.operation.path) in ENDS_THE_SESSION else dict(self.owner)


@pytest.fixture(scope="module")
def fuzzing(tmp_path_factory, output_dir):
    run = Fuzzing(tmp_path_factory, output_dir)
    yield run
    run.emu.stop()


def fuzzed_contract() -> dict:
    """The contract with its own inconsistencies made consistent the way the service behaves (see the list)."""
    document = copy.deepcopy(contract())
    schemas = document["components"]["schemas"]
    # ExceptionInfo.timestamp is a date-time, but the contract's own example (and the service) send it without an
    # offset ("2025-10-11T12:23:56.0154302"); conformance.py knows the same exception.
    for name, prop in OFFSET_OPTIONAL_DATE_TIMES:
        schemas[name]["properties"][prop].pop("format", None)
    return document


def fuzzed_schema(coverage: bool):
    """The operations to fuzz: every operation of the fuzzed groups.

    coverage: schemathesis' coverage phase too (boundary values, wrong types, missing fields and unexpected methods
    for every parameter: about a hundred requests an operation), for the soak run.
    """
    fuzzed = schemathesis.openapi.from_dict(fuzzed_contract()).include(path_regex=FUZZED.pattern)
    fuzzed.config.phases.coverage.enabled = coverage
    return fuzzed


schema = fuzzed_schema(coverage=False)
soak_schema = fuzzed_schema(coverage=True)


def send_and_check(case, fuzzing) -> None:
    case.call_and_validate(checks=CHECKS, base_url=fuzzing.emu.api_url, session=fuzzing.session,
                           headers=fuzzing.headers(case), timeout=30)


# make test: the contract's examples and 40 fuzzed examples per operation, the same every run (derandomize), so a
# failure reproduces.
@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_fuzzed_request_gets_an_answer_the_contract_documents(case, fuzzing):
    send_and_check(case, fuzzing)


# The soak run: the coverage phase and 300 random examples per operation.
@pytest.mark.soak
@soak_schema.parametrize()
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
def test_soak_every_fuzzed_request_gets_an_answer_the_contract_documents(case, fuzzing):
    send_and_check(case, fuzzing)


def test_every_operation_of_the_fuzzed_groups_is_fuzzed():
    """Every operation the contract has in the fuzzed groups is served and fuzzed: none is left out."""
    fuzzed = {(operation.method.upper(), operation.path) for operation in (r.ok() for r in schema.get_all_operations())}
    documented = {(method.upper(), path) for path, methods in contract()["paths"].items() if FUZZED.match(path)
                  for method in methods if method in ("get", "post", "put", "delete", "patch")}
    assert fuzzed == documented and any(path.startswith("/permissions/") for _method, path in fuzzed)


def check_the_capture(fuzzing) -> None:
    """The emulator's own conformance check on every exchange of the fuzzing."""
    if fuzzing.emu.proc is not None and fuzzing.emu.proc.poll() is None:
        # Still alive after all of it; stopped so that the capture is complete.
        assert httpx.get(f"{fuzzing.emu.base_url}/_emulator/health", timeout=10).status_code == 200
        fuzzing.emu.stop()
    checker = ContractChecker.from_file()
    # One exchange a line; fuzzed text may hold other line breaks (U+2028 and the like), so split on "\n" only.
    lines = fuzzing.capture.read_text(encoding="utf-8").split("\n")
    records = [json.loads(line) for line in lines if line.strip()]
    fuzzed = [r for r in records if FUZZED.match(r["path"][len("/v2"):])]
    assert len(fuzzed) > 100, f"only {len(fuzzed)} fuzzed exchanges were captured"
    problems = []
    for record in fuzzed:
        problems += checker.check_exchange(record)
    assert problems == [], f"{len(problems)} problems in {len(fuzzed)} exchanges:\n" + "\n".join(problems[:40])


# These two run after the fuzzing (file order; `--dist loadfile` keeps a file on one worker).
def test_every_fuzzed_exchange_keeps_the_contract(fuzzing):
    check_the_capture(fuzzing)


@pytest.mark.soak
def test_soak_every_fuzzed_exchange_keeps_the_contract(fuzzing):
    check_the_capture(fuzzing)
