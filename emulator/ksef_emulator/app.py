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
from .routes import admin, auth, certificates, permissions, security, sessions, testdata, tokens
from .routes import limits as limit_routes
from .settings import Settings
from .state import EmulatorState

ADMIN_PREFIX = "/_emulator"


def _prefixed(prefix: str, routes: list[Route], guard=None) -> list[Route]:
    """One Route per path (its methods merged), so a wrong method gets 405 with an Allow naming every method."""
    by_path: dict[str, dict[str, Any]] = {}
    for route in routes:
        endpoint = guard(route.endpoint) if guard else route.endpoint
        for method in (route.methods or set()) - {"HEAD"}:
            by_path.setdefault(route.path, {})[method] = endpoint
    return [
        Route(prefix + path, _by_method(endpoints), methods=sorted(endpoints)) for path, endpoints in by_path.items()
    ]


def _by_method(endpoints: dict[str, Any]):
    if len(endpoints) == 1:
        return next(iter(endpoints.values()))

    async def dispatch(request: Request):
        return await endpoints[request.method](request)

    return dispatch


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
    api_routes = (
        security.routes
        + auth.routes
        + sessions.routes
        + [auth.status_route]
        + tokens.routes
        + certificates.routes
        + permissions.routes
        + testdata.routes
        + limit_routes.routes
    )
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
