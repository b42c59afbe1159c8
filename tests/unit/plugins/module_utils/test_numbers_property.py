"""Property: a number or a duration written as text is read from the ASCII digits 0-9 only. Any other Unicode digit
(Arabic-Indic, full width, superscript, Devanagari...), a number character (½, Ⅻ) or a letter is refused by an error
that names the option (and the character, when it is a digit to Unicode) - never read as a digit, never a bare
"invalid literal for int()" - in the durations, every int option of a module (nested ones too), the stores' int
options, a file store's numeric owner and group, and the NIP.
"""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ansible_collections.ksef.credentials.plugins.module_utils import _durations, _numbers
from ansible_collections.ksef.credentials.plugins.module_utils._connection import validate_context
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate_schema import CERTIFICATE_OPTIONS
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token_schema import TOKEN_OPTIONS
from ansible_collections.ksef.credentials.plugins.module_utils._module import KsefModule
from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import StoreConfigError, build_stores
from tests.support.ansible_module import make_module, patch_module_args

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

ascii_digit = st.sampled_from("0123456789")
# Digits and numbers to Unicode (decimal digits, superscripts, fractions, roman numerals...) other than 0-9.
foreign_digit = st.characters(categories=("Nd", "No", "Nl")).filter(lambda c: not "0" <= c <= "9")
letter = st.characters(categories=("L",))
# Text made of every kind, weighted towards what looks like a number or a duration.
number_like = st.text(alphabet=st.one_of(ascii_digit, ascii_digit, foreign_digit, letter, st.sampled_from("wdhms +-._")),
                      min_size=1, max_size=10)
with_a_foreign_digit = st.tuples(st.text(ascii_digit, max_size=3), foreign_digit, st.text(ascii_digit, max_size=3),
                                 st.sampled_from(["", "d", "h", "1d", "s"])).map("".join)


def _names_the_digit(message: str, text: str) -> bool:
    foreign = _numbers.not_ascii_digit(text)
    return foreign is None or ("(U+%04X" % ord(foreign) in message and "is not an ASCII digit (0-9)" in message)


@SETTINGS
@given(text=st.one_of(number_like, with_a_foreign_digit))
@example(text="1²d")
@example(text="١٢d")
@example(text="９０d")
@example(text="3600")
def test_a_duration_in_other_digits_or_letters_is_refused_naming_the_option_and_the_digit(text):
    try:
        parsed = _durations.parse(text, "rotate_after")
    except _durations.DurationError as exc:
        assert exc.option == "rotate_after" and str(exc).startswith("rotate_after: ")
        assert _names_the_digit(str(exc), text), str(exc)
        return
    assert parsed is None or isinstance(parsed, timedelta)
    assert text.isascii(), f"{text!r} was read as {parsed}"


@SETTINGS
@given(text=st.one_of(number_like, with_a_foreign_digit), number_type=st.sampled_from(["int", "float"]))
@example(text="١٢٠", number_type="int")
@example(text="1_000", number_type="int")
@example(text="nan", number_type="float")
def test_a_number_option_takes_ascii_digits_only(text, number_type):
    problem = _numbers.number_problem(text, number_type)
    if problem is None:
        assert re.fullmatch(r"[+-]?[0-9]+(\.[0-9]+)?", text.strip()), text
        assert float(text) == float(text.strip())  # what Ansible's conversion then reads is exactly these digits
        return
    assert "ASCII digits 0-9" in problem and _names_the_digit(problem, text), problem
    assert text.strip() not in problem or len(text.strip()) <= 1  # the value stays out: it may be a misplaced secret


# A module's own spec with number options at every depth: top level, inside each declared token, and the real token
# and certificate options (a certificate's key_size is an int).
MODULE_SPEC = {
    "wait_timeout": {"type": "int", "default": 120},
    "tokens": {"type": "list", "elements": "dict", "options": TOKEN_OPTIONS},
    "certificates": {"type": "list", "elements": "dict", "options": CERTIFICATE_OPTIONS},
}
LOGIN_TOKEN = "20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|" + "cd" * 32
VAULT_TOKEN = "hvs.a-vault-token-in-a-store-entry"
BASE_ARGS = {"api_url": "http://127.0.0.1:9/v2", "context": {"nip": "5265877635"}, "auth": {"ksef_token": LOGIN_TOKEN},
             "tokens": [{"name": "erp", "store": [{"type": "hashicorp_vault", "url": "http://127.0.0.1:8200",
                                                   "path": "ksef/erp", "token": VAULT_TOKEN}]}]}


def _module_result(args: dict, capsys) -> dict:
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            KsefModule(argument_spec=MODULE_SPEC, supports_check_mode=True).exit_json(changed=False)
    return json.loads(capsys.readouterr().out)


@SETTINGS
@given(text=st.one_of(with_a_foreign_digit, number_like),
       where=st.sampled_from(["wait_timeout", "auth.poll_timeout", "certificates[0].key_size"]))
@example(text="١٢٠", where="wait_timeout")
@example(text="1²", where="certificates[0].key_size")
def test_a_module_refuses_a_number_option_in_other_digits_before_ansible_converts_it(text, where, capsys):
    args = json.loads(json.dumps(BASE_ARGS))
    if where == "wait_timeout":
        args["wait_timeout"] = text
    elif where == "auth.poll_timeout":
        args["auth"]["poll_timeout"] = text
    else:
        args["certificates"] = [{"name": "seal", "key_size": text}]
    out = _module_result(args, capsys)
    assert LOGIN_TOKEN not in json.dumps(out) and VAULT_TOKEN not in json.dumps(out)  # failing early hides them too
    if re.fullmatch(r"[+-]?[0-9]+", text.strip()):
        assert not out.get("failed") or out.get("option") != where, out
        return
    assert out["failed"] and out["option"] == where, out
    assert out["msg"].startswith(f"{where}: expected a whole number") and _names_the_digit(out["msg"], text), out
    assert "invalid literal" not in out["msg"]


@SETTINGS
@given(text=with_a_foreign_digit.filter(lambda t: not t.endswith(("d", "h", "s"))))
def test_store_number_options_and_numeric_owners_take_ascii_digits_only(text, tmp_path_factory):
    directory = tmp_path_factory.mktemp("stores")
    entries = [
        ({"type": "hashicorp_vault", "url": "http://127.0.0.1:8200", "token": "t", "path": "ksef/erp",
          "timeout": text}, "store[0].timeout"),
        ({"type": "aws_secretsmanager", "name": "ksef/erp", "region": "eu-central-1", "recovery_window_days": text},
         "store[0].recovery_window_days"),
        ({"type": "file", "path": str(directory / "t"), "owner": text}, "store[0].owner"),
        ({"type": "file", "path": str(directory / "t"), "group": text}, "store[0].group"),
    ]
    for entry, option in entries:
        module = make_module([])
        with pytest.raises(StoreConfigError) as caught:
            build_stores(module, [entry])
        assert caught.value.label == option, str(caught.value)
        assert _names_the_digit(str(caught.value), text), str(caught.value)


@SETTINGS
@given(digits=st.lists(st.one_of(ascii_digit, foreign_digit), min_size=10, max_size=10).map("".join))
@example(digits="٥٢٦٥٨٧٧٦٣٥")  # 5265877635, a valid NIP, in Arabic-Indic digits
def test_a_nip_in_other_digits_is_refused_naming_it(digits):
    try:
        context = validate_context({"nip": digits})
    except KsefConfigError as exc:
        assert exc.option == "context.nip"
        assert _names_the_digit(str(exc), digits), str(exc)
        return
    assert digits.isascii() and context.value == digits
