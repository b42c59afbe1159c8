# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authentication against KSeF 2.0: logging in, refreshing and closing sessions (the `auth` option itself is
`_auth_options.py`).

Login (uwierzytelnianie.md): POST /auth/challenge -> POST /auth/ksef-token (token encrypted with the
current KsefTokenEncryption key) or POST /auth/xades-signature (signed AuthTokenRequest) -> poll
GET /auth/{referenceNumber} while code 100 -> POST /auth/token/redeem -> access + refresh token.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timezone

from ansible_collections.ksef.credentials.plugins.module_utils import _timestamps
from ansible_collections.ksef.credentials.plugins.module_utils._auth_options import SUBJECT_IDENTIFIER_TYPES, AuthConfig
from ansible_collections.ksef.credentials.plugins.module_utils._errors import (
    KsefApiError,
    KsefAuthError,
    KsefConfigError,
)
from ansible_collections.ksef.credentials.plugins.module_utils._http import response_json
from ansible_collections.ksef.credentials.plugins.module_utils._poll import Poller
from ansible_collections.ksef.credentials.plugins.module_utils._ratelimit import PacingTooLongError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
except ImportError as exc:  # reported by KsefModule through missing_required_lib
    CRYPTOGRAPHY_IMPORT_ERROR: ImportError | None = exc
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None

KSEF_TOKEN_ENCRYPTION = "KsefTokenEncryption"
UNKNOWN_KEY_CODE = 21470  # "Przesłany identyfikator klucza jest nieznany lub wskazuje na wycofany klucz."
STATUS_IN_PROGRESS = 100
STATUS_SUCCESS = 200
NO_PERMISSIONS = 415  # "Uwierzytelnianie zakończone niepowodzeniem": "Brak przypisanych uprawnień"

# --- time helpers ----------------------------------------------------------------------------------------


def jwt_expiry(token):
    """The `exp` claim of a JWT as epoch seconds, read without verification (None when not a JWT)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        exp = json.loads(base64.urlsafe_b64decode(payload)).get("exp")
        return float(exp) if exp is not None else None
    except (IndexError, ValueError, AttributeError, TypeError):
        return None


def _token_expiry(token_info):
    """Epoch seconds when a TokenInfo {token, validUntil} expires (validUntil first, then the JWT exp)."""
    until = _timestamps.parse_or_none(token_info.get("validUntil"))
    if until is not None:
        return until.timestamp()
    return jwt_expiry(token_info.get("token"))


# --- KSeF token encryption -------------------------------------------------------------------------------


def select_token_encryption_certificate(certificates, now=None):
    """The KsefTokenEncryption certificate valid now with the newest validFrom (klucze-publiczne...md 4.1)."""
    now = now or datetime.now(timezone.utc)
    valid = []
    for cert in certificates or []:
        if KSEF_TOKEN_ENCRYPTION not in (cert.get("usage") or []):
            continue
        valid_from, valid_to = (
            _timestamps.parse_or_none(cert.get("validFrom")),
            _timestamps.parse_or_none(cert.get("validTo")),
        )
        if valid_from is None or valid_to is None or not (valid_from <= now <= valid_to):
            continue
        valid.append((valid_from, cert))
    if not valid:
        raise KsefAuthError(
            "KSeF publishes no KsefTokenEncryption certificate valid now "
            "(GET /security/public-key-certificates); cannot encrypt the KSeF token"
        )
    return max(valid, key=lambda item: item[0])[1]


def encrypt_ksef_token(certificate_b64, token, timestamp_ms):
    """Base64 of RSA-OAEP(SHA-256, MGF1-SHA-256) over "{token}|{timestampMs}" with the certificate's key."""
    cert = x509.load_der_x509_certificate(base64.b64decode(certificate_b64))
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise KsefAuthError("the KSeF token encryption certificate does not hold an RSA key")
    ciphertext = public_key.encrypt(
        f"{token}|{int(timestamp_ms)}".encode(),
        padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    return base64.b64encode(ciphertext).decode("ascii")


def token_reference(token):
    """The reference number a KSeF token value (`reference|nip-...|secret`) starts with; None for anything else."""
    head, separator, _rest = (token or "").strip().partition("|")
    return head if separator and head else None


# --- sessions --------------------------------------------------------------------------------------------


class KsefSession:
    """Access and refresh tokens of one authentication session; refreshes itself when needed.

    `opened` is True for sessions this run logged in to (they are closed at the end); False for reused ones.
    """

    def __init__(
        self,
        http,
        access_token=None,
        refresh_token=None,
        access_expires=None,
        refresh_expires=None,
        reference_number=None,
        opened=False,
        on_secret=None,
        clock=time.time,
        ksef_token_reference=None,
    ):
        self._http = http
        self._clock = clock
        self._on_secret = on_secret or (lambda value: None)
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.access_expires = access_expires if access_expires is not None else jwt_expiry(access_token)
        self.refresh_expires = refresh_expires if refresh_expires is not None else jwt_expiry(refresh_token)
        self.reference_number = reference_number
        # The KSeF token this session was opened with, by its reference number (never its value): known after a
        # token login, and handed over with the session (auth.ksef_token_reference); None after a XAdES login.
        self.ksef_token_reference = ksef_token_reference
        self.opened = opened
        self.closed = False
        self.refreshed = 0
        self._obtained = clock()
        for secret in (access_token, refresh_token):
            self._on_secret(secret)

    def __repr__(self):
        return f"KsefSession(reference_number={self.reference_number!r}, opened={self.opened})"

    @property
    def can_refresh(self):
        return bool(self.refresh_token)

    def _access_expiring(self):
        if not self.access_token:
            return True
        if self.access_expires is None:
            return False  # unknown lifetime: use it, a 401 triggers a refresh
        # Refresh a little early: 10 s, or a quarter of a very short lifetime.
        lifetime = max(0.0, self.access_expires - self._obtained)
        margin = min(10.0, lifetime / 4)
        return self._clock() >= self.access_expires - margin

    def bearer(self):
        """The access token to send, refreshed first when it is expired or about to expire."""
        if self._access_expiring():
            if self.can_refresh:
                self.refresh()
            elif not self.access_token:
                raise KsefAuthError("No access token to use and no refresh token to get one")
            else:
                raise KsefAuthError(
                    "The access token has expired and no refresh token was given; log in again "
                    "(ksef.credentials.session) or pass auth.refresh_token"
                )
        return self.access_token

    def refresh(self):
        """POST /auth/token/refresh with the refresh token."""
        if not self.refresh_token:
            raise KsefAuthError("The access token was refused and no refresh token is available to renew it")
        try:
            response = self._http.request("POST", "/auth/token/refresh", bearer=self.refresh_token)
        except KsefApiError as exc:
            raise KsefAuthError(
                f"Could not refresh the KSeF access token: {exc}",
                status=exc.status,
                codes=exc.codes,
                description=exc.description,
                details=exc.details,
                operation=exc.operation,
            ) from None
        info = response_json(response, "POST /auth/token/refresh").get("accessToken") or {}
        if not info.get("token"):
            raise KsefAuthError("KSeF answered POST /auth/token/refresh without an access token")
        self.access_token = info["token"]
        self._on_secret(self.access_token)
        self.access_expires = _token_expiry(info)
        self._obtained = self._clock()
        self.refreshed += 1

    def close(self, max_pacing_wait=None):
        """DELETE /auth/sessions/current: invalidates the refresh token of this session. `max_pacing_wait`: the
        longest wait for KSeF's limit on closing sessions worth making, by default the client's max_retry_wait
        (PacingTooLongError beyond it, nothing sent: the session is left to expire)."""
        if self.closed:
            return
        bearer = self.refresh_token or self.access_token
        if self.access_token and not self._access_expiring():
            bearer = self.access_token
        if max_pacing_wait is None:
            max_pacing_wait = getattr(self._http.limiter, "max_pacing_wait", None)
        self._http.request("DELETE", "/auth/sessions/current", bearer=bearer, max_pacing_wait=max_pacing_wait)
        self.closed = True

    def close_or_leave(self):
        """Close this session, or leave it to expire when KSeF's limit on closing sessions would hold the close
        longer than max_retry_wait: returns the warning that says so (no secret in it), or None once closed."""
        try:
            self.close()
        except PacingTooLongError as exc:
            return left_open(self, exc)
        return None

    def as_result(self):
        """What the session module returns (secrets included: the caller marks the result no_log)."""
        return {
            "access_token": self.access_token,
            "access_token_valid_until": _iso(self.access_expires),
            "refresh_token": self.refresh_token,
            "refresh_token_valid_until": _iso(self.refresh_expires),
            "reference_number": self.reference_number,
            "ksef_token_reference": self.ksef_token_reference,
        }


def left_open(session, exc):
    """The warning for a session whose close was not sent (PacingTooLongError `exc`)."""
    return (
        "The KSeF session %s is left open to expire by itself (KSeF ends it when its tokens expire): %s; lower the "
        "pace of runs in this context, or raise max_retry_wait" % (session.reference_number or "", exc)
    ).replace("  ", " ")


def _iso(epoch):
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat().replace("+00:00", "Z")


class Authenticator:
    """Logs in to KSeF with a KSeF token or a XAdES signature and returns a KsefSession."""

    def __init__(self, http, on_secret=None, poll_timeout=120, sleep=time.sleep, clock=time.monotonic):
        self._http = http
        self._on_secret = on_secret or (lambda value: None)
        self._poll_timeout = poll_timeout
        self._sleep = sleep
        self._clock = clock
        self._certificates = None

    # public entry points

    def authenticate(self, context, config):
        """A KsefSession for `config` (an AuthConfig) in `context` (a KsefContext)."""
        if config.method == "ksef_token":
            return self.login_with_ksef_token(context, config.ksef_token)
        if config.method == "xades":
            return self.login_with_xades(context, config)
        return KsefSession(
            self._http,
            access_token=config.access_token,
            refresh_token=config.refresh_token,
            opened=False,
            on_secret=self._on_secret,
            ksef_token_reference=config.ksef_token_reference,
        )

    def login_with_ksef_token(self, context, token):
        self._on_secret(token)
        for attempt in (1, 2):
            certificate = select_token_encryption_certificate(self._encryption_certificates(refresh=attempt > 1))
            challenge = self._challenge()
            body = {
                "challenge": challenge["challenge"],
                "contextIdentifier": context.as_api(),
                "encryptedToken": encrypt_ksef_token(certificate["certificate"], token, _timestamp_ms(challenge)),
                "publicKeyId": certificate.get("publicKeyId"),
            }
            try:
                response = self._http.request("POST", "/auth/ksef-token", json=body)
            except KsefApiError as exc:
                # The key was rotated (emergency rotation): fetch the keys again and retry once.
                if attempt == 1 and UNKNOWN_KEY_CODE in exc.codes:
                    continue
                raise
            session = self._finish(response_json(response, "POST /auth/ksef-token"))
            session.ksef_token_reference = token_reference(token)
            return session
        raise AssertionError("unreachable")

    def login_with_xades(self, context, config):
        # Imported here so that modules which never sign do not need lxml/signxml.
        from ansible_collections.ksef.credentials.plugins.module_utils import _xades

        subject_identifier_type = SUBJECT_IDENTIFIER_TYPES[config.subject_identifier_type]
        try:
            credentials = _xades.load_signing_credentials(
                config.certificate,
                config.private_key,
                config.private_key_passphrase,
                config.pkcs12,
                config.pkcs12_passphrase,
            )
            identity = _xades.check_subject_identifier(credentials, subject_identifier_type, "auth.certificate")
            if subject_identifier_type == "certificateSubject" and not config.on_behalf:
                _xades.check_acts_as_context(identity, context, "pkcs12" if config.pkcs12 else "certificate")
        except _xades.XadesCredentialsError as exc:
            option = exc.option if exc.option.startswith("auth.") else f"auth.{exc.option}"
            raise KsefConfigError(option, f"{option}: {exc.reason}") from None
        challenge = self._challenge()
        xml = _xades.build_auth_token_request(
            challenge["challenge"], context.type, context.value, subject_identifier_type
        )
        signed = _xades.sign_auth_token_request(xml, credentials)
        if isinstance(signed, str):
            signed = signed.encode("utf-8")
        response = self._http.request(
            "POST", "/auth/xades-signature", content=signed, headers={"Content-Type": "application/xml"}
        )
        return self._finish(response_json(response, "POST /auth/xades-signature"))

    # steps

    def _encryption_certificates(self, refresh=False):
        if self._certificates is None or refresh:
            response = self._http.request("GET", "/security/public-key-certificates")
            self._certificates = response_json(response, "GET /security/public-key-certificates")
        return self._certificates

    def _challenge(self):
        return response_json(self._http.request("POST", "/auth/challenge"), "POST /auth/challenge")

    def _finish(self, init):
        """Poll the authentication operation, then redeem its tokens."""
        reference = init.get("referenceNumber")
        auth_token = (init.get("authenticationToken") or {}).get("token")
        if not reference or not auth_token:
            raise KsefAuthError("KSeF started an authentication without a reference number or token")
        self._on_secret(auth_token)
        self._wait_for_success(reference, auth_token)
        response = self._http.request("POST", "/auth/token/redeem", bearer=auth_token)
        tokens = response_json(response, "POST /auth/token/redeem")
        access, refresh = tokens.get("accessToken") or {}, tokens.get("refreshToken") or {}
        if not access.get("token"):
            raise KsefAuthError("KSeF answered POST /auth/token/redeem without an access token")
        return KsefSession(
            self._http,
            access_token=access["token"],
            refresh_token=refresh.get("token"),
            access_expires=_token_expiry(access),
            refresh_expires=_token_expiry(refresh),
            reference_number=reference,
            opened=True,
            on_secret=self._on_secret,
        )

    def _wait_for_success(self, reference, auth_token):
        poller = Poller(self._poll_timeout, sleep=self._sleep, monotonic=self._clock)
        while True:
            response = self._http.request(
                "GET", "/auth/{referenceNumber}", path_params={"referenceNumber": reference}, bearer=auth_token
            )
            status = response_json(response, "GET /auth/{referenceNumber}").get("status") or {}
            code = status.get("code")
            if code == STATUS_SUCCESS:
                return
            if code != STATUS_IN_PROGRESS:
                details = [str(d) for d in status.get("details") or []]
                message = f"KSeF authentication {reference} failed: {code} {status.get('description') or ''}".strip()
                if details:
                    message += f" ({'; '.join(details)})"
                if code == NO_PERMISSIONS:
                    message += (
                        ": the subject that logged in holds no permission in this context; log in as the context's "
                        "owner, or have the owner grant it a permission there (MCU, or the /permissions API)"
                    )
                raise KsefAuthError(
                    message,
                    status=code,
                    description=status.get("description"),
                    details=details,
                    operation="GET /auth/{referenceNumber}",
                )
            if not poller.wait():
                raise KsefAuthError(
                    f"KSeF authentication {reference} is still in progress (code 100) after "
                    f"{self._poll_timeout:g}s; certificate status checks (OCSP/CRL) can take longer - raise "
                    "auth.poll_timeout",
                    status=code,
                    operation="GET /auth/{referenceNumber}",
                )


def _timestamp_ms(challenge):
    if challenge.get("timestampMs") is not None:
        return int(challenge["timestampMs"])
    parsed = _timestamps.parse_or_none(challenge.get("timestamp"))
    if parsed is None:
        raise KsefAuthError("KSeF answered POST /auth/challenge without a timestamp")
    return int(parsed.timestamp() * 1000)


def verify_ksef_token(http, context, token, on_secret=None, poll_timeout=60):
    """Prove that `token` logs in to `context`: log in, redeem, close that session. Raises KsefError otherwise;
    returns the warning of a close left to expire (KsefSession.close_or_leave), or None."""
    session = Authenticator(http, on_secret=on_secret, poll_timeout=poll_timeout).login_with_ksef_token(context, token)
    return session.close_or_leave()


def verify_certificate(
    http, context, bundle, subject_identifier_type="certificate_subject", on_secret=None, poll_timeout=60
):
    """Prove that a certificate with its key (one PEM bundle) logs in to `context`: log in by XAdES, redeem, close
    that session. Raises KsefError otherwise; returns the warning of a close left to expire, or None."""
    # on_behalf: the run's own login, with the same subject, has already been checked against the context.
    config = AuthConfig(
        method="xades",
        certificate=bundle,
        private_key=bundle,
        subject_identifier_type=subject_identifier_type,
        on_behalf=True,
    )
    session = Authenticator(http, on_secret=on_secret, poll_timeout=poll_timeout).login_with_xades(context, config)
    return session.close_or_leave()
