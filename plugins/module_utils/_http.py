# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP client every module uses to talk to KSeF.

- retries with capped exponential backoff and full jitter on 5xx, timeouts and dropped connections;
- 429 honours `Retry-After` (seconds or an HTTP date) up to `max_retry_after`;
- operations that must not run twice (POST /tokens) are never repeated after the request may have
  reached the server: the caller gets KsefAmbiguousError and reconciles by reading the state;
- `limiter.acquire(operation)` runs before every request and `limiter.completed(operation, status,
  retry_after)` after it (client-side rate limiting hook, see _ratelimit.py);
- `calls` counts the requests sent per operation ("METHOD /template").
Error messages name the operation, status and official codes; never headers or bodies we sent.
"""

from __future__ import annotations

import email.utils
import os
import random
import ssl
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from urllib.parse import quote

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefAmbiguousError, KsefApiError
from ansible_collections.ksef.credentials.plugins.module_utils._ratelimit import NoopRateLimiter

# httpx imports its command-line client (rich, click) when they are installed; a module never uses it, and
# blocking that import (a None entry in sys.modules makes it raise ImportError, which httpx expects) saves
# about 80 ms of every module run.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
try:
    import httpx
except ImportError as exc:  # reported by KsefModule through missing_required_lib
    httpx = None  # type: ignore[assignment]
    HTTPX_IMPORT_ERROR: ImportError | None = exc
else:
    HTTPX_IMPORT_ERROR = None

# Operations whose repetition would create a second object (a second token and a second secret).
# Sent once: a repeat after the request may have reached KSeF could issue a second credential.
NON_IDEMPOTENT_OPERATIONS = frozenset({"POST /tokens", "POST /certificates/enrollments"})
USER_AGENT = "ksef.credentials (Ansible collection)"
_MAX_BODY_IN_MESSAGE = 300


def parse_retry_after(value, now=None):
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None when absent or invalid."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def backoff_delay(attempt, base, cap, rng=random.random):
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)] for the attempt-th retry (0-based)."""
    return rng() * min(cap, base * (2**attempt))


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def parse_error_body(body):
    """Normalise every KSeF error shape into (codes, description, details, reason_code).

    Shapes: ExceptionResponse {"exception": {"exceptionDetailList": [...]}}, problem+json
    {"title", "detail", "errors": [{code, description, details}], "reasonCode", "security"} and the
    status shape {"status": {"code", "description", "details"}} (429, authentication status).
    """
    codes: list = []
    descriptions: list = []
    details: list = []
    reason_code = None
    if not isinstance(body, dict):
        return codes, None, details, reason_code
    exception = body.get("exception")
    if isinstance(exception, dict):
        for item in exception.get("exceptionDetailList") or []:
            if not isinstance(item, dict):
                continue
            if item.get("exceptionCode") is not None:
                codes.append(item.get("exceptionCode"))
            if item.get("exceptionDescription"):
                descriptions.append(str(item["exceptionDescription"]))
            details.extend(_as_list(item.get("details")))
    for item in body.get("errors") or []:
        if not isinstance(item, dict):
            continue
        if item.get("code") is not None:
            codes.append(item.get("code"))
        if item.get("description"):
            descriptions.append(str(item["description"]))
        details.extend(_as_list(item.get("details")))
    status = body.get("status")
    if isinstance(status, dict):
        if status.get("description"):
            descriptions.append(str(status["description"]))
        details.extend(_as_list(status.get("details")))
    if "title" in body or "detail" in body or "reasonCode" in body:
        if not descriptions and body.get("title"):
            descriptions.append(str(body["title"]))
        if body.get("detail"):
            details.insert(0, str(body["detail"]))
        if body.get("reasonCode"):
            reason_code = str(body["reasonCode"])
        security = body.get("security")
        if isinstance(security, dict):
            for key, value in security.items():
                if isinstance(value, (list, tuple)):
                    value = ", ".join(str(v) for v in value) or "-"
                details.append(f"{key}: {value}")
    codes = [_int_or_str(c) for c in codes]
    description = "; ".join(dict.fromkeys(descriptions)) or None
    return codes, description, list(dict.fromkeys(details)), reason_code


def _int_or_str(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def error_from_response(response, operation, error_class=KsefApiError):
    """A KsefApiError describing an error response, e.g.
    "KSeF refused POST /tokens: 26001 Nie można nadać ... (missing: CredentialsManage)"."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    codes, description, details, reason_code = parse_error_body(body)
    if body is None and response.content:
        # Not JSON (a proxy page, say): show its start, it is an answer from the server, not our request.
        snippet = response.text.strip().replace("\n", " ")[:_MAX_BODY_IN_MESSAGE]
        if snippet:
            details = [snippet]
    verb = "refused" if status < 500 else "failed on"
    head = f"KSeF {verb} {operation}: "
    if codes:
        head += f"{', '.join(str(c) for c in codes)} "
    else:
        head += f"HTTP {status} "
    head += description or response.reason_phrase or "error"
    if reason_code:
        head += f" [{reason_code}]"
    if details:
        head += f" ({'; '.join(details)})"
    if codes:
        head += f" [HTTP {status}]"
    if error_class is KsefAmbiguousError:
        head += "; the request may have taken effect, read the current state before trying again"
    retry_after = parse_retry_after(response.headers.get("Retry-After")) if status == 429 else None
    return error_class(
        head.strip(),
        status=status,
        codes=codes,
        description=description,
        details=details,
        operation=operation,
        reason_code=reason_code,
        retry_after=retry_after,
    )


def ssl_verify(verify):
    """What httpx's `verify` takes: a bool, or an SSLContext for a custom CA (a file or a directory of hashed
    certificates); httpx deprecates a path there."""
    if isinstance(verify, str):
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    return bool(verify)


def _load_sync_transport():
    """Import httpcore without the async frameworks it picks up when installed (trio, anyio): a sync client never
    uses them, and loading them costs about 60 ms of every module run. Nothing else is kept from importing them
    later: they are blocked only while httpcore loads."""
    if "httpcore" in sys.modules:
        return
    blocked = [name for name in ("trio", "anyio") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import httpcore  # noqa: F401
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def _certificate_refused(exc):
    """True when a connection failed because the server's certificate did not verify."""
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


class KsefHttp:
    """A small KSeF HTTP client on httpx; one instance per module run."""

    def __init__(
        self,
        base_url,
        verify=True,
        timeout=30.0,
        max_attempts=5,
        backoff_base=0.5,
        backoff_cap=10.0,
        max_retry_after=60.0,
        limiter=None,
        non_idempotent=NON_IDEMPOTENT_OPERATIONS,
        transport=None,
        sleep=time.sleep,
        rng=random.random,
    ):
        if httpx is None:
            raise HTTPX_IMPORT_ERROR
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max(1, int(max_attempts))
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.limiter = limiter or NoopRateLimiter()
        self.non_idempotent = frozenset(non_idempotent)
        self.calls: Counter[str] = Counter()  # requests actually sent, per "METHOD /template"
        self.retries = 0
        self.waited = 0.0  # seconds slept in backoff and Retry-After
        self._sleep = sleep
        self._rng = rng
        kwargs = dict(timeout=timeout, headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
        if transport is not None:
            kwargs["transport"] = transport
        elif self.base_url.startswith("http://"):
            kwargs["verify"] = (
                False  # no TLS on this connection (loopback only, see _connection.py): no CA bundle to load
            )
        else:
            kwargs["verify"] = ssl_verify(verify)
        _load_sync_transport()
        self._client = httpx.Client(**kwargs)

    def close(self):
        self._client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(
        self,
        method,
        path,
        path_params=None,
        params=None,
        json=None,
        content=None,
        headers=None,
        bearer=None,
        max_pacing_wait=None,
    ):
        """Send one logical request (with retries); return the httpx.Response of a 2xx answer.

        `path` is the OpenAPI template (e.g. "/tokens/{referenceNumber}"); `path_params` fills it in.
        Raises KsefApiError (error answer or unreachable) or KsefAmbiguousError (may have taken effect).
        `max_pacing_wait`: for a request the caller can do without, the longest pacing wait it accepts
        (PacingTooLongError beyond it, nothing sent).
        """
        method = method.upper()
        operation = f"{method} {path}"
        url = self.base_url + path.format(**{k: quote(str(v), safe="") for k, v in (path_params or {}).items()})
        send_headers = dict(headers or {})
        if bearer:
            send_headers["Authorization"] = f"Bearer {bearer}"
        repeatable = operation not in self.non_idempotent
        attempt = 0
        while True:
            attempt += 1
            last = attempt >= self.max_attempts
            try:
                response = self._send(
                    operation,
                    method,
                    url,
                    max_pacing_wait,
                    params=params,
                    json=json,
                    content=content,
                    headers=send_headers,
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # The request never left this machine: always safe to try again.
                if _certificate_refused(exc):  # retrying cannot help; say how to trust the server
                    raise KsefApiError(
                        f"Could not reach KSeF at {self.base_url} for {operation}: the server's TLS certificate "
                        f"was refused ({exc}). For a private CA set ca_path to its PEM file.",
                        operation=operation,
                    ) from None
                if last:
                    raise self._unreachable(operation, attempt, exc) from None
                self._backoff(attempt)
                continue
            except httpx.TransportError as exc:
                # Sent, but the answer was lost (timeout, reset, dropped connection): it may have taken effect.
                if not repeatable:
                    raise KsefAmbiguousError(
                        f"KSeF connection dropped during {operation} ({type(exc).__name__}); the request may "
                        "have taken effect. Read the current state before trying again.",
                        operation=operation,
                    ) from None
                if last:
                    raise self._unreachable(operation, attempt, exc) from None
                self._backoff(attempt)
                continue

            status = response.status_code
            if status < 400:
                return response
            if status == 429:
                error = error_from_response(response, operation)
                wait = error.retry_after
                if wait is not None and wait > self.max_retry_after:
                    error.message = (
                        f"{error.message}; KSeF asks to wait {wait:.0f}s, more than the "
                        f"{self.max_retry_after:.0f}s this client waits"
                    )
                    raise error
                if last:
                    raise error
                self._wait(wait if wait is not None else self._delay(attempt))
                continue
            if status >= 500:
                if not repeatable:
                    raise error_from_response(response, operation, KsefAmbiguousError)
                if last:
                    raise error_from_response(response, operation)
                self._backoff(attempt)
                continue
            raise error_from_response(response, operation)

    def _send(self, operation, method, url, max_pacing_wait=None, **kwargs):
        """One attempt, paced by the limiter, which also hears when the answer (or failure) came."""
        self.limiter.acquire(operation, max_wait=max_pacing_wait)
        self.calls[operation] += 1
        response = None
        try:
            response = self._client.request(method, url, **kwargs)
            return response
        finally:
            completed = getattr(self.limiter, "completed", None)  # optional in a limiter
            if completed is not None:
                status = response.status_code if response is not None else None
                retry_after = None
                if response is not None and status == 429:
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                completed(operation, status, retry_after)

    def _delay(self, attempt):
        return backoff_delay(attempt - 1, self.backoff_base, self.backoff_cap, self._rng)

    def _backoff(self, attempt):
        self._wait(self._delay(attempt))

    def _wait(self, seconds):
        self.retries += 1
        self.waited += seconds
        if seconds > 0:
            self._sleep(seconds)

    def _unreachable(self, operation, attempts, exc):
        return KsefApiError(
            f"Could not reach KSeF at {self.base_url} for {operation} after {attempts} attempt(s): "
            f"{type(exc).__name__}: {exc}",
            operation=operation,
        )


def response_json(response, operation):
    """The JSON body of a successful answer, or a KsefApiError saying it was not JSON."""
    try:
        return response.json()
    except ValueError:
        raise KsefApiError(
            f"KSeF answered {operation} with a body that is not JSON (HTTP {response.status_code})",
            status=response.status_code,
            operation=operation,
        ) from None
