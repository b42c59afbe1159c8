"""Numbers on the command line are read from the ASCII digits 0-9 only.

Python's int() and float(), and so argparse's `type=int` and `type=float`, read any Unicode decimal digit: "١٢٠"
(Arabic-Indic) and "１２０" (full width) become 120 without a word, "1_000" becomes 1000, and float() also takes
"nan", "inf" and "1e3". These argparse types refuse all of that; argparse names the option in front of the message
("argument --port: ..."), and the message names the character, never the whole value (it may be a secret typed
into the wrong option).
"""

from __future__ import annotations

import argparse
import re
import unicodedata

WHOLE = re.compile(r"[0-9]+")
DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def describe_character(character: str) -> str:
    """`'²' (U+00B2 SUPERSCRIPT TWO)`: a character named well enough to find it on a command line."""
    name = unicodedata.name(character, "")
    return "%r (U+%04X%s)" % (character, ord(character), " " + name if name else "")


def not_ascii_digit(text: str) -> str | None:
    """The first character of `text` that is a digit or a number to Unicode but not one of 0-9, or None."""
    return next((c for c in text if not ("0" <= c <= "9") and (c.isdigit() or c.isnumeric())), None)


def _refusal(text: str, expected: str) -> argparse.ArgumentTypeError:
    foreign = not_ascii_digit(text)
    why = "; %s is not an ASCII digit (0-9)" % describe_character(foreign) if foreign else ""
    return argparse.ArgumentTypeError("expected %s written with the ASCII digits 0-9%s" % (expected, why))


def whole(text: str) -> int:
    """argparse type of a whole number (a port, a key size, days)."""
    if not WHOLE.fullmatch(text):
        raise _refusal(text, "a whole number such as 8080")
    return int(text)


def decimal(text: str) -> float:
    """argparse type of a number of seconds or a factor (delays, lifetimes, the time scale)."""
    if not DECIMAL.fullmatch(text):
        raise _refusal(text, "a number such as 60 or 0.5")
    return float(text)
