# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Numbers written as text are read from the ASCII digits 0-9 only.

Python's int() and float(), and so Ansible's `int` and `float` option types, read any Unicode decimal digit: "١٢٠"
(Arabic-Indic) and "１２０" (full width) become 120 without a word, "1_000" becomes 1000, and float() also takes
"nan", "inf" and "1e3". A superscript or another digit that int() does not take fails with
"invalid literal for int() with base 10", which names no option. Every option that holds a number is checked as
text before Ansible or the collection converts it, with a message that names the option and the character.
"""

from __future__ import annotations

import re
import unicodedata

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError

WHOLE = re.compile(r"[+-]?[0-9]+")
DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_NUMBER_TYPES = {"int": (WHOLE, "a whole number such as 120"), "float": (DECIMAL, "a number such as 120 or 2.5")}


def not_ascii_digit(text: str) -> str | None:
    """The first character of `text` that is a digit or a number to Unicode but not one of 0-9, or None."""
    return next((c for c in text if not ("0" <= c <= "9") and (c.isdigit() or c.isnumeric())), None)


def describe_character(character: str) -> str:
    """`'²' (U+00B2 SUPERSCRIPT TWO)`: a character named well enough to find it in a file."""
    name = unicodedata.name(character, "")
    return "%r (U+%04X%s)" % (character, ord(character), " " + name if name else "")


def ascii_digits_hint(text: str) -> str:
    """The part of a message that says which character is not an ASCII digit (empty when none is)."""
    foreign = not_ascii_digit(text)
    if foreign is None:
        return ""
    return "; %s is not an ASCII digit (0-9)" % describe_character(foreign)


def number_problem(value, number_type: str = "int") -> str | None:
    """What is wrong with `value` as the text of a number option (None when it is fine, or not text at all)."""
    if not isinstance(value, str):
        return None
    pattern, example = _NUMBER_TYPES[number_type]
    if pattern.fullmatch(value.strip()):
        return None
    # The value itself stays out: a secret put into the wrong option must not reach the error.
    return "expected %s written with the ASCII digits 0-9%s" % (example, ascii_digits_hint(value))


def config_error(option: str, problem: str) -> KsefConfigError:
    return KsefConfigError(option, "%s: %s" % (option, problem))


def check_params(spec: dict, params, prefix: str = "", error=config_error) -> None:
    """Check every number option of an argument spec (nested options and list entries too) in the raw parameters;
    raises error(option, problem) for the first bad one, the option named in full, e.g. `tokens[2].store[0].timeout`."""
    if not isinstance(params, dict):
        return
    for name, option in spec.items():
        for given in (name, *(option.get("aliases") or ())):
            if given not in params:
                continue
            value, path = params[given], prefix + given
            option_type, elements = option.get("type"), option.get("elements")
            if option_type in _NUMBER_TYPES:
                problem = number_problem(value, option_type)
                if problem:
                    raise error(path, problem)
            elif option_type == "list" and isinstance(value, list):
                for index, item in enumerate(value):
                    if elements in _NUMBER_TYPES:
                        problem = number_problem(item, elements)
                        if problem:
                            raise error("%s[%d]" % (path, index), problem)
                    elif option.get("options"):
                        check_params(option["options"], item, "%s[%d]." % (path, index), error)
            elif option.get("options"):
                check_params(option["options"], value, path + ".", error)
