"""The journal of operations in flight: what it keeps, what it forgets, and where."""
import json
import os
import stat

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefError, KsefTimeoutError
from ansible_collections.ksef.credentials.plugins.module_utils._journal import Journal


def test_an_operation_is_kept_until_it_ends_and_outlives_a_wait_that_timed_out(tmp_path):
    journal = Journal("Nip:5265877635", "grants", str(tmp_path))
    journal.started("erp", "op-1", "create")
    journal.started("erp", "op-2", "revoke", target="row-1")
    journal.started("hr", "op-3", "create")
    journal.ended({"op-1": object(), "op-2": KsefTimeoutError("still 100"), "op-3": KsefError("ended 420")})
    assert journal.in_flight() == {
        "op-2": {"name": "erp", "action": "revoke", "target": "row-1", "started": journal.in_flight()["op-2"]["started"]}
    }
    assert stat.S_IMODE(os.stat(journal.path).st_mode) == 0o600
    assert os.path.basename(journal.path) == "Nip-5265877635-grants.json"


def test_each_owner_and_kind_has_its_own_journal(tmp_path):
    one, other = Journal("Nip:5265877635", "grants", str(tmp_path)), Journal("Nip:1111111111", "grants", str(tmp_path))
    one.started("erp", "op-1", "create")
    assert other.in_flight() == {} and list(one.in_flight()) == ["op-1"]


def test_a_journal_that_cannot_be_read_stops_the_run_naming_the_file(tmp_path):
    journal = Journal("Nip:5265877635", "grants", str(tmp_path))
    os.makedirs(tmp_path, exist_ok=True)
    with open(journal.path, "w") as handle:
        handle.write("{not json")
    with pytest.raises(KsefError, match="journal of operations in flight .*Nip-5265877635-grants.json"):
        journal.in_flight()


def test_the_directory_comes_from_the_environment_when_not_given(tmp_path, monkeypatch):
    monkeypatch.setenv("KSEF_JOURNAL_DIR", str(tmp_path / "j"))
    journal = Journal("Nip:5265877635", "grants")
    journal.started("erp", "op-1", "create")
    assert json.loads((tmp_path / "j" / "Nip-5265877635-grants.json").read_text())["op-1"]["name"] == "erp"
