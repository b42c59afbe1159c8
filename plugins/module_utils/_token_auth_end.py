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

import os
from datetime import date, datetime, timedelta

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError

REGULATION_END = date(2026, 12, 31)  # the last day a KSeF token logs in
ENVIRONMENT_VARIABLE = "KSEF_TOKEN_AUTH_END"
WARN_WITHIN = timedelta(days=30)
GUIDE = "docs/migration.md"


def resolve(option: str | None, environ=None) -> date:
    """The last day of token authentication: the option, else KSEF_TOKEN_AUTH_END, else the regulation's."""
    environ = os.environ if environ is None else environ
    value, name = option, "token_auth_end"
    if not value:
        value, name = environ.get(ENVIRONMENT_VARIABLE), ENVIRONMENT_VARIABLE
    if not value:
        return REGULATION_END
    text = str(value).strip()
    try:
        if not (len(text) == 10 and text[4] == "-" and text[7] == "-" and text.replace("-", "").isascii()):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise KsefConfigError(
            name if name == ENVIRONMENT_VARIABLE else "token_auth_end",
            "%s must be the last day KSeF tokens authenticate, as YYYY-MM-DD (for example %s), got %r"
            % (name, REGULATION_END.isoformat(), text[:40]),
        ) from None


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
