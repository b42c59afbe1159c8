"""Who is calling: the access token's claims, checked (signature, expiry, type, IP policy)."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

from starlette.requests import Request

from . import jwts
from .errors import Forbidden


@dataclass(frozen=True)
class Caller:
    context_type: str
    context_value: str
    subject_type: str
    subject_value: str
    method: str
    permissions: tuple[str, ...]
    session_reference: str
    ksef_token_reference: str | None

    @property
    def context(self) -> str:
        return f"{self.context_type}:{self.context_value}"

    def has_any(self, *permissions: str) -> bool:
        return any(p in self.permissions for p in permissions)


def ip_allowed(policy: dict | None, client_ip: str) -> bool:
    allowed = (policy or {}).get("allowedIps") or {}
    addresses = allowed.get("ip4Addresses") or []
    ranges = allowed.get("ip4Ranges") or []
    masks = allowed.get("ip4Masks") or []
    if not (addresses or ranges or masks):
        return True
    try:
        ip = ipaddress.IPv4Address(client_ip)
    except ValueError:
        return False
    if any(ip == ipaddress.IPv4Address(a) for a in addresses):
        return True
    for r in ranges:
        low, _separator, high = r.partition("-")
        if ipaddress.IPv4Address(low.strip()) <= ip <= ipaddress.IPv4Address(high.strip()):
            return True
    return any(ip in ipaddress.IPv4Network(m, strict=False) for m in masks)


def claims_subject(claims: dict) -> dict:
    try:
        return json.loads(claims.get("subject-details") or "{}")
    except json.JSONDecodeError:
        return {}


def access_caller(request: Request) -> Caller:
    """The caller of an endpoint that takes an accessToken (401/403 otherwise)."""
    state = request.app.state.emulator
    claims = state.jwt.decode(jwts.bearer(request.headers), jwts.ACCESS)
    client_ip = request.client.host if request.client else ""
    if not ip_allowed(claims.get("authorization-policy"), client_ip):
        raise Forbidden("ip-not-allowed", {"clientIp": client_ip})
    subject = claims_subject(claims)
    ident = subject.get("SubjectIdentifier") or {}
    return Caller(
        context_type=claims["context-identifier-type"],
        context_value=claims["context-identifier-value"],
        subject_type=ident.get("Type", ""),
        subject_value=ident.get("Value", ""),
        method=claims.get("authentication-method", ""),
        permissions=tuple(claims.get("permissions") or ()),
        session_reference=claims.get("session-reference-number", ""),
        ksef_token_reference=subject.get("KsefTokenReferenceNumber"),
    )
