# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options shared by every module: environments, TLS rules and the KSeF context."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ansible.module_utils.basic import env_fallback

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._numbers import ascii_digits_hint
from ansible_collections.ksef.credentials.plugins.module_utils._text import has_space_or_unprintable

# Base URLs of the public KSeF 2.0 environments (srodowiska.md).
ENVIRONMENTS = {
    "test": "https://api-test.ksef.mf.gov.pl/v2",
    "demo": "https://api-demo.ksef.mf.gov.pl/v2",
    "prod": "https://api.ksef.mf.gov.pl/v2",
}
DEFAULT_ENVIRONMENT = "test"

CONNECTION_ARGUMENT_SPEC = dict(
    # No default here: a default would make `environment` always "set" and clash with `api_url`.
    environment=dict(type="str", choices=sorted(ENVIRONMENTS)),
    api_url=dict(type="str"),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    timeout=dict(type="int", default=30),
    allow_insecure_http=dict(type="bool", default=False),
    max_retry_wait=dict(type="int", default=60),
    # Client-side pacing (_ratelimit.py): prd limits are safe everywhere, te = 10x for the TEST environment.
    rate_limits=dict(
        type="str", choices=["prd", "te", "off"], default="prd", fallback=(env_fallback, ["KSEF_RATE_LIMITS"])
    ),
    # The last day KSeF tokens log in (_token_auth_end.py); unset: KSEF_TOKEN_AUTH_END, else the regulation's.
    token_auth_end=dict(type="str", no_log=False),  # a date, not a secret
    context=dict(
        type="dict",
        required=True,
        options=dict(
            nip=dict(type="str"),
            internal_id=dict(type="str"),
            nip_vat_ue=dict(type="str"),
        ),
    ),
)
CONNECTION_MUTUALLY_EXCLUSIVE = [("environment", "api_url")]

# The OpenAPI patterns (components.schemas.Nip / InternalId) on top of the checksum.
# [0-9], not \d or str.isdigit(): those take every Unicode digit, which KSeF does not.
_TEN_DIGITS = re.compile(r"[0-9]{10}")
_NIP_PATTERN = re.compile(r"^[1-9](([0-9][1-9])|([1-9][0-9]))[0-9]{7}$")
_INTERNAL_ID_PATTERN = re.compile(r"^([0-9]{10})-([0-9]{5})$")
_NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
# components.schemas.NipVatUe: a NIP, a dash and the VAT UE number of an EU entity, one pattern per member state.
# [0-9] for the contract's \d, as above. Compiled at its first use (re's cache): only a NipVatUe context needs it,
# and compiling it costs half a millisecond of every module start.
_NIP_VAT_UE_PATTERN = (
    r"^([0-9]{10})-(ATU[0-9]{8}|BE[01][0-9]{9}|BG[0-9]{9,10}|CY[0-9]{8}[A-Z]|CZ[0-9]{8,10}|DE[0-9]{9}|DK[0-9]{8}"
    r"|EE[0-9]{9}|EL[0-9]{9}|ES([A-Z][0-9]{8}|[0-9]{8}[A-Z]|[A-Z][0-9]{7}[A-Z])|FI[0-9]{8}|FR[A-Z0-9]{2}[0-9]{9}"
    r"|HR[0-9]{11}|HU[0-9]{8}|IE([0-9]{7}[A-Z]{2}|[0-9][A-Z0-9+*][0-9]{5}[A-Z])|IT[0-9]{11}|LT([0-9]{9}|[0-9]{12})"
    r"|LU[0-9]{8}|LV[0-9]{11}|MT[0-9]{8}|NL[A-Z0-9+*]{12}|PT[0-9]{9}|RO[0-9]{2,10}|SE[0-9]{12}|SI[0-9]{8}"
    r"|SK[0-9]{10}|XI(([0-9]{9}|[0-9]{12})|(GD|HA)[0-9]{3}))$"
)
# The context types a module may refuse by name (_module.py); the order is the order of the error messages.
CONTEXT_OPTIONS = {"Nip": "nip", "InternalId": "internal_id", "NipVatUe": "nip_vat_ue"}


@dataclass(frozen=True)
class KsefContext:
    """The context a session is opened in: type is the API enum value (`Nip`, `InternalId` or `NipVatUe`)."""

    type: str
    value: str

    def as_api(self):
        return {"type": self.type, "value": self.value}

    def __str__(self):
        return f"{self.type}:{self.value}"


def nip_checksum_ok(nip):
    """True when `nip` is 10 digits whose weighted sum mod 11 equals the last digit (10 is never valid)."""
    if not (isinstance(nip, str) and _TEN_DIGITS.fullmatch(nip)):
        return False
    check = sum(int(d) * w for d, w in zip(nip, _NIP_WEIGHTS)) % 11
    return check != 10 and check == int(nip[9])


def _nip_problem(nip):
    """Why `nip` is not a valid NIP, or None."""
    if not _TEN_DIGITS.fullmatch(nip):
        return "must be exactly 10 digits (no dashes, spaces or PL prefix)" + ascii_digits_hint(nip)
    if not nip_checksum_ok(nip):
        return "has a wrong check digit (weights 6,5,7,2,3,4,5,6,7; sum mod 11 must equal the last digit)"
    if not _NIP_PATTERN.match(nip):
        return "is not accepted by KSeF (first digit must not be 0 and digits 2-3 must not both be 0)"
    return None


def validate_context(context):
    """Turn the `context` option into a KsefContext; raises KsefConfigError naming the sub-option."""
    context = context or {}
    given = [option for option in CONTEXT_OPTIONS.values() if context.get(option) is not None]
    if len(given) != 1:
        raise KsefConfigError(
            "context",
            "context needs exactly one of context.nip, context.internal_id or context.nip_vat_ue, "
            "for example context: {nip: '5265877635'}",
        )
    nip = context.get("nip")
    if nip is not None:
        nip = str(nip).strip()
        problem = _nip_problem(nip)
        if problem:
            raise KsefConfigError(
                "context.nip",
                f"context.nip {nip!r} {problem}; set context.nip to the 10-digit NIP of the "
                "company whose tokens, certificates or grants you manage",
            )
        return KsefContext("Nip", nip)
    nip_vat_ue = context.get("nip_vat_ue")
    if nip_vat_ue is not None:
        return KsefContext("NipVatUe", _nip_vat_ue(str(nip_vat_ue).strip()))
    internal_id = str(context.get("internal_id")).strip()
    match = _INTERNAL_ID_PATTERN.match(internal_id)
    if not match:
        raise KsefConfigError(
            "context.internal_id",
            f"context.internal_id {internal_id!r} must look like NIP-5digits, for example 5265877635-00001",
        )
    problem = _nip_problem(match.group(1))
    if problem:
        raise KsefConfigError("context.internal_id", f"the NIP part of context.internal_id {internal_id!r} {problem}")
    return KsefContext("InternalId", internal_id)


def _nip_vat_ue(value):
    """A checked NipVatUe identifier (`{nip}-{VAT UE}`); raises KsefConfigError naming context.nip_vat_ue."""
    match = re.fullmatch(_NIP_VAT_UE_PATTERN, value)
    if not match:
        raise KsefConfigError(
            "context.nip_vat_ue",
            f"context.nip_vat_ue {value[:60]!r} must be the NIP of the Polish company, a dash and the EU "
            "entity's VAT UE number with its country prefix (no spaces), for example 5265877635-DE123456789",
        )
    problem = _nip_problem(match.group(1))
    if problem:
        raise KsefConfigError("context.nip_vat_ue", f"the NIP part of context.nip_vat_ue {value!r} {problem}")
    return value


def is_loopback_host(host):
    """Loopback hosts may use plain http (the local emulator): 127.0.0.0/8, ::1 and localhost."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to reach KSeF: the API's base URL, TLS verification and the timeout of one request (s)."""

    base_url: str
    verify: object  # True/False, or a CA bundle path
    timeout: float


def resolve_connection(params):
    """Check environment/api_url/TLS options and return ConnectionSettings; raises KsefConfigError."""
    api_url = params.get("api_url")
    environment = params.get("environment")
    if api_url and environment:
        raise KsefConfigError("api_url", "environment and api_url are mutually exclusive; set only one of them")
    if api_url:
        base_url = api_url.strip().rstrip("/")
        parts = urlsplit(base_url)
        if has_space_or_unprintable(base_url) or parts.query or parts.fragment:
            raise KsefConfigError(
                "api_url",
                f"api_url {api_url[:100]!r} must be a base URL with no space, control character, query or fragment, "
                "such as https://api-test.ksef.mf.gov.pl/v2",
            )
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise KsefConfigError(
                "api_url",
                f"api_url {api_url!r} must be an absolute http(s) URL such as https://api-test.ksef.mf.gov.pl/v2",
            )
        if parts.scheme == "http" and not params.get("allow_insecure_http") and not is_loopback_host(parts.hostname):
            raise KsefConfigError(
                "api_url",
                f"api_url uses plain http to the non-loopback host {parts.hostname!r}; tokens would "
                "travel unencrypted. Use https, or set allow_insecure_http: true if you really mean it",
            )
    else:
        base_url = ENVIRONMENTS[environment or DEFAULT_ENVIRONMENT]

    verify = bool(params.get("validate_certs", True))
    ca_path = params.get("ca_path")
    if ca_path:
        if not os.path.exists(ca_path):
            raise KsefConfigError("ca_path", f"ca_path {ca_path!r} does not exist")
        if verify:
            verify = ca_path
    timeout = params.get("timeout")
    timeout = 30 if timeout is None else timeout
    if not 0 < timeout <= 600:
        raise KsefConfigError("timeout", "timeout must be between 1 and 600 seconds")
    max_retry_wait = params.get("max_retry_wait")
    if max_retry_wait is not None and not 0 <= max_retry_wait <= 3600:
        raise KsefConfigError("max_retry_wait", "max_retry_wait must be between 0 and 3600 seconds")
    return ConnectionSettings(base_url=base_url, verify=verify, timeout=float(timeout))
