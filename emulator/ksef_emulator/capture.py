"""Record every /v2 exchange as one JSON line, secrets blanked, for the OpenAPI conformance check.

`CaptureMiddleware(app, path)` is pure ASGI: it sees the response exactly as it leaves the
application. Secrets are replaced by same-length runs of 'x' so the record still validates
against the contract (minLength/maxLength) but never holds a usable value.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

# Request headers that change what a response may look like (or show that auth was sent).
RECORDED_REQUEST_HEADERS = ("content-type", "accept", "x-error-format", "authorization")

# JSON keys whose string values are secrets wherever they appear in a response body:
# `token` inside accessToken/refreshToken/authenticationToken and GenerateTokenResponse.
SECRET_KEYS = frozenset({"token", "encryptedToken"})

MAX_TEXT_BODY = 100_000

# Set in the request scope by whatever injects a deliberate fault (a simulated 500, say), so the
# conformance check can tell it from a real failure.
FAULT_SCOPE_KEY = "ksef_emulator.fault"


def blank(value: str) -> str:
    """Same length, no secret. A KSeF token keeps its leading `referenceNumber|`."""
    head, sep, _rest = value.partition("|")
    if sep:
        return head + sep + "x" * (len(value) - len(head) - 1)
    return "x" * len(value)


def redact_body(body):
    """A copy of a parsed JSON body with every secret value blanked."""
    if isinstance(body, dict):
        return {
            key: blank(value) if key in SECRET_KEYS and isinstance(value, str) else redact_body(value)
            for key, value in body.items()
        }
    if isinstance(body, list):
        return [redact_body(item) for item in body]
    return body


def redact_authorization(value: str) -> str:
    scheme, sep, credentials = value.partition(" ")
    if sep:
        return scheme + sep + "x" * len(credentials)
    return "x" * len(value)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _route_template(scope) -> str | None:
    """The matched route's path (with any mount prefix) when the router recorded one."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    prefix = scope.get("root_path", "")[len(scope.get("app_root_path", "")) :]
    return prefix + path


class CaptureMiddleware:
    """Appends one JSON line per request under `prefix` to `path`."""

    def __init__(self, app, path: str | os.PathLike, prefix: str = "/v2"):
        self.app = app
        self.path = Path(path)
        self.prefix = prefix.rstrip("/")
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _captures(self, scope) -> bool:
        if scope["type"] != "http":
            return False
        path = scope.get("path", "")
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def __call__(self, scope, receive, send):
        if not self._captures(scope):
            await self.app(scope, receive, send)
            return

        started = time.monotonic()
        response: dict = {"status": None, "headers": {}, "body": bytearray()}

        async def capturing_send(message):
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                headers: dict[str, str] = {}
                for raw_name, raw_value in message.get("headers", []):
                    name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
                    headers[name] = f"{headers[name]}, {value}" if name in headers else value
                response["headers"] = headers
            elif message["type"] == "http.response.body":
                response["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, receive, capturing_send)
        finally:
            if response["status"] is not None:
                self._write(self._record(scope, response, time.monotonic() - started))

    def _record(self, scope, response: dict, duration: float) -> dict:
        request_headers: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers", []):
            name = raw_name.decode("latin-1").lower()
            if name in RECORDED_REQUEST_HEADERS:
                value = raw_value.decode("latin-1")
                request_headers[name] = redact_authorization(value) if name == "authorization" else value

        record = {
            "time": datetime.now(timezone.utc).isoformat(),
            "duration_ms": round(duration * 1000, 2),
            "method": scope["method"],
            "path": scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0] or scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "template": _route_template(scope),
            "request_headers": request_headers,
            "status": response["status"],
            "response_headers": response["headers"],
        }
        if scope.get(FAULT_SCOPE_KEY):
            record["injected_fault"] = str(scope[FAULT_SCOPE_KEY])
        raw = bytes(response["body"])
        content_type = response["headers"].get("content-type", "")
        if not raw:
            record["body"] = None
        elif _is_json(content_type):
            try:
                record["body"] = redact_body(json.loads(raw))
            except ValueError:
                record["body_text"] = raw.decode("utf-8", "replace")[:MAX_TEXT_BODY]
                record["body_invalid_json"] = True
        else:
            record["body_text"] = raw.decode("utf-8", "replace")[:MAX_TEXT_BODY]
        return record

    def _write(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
