# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The end of KSeF token authentication: a setting, not a constant.

By the regulation in force (the Minister of Finance's regulation on the use of KSeF, transitional provisions),
KSeF tokens authenticate until 31 December 2026; from 1 January 2027 only certificates and signatures log in. The
Ministry proposes keeping tokens with a validity of 1-365 days (CIRFMF/ksef-api#834), but no contract up to 2.8.1
contains that. When the law changes, `token_auth_end` (the connection option every module takes, `ksef_token_auth_end`
in the roles) or KSEF_TOKEN_AUTH_END moves the date, per environment, without a new release.

Pure: the date, the days left and the words for them. See docs/connection.md and docs/migration.md.
"""

from __future__ import annotations

import calendar
import os
from datetime import date, datetime, timedelta

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._numbers import describe_character, not_ascii_digit

REGULATION_END = date(2026, 12, 31)  # the last day a KSeF token logs in
ENVIRONMENT_VARIABLE = "KSEF_TOKEN_AUTH_END"
OPTION = "token_auth_end"
WARN_WITHIN = timedelta(days=30)
GUIDE = "docs/migration.md"


def resolve(option: str | None, environ=None) -> date:
    """The last day of token authentication: the option, else KSEF_TOKEN_AUTH_END, else the regulation's."""
    environ = os.environ if environ is None else environ
    value, name = option, OPTION
    if not value:
        value, name = environ.get(ENVIRONMENT_VARIABLE), ENVIRONMENT_VARIABLE
    if not value:
        return REGULATION_END
    text = str(value).strip()
    problem = date_problem(text)
    if problem:
        # Parts of the text are named, never all of it: a value pasted into the wrong variable stays out.
        raise KsefConfigError(
            name,
            "%s: expected the last day KSeF tokens authenticate as YYYY-MM-DD in the ASCII digits 0-9, for example "
            "%s; %s" % (name, REGULATION_END.isoformat(), problem),
        )
    return date.fromisoformat(text)


FORM = "YYYY-MM-DD"


def date_problem(text: str) -> str | None:
    """What is wrong with `text` as a YYYY-MM-DD date (the character or the part), or None when it is a date."""
    for position, character in enumerate(text[: len(FORM)], start=1):
        wanted = "-" if FORM[position - 1] == "-" else "digit"
        if wanted == "digit" and "0" <= character <= "9" or character == wanted:
            continue
        found = describe_character(character)
        if wanted == "digit" and not_ascii_digit(character):
            return "character %d, %s, is not an ASCII digit (0-9)" % (position, found)
        return "character %d is %s where %s has %s" % (
            position,
            found,
            FORM,
            "a digit" if wanted == "digit" else "'-'",
        )
    if len(text) < len(FORM):
        return "it has %d characters where %s has %d (a month or day below 10 is written with a leading 0)" % (
            len(text),
            FORM,
            len(FORM),
        )
    if len(text) > len(FORM):
        return "%s ends after the day, but character %d, %s, follows it (a date only, no time)" % (
            FORM,
            len(FORM) + 1,
            describe_character(text[len(FORM)]),
        )
    year, month, day = int(text[:4]), int(text[5:7]), int(text[8:])
    if year < 1:
        return "the year 0000 does not exist"
    if not 1 <= month <= 12:
        return "the month %s is not one of 01-12" % text[5:7]
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        return "the day %s is not a day of %s (01-%02d)" % (text[8:], text[:7], last)
    return None


def days_left(end: date, now: datetime) -> int:
    """Whole days from `now` until the end of `end` (0 on the last day; negative once past)."""
    return (end - now.date()).days


def describe(end: date, now: datetime) -> str:
    left = days_left(end, now)
    if left < 0:
        return "past the end of token authentication (%s)" % end.isoformat()
    return "%d day%s left until the end of token authentication (%s)" % (
        left,
        "" if left == 1 else "s",
        end.isoformat(),
    )


def severity(end: date, now: datetime) -> str:
    """error once past, warning within WARN_WITHIN of the date, info before."""
    left = days_left(end, now)
    if left < 0:
        return "error"
    return "warning" if left <= WARN_WITHIN.days else "info"


def warning(end: date, now: datetime, what: str) -> str | None:
    """The run's warning when `what` (a token login, a token created or rotated) happens within WARN_WITHIN of the
    end or after it; None before. The same words on every host, so Ansible shows it once per run."""
    if severity(end, now) == "info":
        return None
    return "%s: KSeF tokens authenticate until %s (%s); move token logins to KSeF certificates, see %s" % (
        what,
        end.isoformat(),
        describe(end, now).split(" (")[0],
        GUIDE,
    )
