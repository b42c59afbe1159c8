"""Every NIP and PESEL the documentation shows (the guides, the example files, the modules' documentation and
EXAMPLES) has a valid check digit: a reader who copies one gets a number the modules accept, not a refusal."""
from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._connection import nip_checksum_ok
from ksef_emulator.testcerts import pesel_checksum_ok

REPO = Path(__file__).resolve().parents[3]
# A number of 10 digits (a NIP) or 11 (a PESEL) standing alone: not part of a hex serial or a reference number.
IDENTIFIER = re.compile(r"\b(\d{10}|\d{11})\b")
MODULE_DOCS = ("DOCUMENTATION", "EXAMPLES", "RETURN")


@functools.cache
def documentation() -> dict:
    """Where -> text: every guide and example file under docs/, and the documentation strings of every module."""
    texts = {str(path.relative_to(REPO)): path.read_text(encoding="utf-8")
             for path in sorted((REPO / "docs").rglob("*")) if path.suffix in (".md", ".yml", ".yaml", ".json")}
    texts["README.md"] = (REPO / "README.md").read_text(encoding="utf-8")
    for path in sorted((REPO / "plugins" / "modules").glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) in MODULE_DOCS:
                texts["%s %s" % (path.relative_to(REPO), node.targets[0].id)] = ast.literal_eval(node.value)
    return texts


def identifiers(text: str) -> list:
    return IDENTIFIER.findall(text)


def test_the_scan_finds_the_documented_numbers_and_tells_bad_ones():
    texts = documentation()
    assert "5265877635" in identifiers(texts["docs/permissions.md"])
    assert any(identifiers(text) for where, text in texts.items() if where.endswith("EXAMPLES"))
    assert identifiers('subject: {pesel: "85011512342"}, serial 0123456789ABCDEF, ref 20261204-EG-2A0B0CE000-E2') == [
        "85011512342"]
    assert not nip_checksum_ok("7010001454") and not pesel_checksum_ok("85011512345")


@pytest.mark.parametrize("where", sorted(documentation()))
def test_every_nip_and_pesel_has_a_valid_check_digit(where):
    text = documentation()[where]
    bad = [number for number in identifiers(text)
           if not (nip_checksum_ok(number) if len(number) == 10 else pesel_checksum_ok(number))]
    assert bad == [], "%s: %s have a wrong check digit (NIP: 10 digits, PESEL: 11)" % (where, ", ".join(bad))
