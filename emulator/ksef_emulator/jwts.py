"""The three JWTs the API hands out (HS256, secret persisted in state so they survive a restart).

- OperationToken: authenticationToken of one authentication operation (GET /auth/{ref}, redeem).
- ContextToken: accessToken; carries the context, the subject and the permissions granted at issue time.
- RefreshToken: refreshToken; only good for POST /auth/token/refresh and DELETE /auth/sessions/current.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jwt

if TYPE_CHECKING:  # PyJWT's TypedDict of decode options (newer than our minimum PyJWT)
    from jwt.types import Options

from . import clock
from .errors import Unauthorized
from .store import Store

ISSUER = "ksef-api-emulator"
AUDIENCE = "ksef-api-emulator"
OPERATION_TOKEN_TTL = 2700  # what the real authenticationToken examples carry (exp - iat)

OPERATION = "OperationToken"
ACCESS = "ContextToken"
REFRESH = "RefreshToken"


@dataclass(frozen=True)
class Issued:
    token: str
    valid_until: float

    def as_api(self) -> dict:
        return {"token": self.token, "validUntil": clock.iso(self.valid_until)}


class JwtIssuer:
    def __init__(self, store: Store):
        secret = store.meta_get("jwt_secret")
        if secret is None:
            secret = secrets.token_hex(32)
            store.meta_set("jwt_secret", secret)
        self._secret = secret

    def _sign(self, claims: dict, ttl: float) -> Issued:
        now = clock.now()
        exp = now + ttl
        payload = {**claims, "jti": uuid.uuid4().hex, "iat": int(now), "exp": exp, "iss": ISSUER, "aud": AUDIENCE}
        return Issued(jwt.encode(payload, self._secret, algorithm="HS256"), exp)

    def operation_token(self, reference_number: str) -> Issued:
        return self._sign(
            {"token-type": OPERATION, "operation-reference-number": reference_number}, OPERATION_TOKEN_TTL
        )

    def session_token(self, token_type: str, session: dict, ttl: float) -> Issued:
        """An access (ContextToken) or refresh (RefreshToken) token for an authentication session."""
        subject = {"SubjectIdentifier": {"Type": session["subject_type"], "Value": session["subject_value"]}}
        if session.get("ksef_token_reference"):
            subject["KsefTokenReferenceNumber"] = session["ksef_token_reference"]
        claims = {
            "token-type": token_type,
            "context-identifier-type": session["context_type"],
            "context-identifier-value": session["context_value"],
            "authentication-method": session["method"],
            "subject-details": json.dumps(subject, separators=(",", ":")),
            "session-reference-number": session["reference_number"],
        }
        if token_type == ACCESS:
            claims["permissions"] = list(session["permissions"])
            if session.get("authorization_policy"):
                claims["authorization-policy"] = session["authorization_policy"]
        return self._sign(claims, ttl)

    def _claims(self, token: str, options: Options) -> dict:
        """The claims of a token signed with our secret, for our audience and issuer (PyJWT errors pass up)."""
        return jwt.decode(token, self._secret, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER, options=options)

    def decode(self, token: str, expected_type: str, *, verify_exp: bool = True) -> dict:
        """The claims of a valid token of the expected type, else 401."""
        try:
            claims = self._claims(token, {"verify_exp": verify_exp, "require": ["exp", "iat", "token-type"]})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("Token wygasł.") from None
        except jwt.PyJWTError:
            raise Unauthorized("Nieprawidłowy token.") from None
        if claims.get("token-type") != expected_type:
            raise Unauthorized("Nieprawidłowy typ tokena dla tej operacji.")
        return claims

    def peek_context(self, token: str) -> str | None:
        """`Type:value` of a correctly signed session token (even expired), for limits, stats and logs."""
        try:
            claims = self._claims(token, {"verify_exp": False})
        except jwt.PyJWTError:
            return None
        if claims.get("context-identifier-type"):
            return f"{claims['context-identifier-type']}:{claims['context-identifier-value']}"
        return None


def bearer(headers) -> str:
    """The Bearer credential of a request, else 401."""
    value = headers.get("authorization", "")
    scheme, _separator, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    return token.strip()
