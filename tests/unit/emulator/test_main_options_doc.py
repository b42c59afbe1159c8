"""docs/emulator.md lists every command-line option of `python -m ksef_emulator`, and no option it does not have."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from ksef_emulator.__main__ import parse_args

DOC = Path(__file__).resolve().parents[3] / "docs" / "emulator.md"
OPTION = re.compile(r"--[a-z][a-z-]*")


def documented_options() -> set[str]:
    """The options named in the first column of the table whose header is `| option | default | meaning |`."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index("| option | default | meaning |") + 2
    names: set[str] = set()
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        names.update(OPTION.findall(line.split("|")[1]))
    return names


def parser_options(capsys) -> set[str]:
    with pytest.raises(SystemExit) as stop:
        parse_args(["--help"])
    assert stop.value.code == 0
    return set(OPTION.findall(capsys.readouterr().out)) - {"--help"}


def test_the_options_table_names_every_option_and_no_other(capsys):
    documented, actual = documented_options(), parser_options(capsys)
    assert "--state-dir" in actual and "--enrollment-delay" in actual  # the help was read
    assert actual - documented == set(), "options missing from the table in docs/emulator.md"
    assert documented - actual == set(), "the table in docs/emulator.md names options the emulator does not have"
