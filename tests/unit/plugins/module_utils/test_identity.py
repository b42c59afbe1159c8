"""The name marker in a token description: round trip, limits, and look-alikes that must not parse."""
import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _identity as identity


@pytest.mark.parametrize("name,text", [
    ("erp", "ERP invoice sender"),
    ("a", ""),
    ("erp-sender.v2_prod", "Wystawianie i przeglądanie faktur."),
    ("x" * 63, "text with [brackets] and: colons"),
    ("0day", "  padded text  "),
])
def test_round_trip(name, text):
    description = identity.compose(name, text)
    assert 5 <= len(description) <= 256
    assert identity.parse(description) == (name, text.strip())
    assert identity.name_of(description) == name


def test_marker_is_the_tail_and_reads_well():
    assert identity.compose("erp", "ERP sender") == "ERP sender [ksef.credentials:erp]"
    assert identity.compose("erp", None) == "[ksef.credentials:erp]"


@pytest.mark.parametrize("name", ["", "Erp", "-erp", "_x", "erp sender", "x" * 64, "erp]", "ą", None, 5])
def test_invalid_names_are_refused(name):
    with pytest.raises(identity.IdentityError) as err:
        identity.marker(name)
    assert err.value.option == "name"


def test_length_limit_counts_the_marker():
    tail = len(" [ksef.credentials:erp]")
    fits = "x" * (256 - tail)
    assert len(identity.compose("erp", fits)) == 256
    with pytest.raises(identity.IdentityError) as err:
        identity.compose("erp", fits + "x")
    assert err.value.option == "description"
    assert str(256 - tail) in str(err.value)


@pytest.mark.parametrize("text", ["copy of [ksef.credentials:other]", "x [KSEF.Credentials:other"])
def test_human_text_cannot_contain_a_marker(text):
    with pytest.raises(identity.IdentityError):
        identity.compose("erp", text)


@pytest.mark.parametrize("description", [
    None,
    "",
    "bootstrap",
    "ERP sender",
    "ERP [KSEF.CREDENTIALS:ERP]",                    # what a case-insensitive filter could also return
    "ERP [ksef.credentials:erp] ",                    # trailing text after the marker
    "ERP [ksef.credentials:erp] and more",
    "ERP[ksef.credentials:erp]x",
    "ERP [ksef.credentials:Erp]",
    "ERP [ksef.credentials:]",
    "ERP [ksef.credentials:erp sender]",
    "a [ksef.credentials:x] [ksef.credentials:y]",   # two markers: hand-edited, not ours
])
def test_unmanaged_or_lookalike_descriptions_do_not_parse(description):
    assert identity.parse(description) is None


def test_filter_text_of_one_name_is_not_a_prefix_of_another():
    # The list filter is a substring match: the closing bracket keeps erp from matching erp-2.
    assert identity.marker("erp") not in identity.compose("erp-2", "x")
    assert identity.marker("erp") in identity.compose("erp", "x")


def test_marker_without_text_parses():
    assert identity.parse("[ksef.credentials:erp]") == ("erp", "")


@pytest.mark.parametrize("name", ["erp\n", "erp\r\n", "\nerp", "erp\x00", "erp\t"])
def test_a_name_is_validated_whole_so_a_trailing_newline_is_refused(name):
    """`name: |` in YAML gives a trailing newline; re.match with `$` used to accept it and the marker never parsed
    back, so every run created a new token."""
    with pytest.raises(identity.IdentityError) as err:
        identity.validate_name(name)
    assert err.value.option == "name"


@pytest.mark.parametrize("text", ["ERP\nsender", "ERP\tsender", "ERP\x00", "ERP \x1b[31mred"])
def test_a_description_with_control_characters_is_refused_naming_the_option(text):
    with pytest.raises(identity.IdentityError) as err:
        identity.compose("erp", text)
    assert err.value.option == "description" and "control characters" in str(err.value)


def test_a_description_with_a_trailing_newline_is_trimmed_and_round_trips():
    full = identity.compose("erp", "ERP sender\n")
    assert identity.parse(full) == ("erp", "ERP sender")
