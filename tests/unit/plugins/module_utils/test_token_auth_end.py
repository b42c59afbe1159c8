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


@pytest.mark.parametrize("value, problem", [
    ("31.12.2026", "character 3 is '.' (U+002E FULL STOP) where YYYY-MM-DD has a digit"),
    ("2026/12/31", "character 5 is '/' (U+002F SOLIDUS) where YYYY-MM-DD has '-'"),
    ("２０２６-12-31", "character 1, '２' (U+FF12 FULLWIDTH DIGIT TWO), is not an ASCII digit (0-9)"),
    ("2026-1٢-31", "character 7, '٢' (U+0662 ARABIC-INDIC DIGIT TWO), is not an ASCII digit (0-9)"),
    ("2026-12-3", "it has 9 characters where YYYY-MM-DD has 10 (a month or day below 10 is written with a leading 0)"),
    ("2026-12-31T00:00", "YYYY-MM-DD ends after the day, but character 11, 'T' (U+0054 LATIN CAPITAL LETTER T), "
                         "follows it (a date only, no time)"),
    ("2026-13-01", "the month 13 is not one of 01-12"),
    ("2026-00-01", "the month 00 is not one of 01-12"),
    ("2026-02-29", "the day 29 is not a day of 2026-02 (01-28)"),
    ("2026-04-31", "the day 31 is not a day of 2026-04 (01-30)"),
    ("0000-01-01", "the year 0000 does not exist"),
])
def test_a_date_that_is_not_yyyy_mm_dd_names_the_option_the_character_and_the_form(value, problem):
    expected = "expected the last day KSeF tokens authenticate as YYYY-MM-DD in the ASCII digits 0-9, for example " \
               "2026-12-31; " + problem
    with pytest.raises(KsefConfigError) as caught:
        end.resolve(value, {})
    assert caught.value.option == "token_auth_end" and str(caught.value) == "token_auth_end: " + expected
    with pytest.raises(KsefConfigError) as caught:
        end.resolve(None, {"KSEF_TOKEN_AUTH_END": value})
    assert caught.value.option == "KSEF_TOKEN_AUTH_END" and str(caught.value) == "KSEF_TOKEN_AUTH_END: " + expected


def test_the_refusal_names_parts_of_the_value_never_all_of_it():
    pasted = "20261231-EC-2B1C3D4E5F-6A7B8C9D0E-FF|nip-5265877635|" + "ab" * 32  # a token in the wrong variable
    with pytest.raises(KsefConfigError) as caught:
        end.resolve(None, {"KSEF_TOKEN_AUTH_END": pasted})
    assert "character 5 is '1' (U+0031 DIGIT ONE) where YYYY-MM-DD has '-'" in str(caught.value)
    assert "abab" not in str(caught.value) and "nip-" not in str(caught.value)


def test_a_leap_day_and_surrounding_blanks_are_accepted():
    assert end.resolve(" 2028-02-29 ", {}) == date(2028, 2, 29)


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
