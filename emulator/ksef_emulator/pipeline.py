"""What happens around every request: fault injection, rate limits, counters and the one-line log.

The log line never carries a secret: method, path (no query), status, context and duration only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import jwt

from . import errors, faults
from .errors import wants_problem_details
from .overrides import rate_limits_of
from .ratelimit import too_many_requests
from .state import EmulatorState

API_PREFIX = "/v2"
RAW_SEND = "ksef_emulator.raw_send"

log = logging.getLogger("ksef_emulator.requests")


class RawSendKeeper:
    """Outermost layer: remembers the server's own `send`, which dropping a connection needs."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            scope[RAW_SEND] = send
        await self.app(scope, receive, send)


class Pipeline:
    def __init__(self, app, state: EmulatorState, routes):
        self.app = app
        self.state = state
        # (method, compiled path regex, template under /v2) for every API route
        self.templates = []
        for route in routes:
            if route.path.startswith(API_PREFIX + "/"):
                for method in route.methods or ():
                    if method != "HEAD":
                        self.templates.append((method, route.path_regex, route.path[len(API_PREFIX) :]))

    def operation(self, method: str, path: str) -> str | None:
        if not path.startswith(API_PREFIX + "/"):
            return None
        for route_method, regex, template in self.templates:
            if route_method == method and regex.match(path):
                return f"{method} {template}"
        return f"{method} {path[len(API_PREFIX) :]}"

    def context_of(self, scope) -> str | None:
        """`Type:value` from the request's bearer token, if it is one of ours."""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _separator, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token:
                    return None
                token = token.strip()
                context = self.state.jwt.peek_context(token)
                if context is None:
                    context = self._operation_context(token)
                return context
        return None

    def _operation_context(self, token: str) -> str | None:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        ref = claims.get("operation-reference-number")
        op = self.state.operations.get(ref) if isinstance(ref, str) else None
        return f"{op['context_type']}:{op['context_value']}" if op else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        method, path = scope["method"], scope["path"]
        operation = self.operation(method, path)
        context = self.context_of(scope) if operation else None
        outcome: dict[str, Any] = {"status": 0}

        async def send_and_watch(message):
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
            await send(message)

        if operation is not None:
            self.state.stats.received(operation)
        try:
            if operation is None:
                await self.app(scope, receive, send_and_watch)
                return
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
            problem = wants_problem_details(headers)
            hits = self.state.faults.draw(operation)
            if faults.SLOW in hits:
                await asyncio.sleep(self.state.faults.slow_seconds)
            if faults.DROP in hits:
                await self._drop(scope, send)
                outcome["status"] = "dropped"
                return
            if faults.ERROR in hits:
                scope["ksef_emulator.fault"] = "error"  # the capture marks it; the conformance check skips it
                await errors.internal_error(path, problem)(scope, receive, send_and_watch)
                return
            denied = self._rate_limited(operation, context, scope, path, problem)
            if denied is not None:
                await denied(scope, receive, send_and_watch)
                return
            await self.app(scope, receive, send_and_watch)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            if operation is not None:
                self.state.stats.record(operation, context, outcome["status"])
            log.info("%s %s %s %s %.1fms", method, path, outcome["status"] or "-", context or "-", elapsed_ms)

    def _rate_limited(self, operation, context, scope, path, problem):
        limiter = self.state.limiter
        client_ip = (scope.get("client") or ("", 0))[0]
        key = f"{context or ''}|{client_ip}"
        limits, absolute = rate_limits_of(self.state.overrides, operation, context)
        denial = limiter.check_request(operation, key, limits, absolute=absolute)
        if denial is None:
            return None
        return too_many_requests(denial.retry_after, denial.detail, problem, path)

    @staticmethod
    async def _drop(scope, send):
        """Close the socket without an answer (the server must not send its own 500 afterwards)."""
        raw = scope.get(RAW_SEND, send)
        cycle = getattr(raw, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:
            raise RuntimeError("cannot drop the connection: server transport not reachable")
        cycle.disconnected = True  # type: ignore[union-attr]  # a transport implies its cycle
        transport.abort()
        await asyncio.sleep(0)
