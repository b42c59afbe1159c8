"""A saved plan: what it keeps, what it never keeps, and how a moved state reads (one line naming the credential)."""
import copy
import json
import os

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _saved_plan
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError

REF = "20261130-EC-1E84C4A92B-A63BF94584-1F"
NEW = "20261130-EC-2E84C4A92B-A63BF94584-2A"


class Module:
    def __init__(self, *secrets):
        self.no_log_values = set(secrets)
        self.moves = []

    def atomic_move(self, src, dest):
        self.moves.append(dest)
        os.replace(src, dest)


def saved():
    return {
        "format": _saved_plan.FORMAT,
        "kind": "token",
        "api_url": "http://127.0.0.1:8080/v2",
        "context": "Nip:5265877635",
        "made": "2026-11-30T10:00:00+00:00",
        "plan": [{"name": "erp", "action": "keep", "reference_number": REF, "reason": "up to date"}],
        "state": {
            "declared": {"erp": "a" * 64},
            "live": {REF: {"name": "erp", "status": "Active", "permissions": ["InvoiceRead"]}},
            "held": {"erp": {"file:/etc/erp.token": REF}},
        },
    }


def test_an_unchanged_state_and_plan_match():
    assert _saved_plan.moved(saved(), saved()) == []


def test_the_reason_text_alone_does_not_count():
    now = saved()
    now["plan"][0]["reason"] = "age 91d"  # reasons carry ages; the steps are what a review approves
    assert _saved_plan.moved(saved(), now) == []


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda d: d["state"]["declared"].update(erp="b" * 64), "erp: its declaration changed since the plan was made"),
        (lambda d: d["state"]["declared"].update(archive="c" * 64), "archive: declared since the plan was made"),
        (lambda d: d["state"]["declared"].pop("erp"), "erp: no longer declared"),
        (lambda d: d["state"]["live"][REF].update(status="Revoking"), "token erp %s: status was Active, now Revoking" % REF),
        (lambda d: d["state"]["live"].pop(REF), "token erp %s: gone (was Active)" % REF),
        (
            lambda d: d["state"]["live"].update({NEW: {"name": "erp", "status": "Pending"}}),
            "token erp %s: appeared (Pending)" % NEW,
        ),
        (
            lambda d: d["state"]["held"]["erp"].update({"file:/etc/erp.token": None}),
            "erp: store file:/etc/erp.token held %s, now nothing" % REF,
        ),
        (
            lambda d: d["plan"].__setitem__(0, dict(d["plan"][0], action="rotate")),
            "erp: the plan was keep %s, it would now be rotate %s" % (REF, REF),
        ),
    ],
)
def test_each_kind_of_move_is_one_line_naming_the_credential(change, expected):
    now = copy.deepcopy(saved())
    change(now)
    assert _saved_plan.moved(saved(), now) == [expected]


def test_a_plan_for_another_context_is_refused_before_comparing_anything_else():
    now = copy.deepcopy(saved())
    now["context"] = "Nip:1111111111"
    now["state"]["declared"] = {}
    assert _saved_plan.moved(saved(), now) == ["the plan is for context Nip:5265877635, this run for Nip:1111111111"]


def test_the_digest_never_depends_on_a_secret_and_sees_every_other_change():
    item = {"name": "erp", "store": [{"type": "file", "path": "/x", "vault_password": "s3cret-pass"}]}
    other_secret = copy.deepcopy(item)
    other_secret["store"][0]["vault_password"] = "0ther-pass"
    assert _saved_plan.digest(Module("s3cret-pass"), item) == _saved_plan.digest(Module("0ther-pass"), other_secret)
    moved_path = copy.deepcopy(item)
    moved_path["store"][0]["path"] = "/y"
    assert _saved_plan.digest(Module("s3cret-pass"), item) != _saved_plan.digest(Module("s3cret-pass"), moved_path)


def test_write_then_load_round_trips_atomically(tmp_path):
    path = tmp_path / "plan.json"
    module = Module()
    _saved_plan.write(module, str(path), saved())
    assert module.moves == [str(path)]
    assert _saved_plan.load(str(path)) == saved()
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temp file left


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read"),
        ("not json", "is not JSON"),
        (json.dumps({"format": "terraform"}), "is not a saved plan of this collection"),
    ],
)
def test_load_refuses_what_is_not_a_saved_plan_naming_apply_plan(tmp_path, content, message):
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(KsefConfigError) as caught:
        _saved_plan.load(str(path))
    assert caught.value.option == "apply_plan" and message in str(caught.value)


def test_plan_file_needs_an_existing_writable_directory(tmp_path):
    with pytest.raises(KsefConfigError) as caught:
        _saved_plan.check_writable(str(tmp_path / "missing" / "plan.json"))
    assert caught.value.option == "plan_file" and "does not exist" in str(caught.value)
    _saved_plan.check_writable(str(tmp_path / "plan.json"))
