"""Property: any declaration either fails validation cleanly (a KsefConfigError naming a real option,
before any API call) or converges (the plan issues at most one token and then keeps it).

In-process through the module's validation and planning entry points (many examples), plus a few full playbook
runs against the emulator that check the same property end to end, with zero mutations on a validation error.
"""
from __future__ import annotations

import os
import random
import string
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ksef_emulator.testcerts import random_nip

from ansible_collections.ksef.credentials.plugins.module_utils import _identity
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import token_plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._declarations import RunOptions
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token import TOKEN
from ansible_collections.ksef.credentials.plugins.module_utils._connection import validate_context
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._permissions import OFFICIAL

PLAYBOOK = Path(__file__).parent / "playbooks" / "token.yml"
OPTIONS = {"name", "description", "permissions", "state", "rotate_after", "revoke_previous_after", "wait_timeout",
           "context", "context.nip", "context.internal_id"}
SNAKE = [("".join("_" + c.lower() if c.isupper() else c for c in name)).lstrip("_") for name in OFFICIAL]
EXAMPLES_IN_PROCESS = 400
# Full playbook runs of random valid declarations: two in `make test` (the 15-minute budget), eight in the soak.
FULL_RUNS = 8 if os.environ.get("KSEF_SOAK") == "1" else 2

valid_names = st.from_regex(r"\A[a-z0-9][a-z0-9_.-]{0,62}\Z")
names = st.one_of(valid_names, st.text(max_size=70))
permissions = st.lists(st.one_of(st.sampled_from(list(OFFICIAL) + SNAKE), st.text(max_size=12)), max_size=5)
durations = st.one_of(st.none(), st.sampled_from(["90d", "12h", "30m", "1d12h", "2w", "0s"]), st.text(max_size=6))
nips = st.one_of(st.builds(lambda seed: random_nip(random.Random(seed)), st.integers(0, 10**6)),
                 st.text(alphabet=string.digits, min_size=8, max_size=11))
declarations = st.fixed_dictionaries({
    "name": names,
    "description": st.one_of(st.just(""), st.text(max_size=260)),
    "permissions": permissions,
    "state": st.sampled_from(["present", "absent"]),
    "rotate_after": durations,
    "revoke_previous_after": st.one_of(st.just("0s"), durations),
    "wait_timeout": st.integers(-2, 200),
    "context": st.fixed_dictionaries({"nip": nips}),
})

# Declarations that pass validation, for the full runs (the random ones above mostly fail validation).
valid_declarations = st.fixed_dictionaries({
    "name": valid_names,
    "description": st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                           max_size=120),
    "permissions": st.lists(st.sampled_from(list(OFFICIAL) + SNAKE), min_size=1, max_size=4),
    "state": st.just("present"),
    "rotate_after": st.sampled_from([None, "90d", "1d12h"]),
    "revoke_previous_after": st.sampled_from(["0s", "1d"]),
    "wait_timeout": st.integers(20, 60),
    "context": st.fixed_dictionaries({"nip": st.builds(lambda seed: random_nip(random.Random(seed)),
                                                       st.integers(0, 10**6))}),
})


def validate(params: dict):
    """What the module checks before it opens a connection; returns the Declared or raises naming the option."""
    validate_context(params["context"])
    declared = TOKEN.declare(params)
    RunOptions.from_params(params, TOKEN)
    return declared


def _issued_token(declared, now) -> dict:
    """The API list item of the token an issuing step would create."""
    return {"referenceNumber": "20251010-EC-1DCE3E3000-12ECB5B36E-45", "status": "Active",
            "requestedPermissions": list(declared.permissions), "description": declared.full_description,
            "dateCreated": now.isoformat()}


@settings(max_examples=EXAMPLES_IN_PROCESS, deadline=None, derandomize=True)
@given(params=declarations)
def test_a_declaration_is_refused_naming_an_option_or_converges(params):
    try:
        declared = validate(params)
    except KsefConfigError as exc:
        assert exc.option in OPTIONS, exc.option
        assert str(exc) and len(str(exc)) < 400
        return
    assert _identity.DESCRIPTION_MIN <= len(declared.full_description) <= _identity.DESCRIPTION_MAX
    assert set(declared.permissions) <= set(OFFICIAL)
    now = datetime.now(timezone.utc)
    holdings = [p.Holding("file:/etc/erp.token", None)]
    first = p.plan(declared, [], holdings, now)
    issuing = [s for s in first.steps if s.action in p.ISSUING]
    if declared.state == "absent":
        assert first.steps == [] and not first.changed
        return
    assert [s.action for s in issuing] == [p.CREATE]
    created = _issued_token(declared, now)
    # after apply: the token is live and the store holds it; a second plan (also much later) keeps it
    held = [p.Holding("file:/etc/erp.token", created["referenceNumber"])]
    again = p.plan(declared, [created], held, now + timedelta(seconds=5))
    assert not again.changed, again.steps
    assert [s.action for s in again.steps] == [p.KEEP]


@pytest.mark.integration
@settings(max_examples=FULL_RUNS, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(params=st.one_of(valid_declarations, declarations))
def test_full_runs_refuse_before_any_change_or_converge(params, emulator, run_playbook, tmp_path):
    nip = random_nip()
    seeded = emulator.admin("POST", "tokens", json={"context": f"Nip:{nip}", "permissions": list(OFFICIAL)}).json()
    store = tmp_path / f"{nip}.token"
    try:  # a valid drawn NIP is swapped for the fresh one that has a manager token; an invalid one stays
        validate_context(params["context"])
        params = dict(params, context={"nip": nip})
    except KsefConfigError:
        pass
    valid = _option(params) is None
    extra = {"api_url": emulator.api_url, "context": params["context"], "auth": {"ksef_token": seeded["token"]},
             "token_name": params["name"], "token_description": params["description"],
             "permissions": params["permissions"], "state": params["state"], "wait_timeout": params["wait_timeout"],
             "stores": [{"type": "file", "path": str(store)}]}
    for option in ("rotate_after", "revoke_previous_after"):
        if params[option] is not None:
            extra[option] = params[option]

    def mutations():
        ops = emulator.stats()["by_context"].get(f"Nip:{nip}", {})
        return sum(n for op, n in ops.items() if op.startswith(("POST /tokens", "DELETE /tokens")))

    before = mutations()
    first = run_playbook(PLAYBOOK, extra, expect_rc=None, env={"KSEF_LOCK_DIR": str(tmp_path)})
    result = first.task("Declare the token")
    if not valid:
        assert first.rc == 2 and result.get("option") in OPTIONS | {None}, result
        assert result["msg"]
        assert mutations() == before, "a refused declaration sent a POST or DELETE"
        return
    assert first.rc == 0, result.get("msg")
    second = run_playbook(PLAYBOOK, extra, env={"KSEF_LOCK_DIR": str(tmp_path)})
    assert second.task("Declare the token")["changed"] is False
    if params["state"] == "present":
        assert store.read_text().startswith(result["reference_number"] + "|")


def _option(params):
    try:
        validate(params)
    except KsefConfigError as exc:
        return exc.option
    return None
