"""Durations for rotate_after / revoke_previous_after."""
from datetime import timedelta

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _durations as durations


@pytest.mark.parametrize("value,expected", [
    ("90d", timedelta(days=90)),
    ("12h", timedelta(hours=12)),
    ("30m", timedelta(minutes=30)),
    ("45s", timedelta(seconds=45)),
    ("2w", timedelta(weeks=2)),
    ("1d12h", timedelta(days=1, hours=12)),
    ("1D 12H", timedelta(days=1, hours=12)),
    ("0s", timedelta(0)),
    ("3600", timedelta(hours=1)),
    (3600, timedelta(hours=1)),
    (0, timedelta(0)),
    (None, None),
    ("", None),
])
def test_parse(value, expected):
    assert durations.parse(value) == expected


@pytest.mark.parametrize("value", ["d", "1y", "90 days", "-5m", "1.5h", "1h1h", -1, True, "1h 30"])
def test_invalid(value):
    with pytest.raises(durations.DurationError) as err:
        durations.parse(value, option="rotate_after")
    assert "rotate_after" in str(err.value)


@pytest.mark.parametrize("delta,text", [
    (timedelta(days=90), "90d"),
    (timedelta(days=1, hours=12), "1d12h"),
    (timedelta(seconds=61), "1m1s"),
    (timedelta(0), "0s"),
    (None, None),
])
def test_describe(delta, text):
    assert durations.describe(delta) == text


def test_describe_round_trips():
    for text in ["90d", "1d12h", "30m", "1h1m1s"]:
        assert durations.describe(durations.parse(text)) == text


@pytest.mark.parametrize("value", ["99999999999999999999d", "3651d", 10 ** 20, "315360001", "1e9"])
def test_a_duration_beyond_ten_years_or_unparseable_is_refused_naming_the_option(value):
    with pytest.raises(durations.DurationError) as err:
        durations.parse(value, "rotate_after")
    assert err.value.option == "rotate_after" and str(err.value).startswith("rotate_after: ")


def test_ten_years_is_accepted():
    assert durations.parse("3650d", "rotate_after").days == 3650
