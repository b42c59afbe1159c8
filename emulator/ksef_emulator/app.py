"""The ASGI application: API routes under /v2, the control API under /_emulator, and the request pipeline."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from . import errors
from .capture import CaptureMiddleware
from .errors import ApiError, Forbidden, Unauthorized
from .pipeline import API_PREFIX, Pipeline, RawSendKeeper
from .routes import admin, auth, security, sessions, testdata, tokens
from .settings import Settings
from .state import EmulatorState

ADMIN_PREFIX = "/_emulator"


def _prefixed(prefix: str, routes: list[Route], guard=None) -> list[Route]:
    return [
        Route(
            prefix + r.path, guard(r.endpoint) if guard else r.endpoint, methods=sorted((r.methods or set()) - {"HEAD"})
        )
        for r in routes
    ]


async def _bad_request(request: Request, exc: ApiError):
    return errors.bad_request(request, exc)


async def _unauthorized(request: Request, exc: Unauthorized):
    return errors.unauthorized(request.url.path, exc)


async def _forbidden(request: Request, exc: Forbidden):
    return errors.forbidden(request.url.path, exc)


async def _internal(request: Request, exc: Exception):
    return errors.internal_error(request.url.path, errors.wants_problem_details(request.headers))


def build_app(settings: Settings):
    state = EmulatorState(settings)
    api_routes = security.routes + auth.routes + sessions.routes + [auth.status_route] + tokens.routes + testdata.routes
    guard = admin.token_guard(settings.admin_token) if settings.admin_token else None
    routes = _prefixed(API_PREFIX, api_routes) + _prefixed(ADMIN_PREFIX, admin.routes, guard)
    # Each handler takes its own exception type; Starlette's annotation only knows Exception.
    handlers: dict[Any, Any] = {
        ApiError: _bad_request,
        Unauthorized: _unauthorized,
        Forbidden: _forbidden,
        admin.AdminError: admin.admin_error_response,
        Exception: _internal,
    }
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.emulator = state
    outer: Any = Pipeline(app, state, routes)
    if settings.capture is not None:
        outer = CaptureMiddleware(outer, str(settings.capture))
    return RawSendKeeper(outer), state
