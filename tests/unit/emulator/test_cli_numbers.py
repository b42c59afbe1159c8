"""The emulator's command lines read numbers from the ASCII digits 0-9 only: int() and float() would read "١٢٠" as
120 (and float() "nan" or "1e3"). Each refusal names the option and the character."""
from __future__ import annotations

import pytest

from ksef_emulator import testcerts
from ksef_emulator.__main__ import parse_args

WHOLE_OPTIONS = ["--port"]
DECIMAL_OPTIONS = ["--time-scale", "--activation-delay", "--auth-delay", "--enrollment-delay", "--permission-delay",
                   "--certificate-validity", "--access-token-ttl", "--refresh-token-ttl"]
ARABIC_120 = "\u0661\u0662\u0660"  # ١٢٠
FULL_WIDTH_120 = "\uff11\uff12\uff10"  # １２０


def refusal(capsys, run) -> str:
    with pytest.raises(SystemExit) as stop:
        run()
    assert stop.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("option", WHOLE_OPTIONS + DECIMAL_OPTIONS)
@pytest.mark.parametrize("value, character", [(ARABIC_120, "U+0661 ARABIC-INDIC DIGIT ONE"),
                                              (FULL_WIDTH_120, "U+FF11 FULLWIDTH DIGIT ONE"),
                                              ("12\u00b2", "U+00B2 SUPERSCRIPT TWO")])
def test_a_number_in_other_digits_is_refused_naming_the_option_and_the_character(
        option, value, character, tmp_path, capsys):
    err = refusal(capsys, lambda: parse_args(["--state-dir", str(tmp_path), option, value]))
    assert f"argument {option}: expected " in err and "written with the ASCII digits 0-9" in err
    assert character in err


@pytest.mark.parametrize("option", DECIMAL_OPTIONS)
@pytest.mark.parametrize("value", ["nan", "inf", "1e3", "1_000", "0x10", " 5"])
def test_a_float_spelling_other_than_digits_and_a_point_is_refused(option, value, tmp_path, capsys):
    err = refusal(capsys, lambda: parse_args(["--state-dir", str(tmp_path), option, value]))
    assert f"argument {option}: expected a number such as 60 or 0.5 written with the ASCII digits 0-9" in err


def test_a_word_in_a_number_option_is_not_echoed(tmp_path, capsys):
    err = refusal(capsys, lambda: parse_args(["--state-dir", str(tmp_path), "--port", "s3cret-admin-token"]))
    assert "argument --port: expected a whole number" in err and "s3cret" not in err


def test_ascii_numbers_still_parse(tmp_path):
    args = parse_args(["--state-dir", str(tmp_path), "--port", "8081", "--time-scale", "60",
                       "--activation-delay", "0.5", "--certificate-validity", "86400"])
    assert (args.port, args.time_scale, args.activation_delay, args.certificate_validity) == (8081, 60.0, 0.5, 86400.0)


def test_a_port_out_of_range_is_refused(tmp_path, capsys):
    assert "--port must be between 1 and 65535" in refusal(
        capsys, lambda: parse_args(["--state-dir", str(tmp_path), "--port", "70000"]))


@pytest.mark.parametrize("option", ["--days", "--key-size"])
def test_testcerts_numbers_are_ascii_digits(option, tmp_path, capsys):
    err = refusal(capsys, lambda: testcerts.main(["--out", str(tmp_path), option, ARABIC_120]))
    assert f"argument {option}: expected a whole number" in err and "U+0661 ARABIC-INDIC DIGIT ONE" in err
    assert not list(tmp_path.iterdir())  # nothing was written


@pytest.mark.parametrize("option, value", [("--nip", "\u0665\u0662\u0666\u0665\u0668\u0667\u0667\u0666\u0663\u0665"),
                                           ("--pesel", "8501151234\u0662")])
def test_testcerts_identifiers_are_ascii_digits(option, value, tmp_path, capsys):
    # 5265877635 and a PESEL in Arabic-Indic digits: their checksums hold, but KSeF reads ASCII digits only.
    err = refusal(capsys, lambda: testcerts.main(["--out", str(tmp_path), option, value]))
    assert f"{option} is written with the ASCII digits 0-9" in err and "ARABIC-INDIC DIGIT" in err
    assert not testcerts.nip_checksum_ok(value) and not testcerts.pesel_checksum_ok(value)
