"""The composite identifiers of the permission API: InternalId check digit, NipVatUe parts."""
from __future__ import annotations

import pytest

from ksef_emulator import identifiers


def test_check_digit_of_the_documented_example():
    # open-api.json, POST /permissions/subunits/grants: "6824515772-1234" -> sum 113 -> check digit 3
    assert identifiers.internal_id_check_digit("6824515772-1234") == 3
    assert identifiers.internal_id("6824515772", 1234) == "6824515772-12343"


@pytest.mark.parametrize("value, valid", [
    ("6824515772-12343", True),
    ("6824515772-12344", False),  # wrong check digit
    ("6824515772-1234", False),  # four digits
    ("682451577-123433", False),  # nine-digit NIP
    ("6824515772-1234a", False),
])
def test_internal_id_validity(value, valid):
    assert identifiers.internal_id_valid(value) is valid


def test_every_unit_number_gets_a_valid_identifier():
    for unit in (0, 1, 9, 10, 4321, 9999):
        value = identifiers.internal_id("5265877635", unit)
        assert identifiers.internal_id_valid(value), value
        assert value.startswith(f"5265877635-{unit:04d}")


@pytest.mark.parametrize("value, parts", [
    ("5265877635-DE123456789", ("5265877635", "DE123456789")),
    ("5265877635-ATU12345678", ("5265877635", "ATU12345678")),
    ("5265877635-DE12345678", None),  # a German VAT number has nine digits
    ("5265877635-PL1234567890", None),  # not an EU VAT UE number of another state
    ("526587763-DE123456789", None),
])
def test_nip_vat_ue(value, parts):
    assert identifiers.nip_vat_ue(value) == parts
