"""The end of token authentication: a setting with the regulation's default, and the words for the days left."""
from datetime import date, datetime, timezone

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _drift
from ansible_collections.ksef.credentials.plugins.module_utils import _token_auth_end as end
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._identity import compose

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def test_the_option_wins_then_the_environment_then_the_regulation():
    assert end.resolve("2027-06-30", {"KSEF_TOKEN_AUTH_END": "2027-01-31"}) == date(2027, 6, 30)
    assert end.resolve(None, {"KSEF_TOKEN_AUTH_END": "2027-01-31"}) == date(2027, 1, 31)
    assert end.resolve(None, {}) == end.REGULATION_END == date(2026, 12, 31)


@pytest.mark.parametrize("value", ["31.12.2026", "2026-13-01", "2026-12-3", "２０２６-12-31", "2026-12-31T00:00"])
def test_a_date_that_is_not_yyyy_mm_dd_names_the_option_and_the_form(value):
    with pytest.raises(KsefConfigError, match="YYYY-MM-DD") as caught:
        end.resolve(value, {})
    assert caught.value.option == "token_auth_end"
    with pytest.raises(KsefConfigError) as caught:
        end.resolve(None, {"KSEF_TOKEN_AUTH_END": value})
    assert caught.value.option == "KSEF_TOKEN_AUTH_END"


def test_days_left_severity_and_warning_follow_the_date():
    last = date(2026, 12, 31)
    assert end.describe(last, NOW) == "27 days left until the end of token authentication (2026-12-31)"
    assert end.describe(date(2026, 12, 5), NOW).startswith("1 day left")
    assert end.describe(date(2026, 12, 3), NOW) == "past the end of token authentication (2026-12-03)"
    assert end.severity(date(2027, 3, 1), NOW) == "info" and end.warning(date(2027, 3, 1), NOW, "x") is None
    assert end.severity(date(2027, 1, 3), NOW) == "warning"  # 30 days left: within the window
    assert end.severity(date(2026, 12, 3), NOW) == "error"
    message = end.warning(last, NOW, "this run logs in with a token")
    assert message.startswith("this run logs in with a token: KSeF tokens authenticate until 2026-12-31 (27 days")
    assert message.endswith("see docs/migration.md")


def test_every_live_token_and_the_login_token_get_a_finding():
    items = [
        {"referenceNumber": "A", "status": "Active", "description": compose("erp", "ERP")},
        {"referenceNumber": "B", "status": "Revoked", "description": ""},
        {"referenceNumber": "C", "status": "Pending", "description": "by hand"},
    ]
    found = _drift.token_auth_end(items, date(2026, 12, 31), NOW, login="L")
    assert [(f.reference, f.name, f.severity) for f in found] == [
        ("A", "erp", "warning"), ("C", None, "warning"), ("L", None, "warning")]
    assert found[-1].message.endswith("; this run logged in with it")
    (login,) = _drift.token_auth_end(items[:1], date(2027, 6, 30), NOW, login="A")
    assert login.severity == "info" and login.message.endswith("this run logged in with it")
