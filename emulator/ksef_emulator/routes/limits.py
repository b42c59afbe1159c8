"""The limits in force for the caller (limity/limity.md, limity/limity-api.md): sessions of the current context,
certificates of the authenticated subject, and the API request limits of the context.

Each answer shows what the emulator applies: the documented defaults (request limits scaled by the rate-limit
profile: ten times the production values on `te`), or what /testdata set for the context or subject.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from .. import overrides
from ..caller import access_caller
from ..contract import READ_ONLY_RATE_LIMIT_GROUPS, contract, rate_limit_groups, rate_limits
from ..ratelimit import WINDOW_NAMES
from ..web import json_response

# limity/limity.md, "Limity na kontekst": the same defaults for interactive and batch sessions.
DEFAULT_SESSION_LIMITS = {"maxInvoiceSizeInMB": 1, "maxInvoiceWithAttachmentSizeInMB": 3, "maxInvoices": 10000}

# EffectiveApiRateLimits: -1 means not limited (2.8.1).
UNLIMITED = -1
# The group `anonymous` (2.8.1): requests without authentication, whose operations document 60 per second.
ANONYMOUS_OPERATION = "POST /auth/challenge"


async def context_limits(request: Request):
    caller = access_caller(request)
    override = request.app.state.emulator.overrides.get(overrides.SESSION_LIMITS, caller.context) or {}
    body = {kind: override.get(kind, DEFAULT_SESSION_LIMITS) for kind in ("onlineSession", "batchSession")}
    return json_response(body, request=request)


async def subject_limits(request: Request):
    caller = access_caller(request)
    limits = request.app.state.emulator.certificates.limits(caller.subject_type, caller.subject_value)
    body = {
        "enrollment": {"maxEnrollments": limits["enrollment"]["limit"]},
        "certificate": {"maxCertificates": limits["certificate"]["limit"]},
    }
    return json_response(body, request=request)


def _values(limiter, limits: dict, absolute: bool) -> dict[str, int]:
    """Every window of one group as the limiter applies it; a window without a limit is -1."""
    applied = limiter.effective_limits(limits, absolute)
    return {window: applied.get(window, UNLIMITED) for window in WINDOW_NAMES}


async def api_rate_limits(request: Request):
    caller = access_caller(request)
    state = request.app.state.emulator
    override = state.overrides.get(overrides.RATE_LIMITS, caller.context) or {}
    production = bool(override.get("production"))
    documented = rate_limit_groups()
    body = {}
    for group in contract()["components"]["schemas"]["EffectiveApiRateLimits"]["required"]:
        if group == "global":
            # Defined in 2.8.1, switched off for now.
            body[group] = dict.fromkeys(WINDOW_NAMES, UNLIMITED)
        elif group == "anonymous":
            body[group] = _values(state.limiter, rate_limits(ANONYMOUS_OPERATION), production)
        elif group in override and group not in READ_ONLY_RATE_LIMIT_GROUPS:
            body[group] = _values(state.limiter, override[group], True)
        else:
            body[group] = _values(state.limiter, documented.get(group, rate_limits("")), production)
    return json_response(body, request=request)


routes = [
    Route("/limits/context", context_limits, methods=["GET"]),
    Route("/limits/subject", subject_limits, methods=["GET"]),
    Route("/rate-limits", api_rate_limits, methods=["GET"]),
]
