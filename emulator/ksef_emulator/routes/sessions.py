"""Active authentication sessions: list, close the current one, close another one."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from .. import auth_operations as ops
from .. import clock, jwts, paging, validation
from ..caller import access_caller
from ..errors import ApiError, Forbidden, Unauthorized
from ..web import empty_response, json_response


def _state(request: Request):
    return request.app.state.emulator


def _is_open(op: dict) -> bool:
    code, _details = ops.current_status(op)
    until = op["refresh_valid_until"]
    return code == ops.SUCCESS and (until is None or until > clock.now())


async def list_sessions(request: Request):
    state = _state(request)
    caller = access_caller(request)
    size = validation.page_size(request.query_params.get("pageSize"))
    after = paging.decode(request.headers.get("x-continuation-token"))
    sessions = [op for op in state.operations.in_context(caller.context_type, caller.context_value) if _is_open(op)]
    chunk, token = paging.page(sessions, "start_date", size, after)
    items = []
    for op in chunk:
        item = ops.operation_as_api(op)
        item["referenceNumber"] = op["reference_number"]
        item["isCurrent"] = op["reference_number"] == caller.session_reference
        items.append(item)
    body: dict[str, Any] = {"items": items}
    if token:
        body["continuationToken"] = token
    return json_response(body, request=request)


async def close_current(request: Request):
    """Bearer accessToken or refreshToken: the session's refresh token stops working."""
    state = _state(request)
    token = jwts.bearer(request.headers)
    try:
        caller = access_caller(request)
        reference = caller.session_reference
    except Unauthorized:
        reference = state.jwt.decode(token, jwts.REFRESH).get("session-reference-number", "")
    state.operations.revoke(reference)
    return empty_response(request=request)


async def close_other(request: Request):
    state = _state(request)
    caller = access_caller(request)
    reference = request.path_params["referenceNumber"]
    op = state.operations.get(reference)
    if op is None or (op["context_type"], op["context_value"]) != (caller.context_type, caller.context_value):
        raise ApiError(21405, f"Sesja uwierzytelnienia o numerze referencyjnym {reference} nie została znaleziona.")
    own = (op["subject_type"], op["subject_value"]) in state.authority.linked_identifiers(
        caller.subject_type, caller.subject_value
    )
    if not own and not caller.has_any("CredentialsManage"):
        raise Forbidden(
            "missing-permissions",
            {"requiredAnyOfPermissions": ["CredentialsManage"], "presentPermissions": list(caller.permissions)},
        )
    state.operations.revoke(reference)
    return empty_response(request=request)


routes = [
    Route("/auth/sessions", list_sessions, methods=["GET"]),
    Route("/auth/sessions/current", close_current, methods=["DELETE"]),
    Route("/auth/sessions/{referenceNumber}", close_other, methods=["DELETE"]),
]
