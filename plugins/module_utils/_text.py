# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a one-line text option may not hold: the checks every option that ends up in a name, a path, a header or a
description shares."""

from __future__ import annotations

import unicodedata


def control_character(text: str) -> str | None:
    """The first control character in `text` (a newline from a YAML block scalar, a tab, a NUL), or None."""
    return next((c for c in text if unicodedata.category(c) == "Cc"), None)


def has_space_or_unprintable(text: str) -> bool:
    """True when `text` is not one word: a space of any kind, a control or another character that does not print."""
    return any(c.isspace() or not c.isprintable() for c in text)
