# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a managed token's stable `name` is written into, and read back from, its description.

A KSeF token has no labels or tags: its description (5..256 characters) is the only free field.
The module appends a marker to the human text:

    ERP invoice sender [ksef.credentials:erp-sender]

- The marker sits at the end, so the KSeF web app shows the human text first.
- Brackets and the collection's name make it impossible to mistake for prose, and human text
  containing a marker is refused.
- Names are lower case and the marker ends with `]`, so KSeF's case-insensitive substring filter
  (`GET /tokens?description=...`) on the full marker finds exactly one name; parsing then checks
  the exact text, so a look-alike (`[KSEF.CREDENTIALS:ERP]`, `[ksef.credentials:erp-2]`) never
  matches.
"""

from __future__ import annotations

import re

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._text import control_character

NAME_PATTERN = r"[a-z0-9][a-z0-9_.-]{0,62}"
MARKER_PREFIX = "[ksef.credentials:"
MARKER_SUFFIX = "]"
DESCRIPTION_MIN = 5
DESCRIPTION_MAX = 256

_NAME_RE = re.compile(NAME_PATTERN)
# The marker is the description's tail; whatever precedes it (minus one space) is the human text.
_PARSE_RE = re.compile(
    r"^(?:(?P<text>.*?) )?"
    + re.escape(MARKER_PREFIX)
    + r"(?P<name>"
    + NAME_PATTERN
    + r")"
    + re.escape(MARKER_SUFFIX)
    + r"$",
    re.DOTALL,
)


class IdentityError(KsefConfigError, ValueError):
    """A name or description that cannot become a managed token description."""


def validate_name(name) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise IdentityError(
            "name",
            "name must match ^%s$ (lower case letters, digits, '_', '.', '-'; at most 63 "
            "characters), got %r" % (NAME_PATTERN, name),
        )
    return name


def marker(name: str) -> str:
    """The exact text that identifies a managed token; also the `description` list filter."""
    return MARKER_PREFIX + validate_name(name) + MARKER_SUFFIX


def compose(name: str, text: str | None) -> str:
    """The full KSeF description for a managed token; fails before any API call when invalid."""
    tail = marker(name)
    text = (text or "").strip()
    control = control_character(text)
    if control is not None:
        raise IdentityError(
            "description",
            "description must be one line of text without control characters; found %r (a newline or tab in the "
            "YAML value, for example `description: |`; use a plain or `>-` scalar)" % control,
        )
    if MARKER_PREFIX in text.lower():
        raise IdentityError(
            "description", "description must not contain %r: it is reserved for the name marker" % MARKER_PREFIX
        )
    full = "%s %s" % (text, tail) if text else tail
    if len(full) > DESCRIPTION_MAX:
        budget = DESCRIPTION_MAX - len(tail) - 1
        raise IdentityError(
            "description",
            "description is %d characters long; with the name marker %r KSeF's "
            "256-character limit leaves %d for it" % (len(text), tail, max(budget, 0)),
        )
    return full


def parse(description: str | None) -> tuple[str, str] | None:
    """(name, human text) of a managed token's description, or None for an unmanaged token."""
    if not description:
        return None
    found = _PARSE_RE.fullmatch(description)
    if not found:
        return None
    text = found.group("text") or ""
    if MARKER_PREFIX in text.lower():
        return None  # compose() never writes two markers: someone edited it by hand
    return found.group("name"), text


def name_of(description: str | None) -> str | None:
    parsed = parse(description)
    return parsed[0] if parsed else None
