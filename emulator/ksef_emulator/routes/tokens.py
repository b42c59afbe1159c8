"""KSeF token management: generate, list (filters, paging, visibility), status, revoke."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from .. import paging, refnum, validation
from ..authority import ALL_PERMISSIONS
from ..caller import Caller, access_caller
from ..errors import ApiError, Forbidden
from ..ksef_tokens import CONTEXT_WORDS, STATUSES, token_as_api
from ..web import empty_response, json_response, read_json

AUTHOR_TYPES = ("Nip", "Pesel", "Fingerprint")


def _state(request: Request):
    return request.app.state.emulator


async def generate(request: Request):
    state = _state(request)
    caller = access_caller(request)
    body = await read_json(request)
    requested = body.get("permissions")
    if not isinstance(requested, list) or not requested:
        raise ApiError(21405, "Pole 'permissions' musi zawierać co najmniej jedno uprawnienie.")
    permissions = [validation.enum_value(p, ALL_PERMISSIONS, "permissions") for p in requested]
    description = validation.text(body, "description", min_len=5, max_len=256)
    if caller.context_type not in CONTEXT_WORDS:
        raise ApiError(
            26002,
            f"Aktualny typ kontekstu: {caller.context_type}. Dozwolone typy kontekstu: {', '.join(CONTEXT_WORDS)}.",
        )
    # What the session carries and its subject still holds now (a revoked grant counts no more).
    held = set(caller.permissions) & set(
        state.authority.permissions(
            caller.context_type, caller.context_value, caller.subject_type, caller.subject_value
        )
    )
    missing = [p for p in ALL_PERMISSIONS if p in permissions and p not in held]
    if missing:
        raise ApiError(26001, f"Brakujące uprawnienia: {', '.join(missing)}.")
    reference, value = state.tokens.create(
        caller.context_type, caller.context_value, caller.subject_type, caller.subject_value, description, permissions
    )
    state.secrets.record("ksef_tokens", value)
    return json_response({"referenceNumber": reference, "token": value}, 202, request=request)


def _visible(state, caller: Caller, token: dict) -> bool:
    """The visibility rules of GET /tokens (open-api.json operation description)."""
    if caller.has_any("CredentialsManage", "CredentialsRead"):
        return True
    if caller.ksef_token_reference:
        return token["reference_number"] == caller.ksef_token_reference
    return (token["author_type"], token["author_value"]) in state.authority.linked_identifiers(
        caller.subject_type, caller.subject_value
    )


def _revocable(state, caller: Caller, token: dict) -> bool:
    """The rules of DELETE /tokens/{referenceNumber}."""
    if caller.has_any("CredentialsManage"):
        return True
    if caller.ksef_token_reference:
        return token["reference_number"] == caller.ksef_token_reference
    return (token["author_type"], token["author_value"]) in state.authority.linked_identifiers(
        caller.subject_type, caller.subject_value
    )


async def query(request: Request):
    state = _state(request)
    caller = access_caller(request)
    params = request.query_params
    statuses = {validation.enum_value(s, STATUSES, "status") for s in params.getlist("status")}
    description = params.get("description")
    if description is not None and len(description) < 3:
        raise ApiError(21405, "Parametr 'description' musi mieć co najmniej 3 znaki.")
    author = params.get("authorIdentifier")
    if author is not None and len(author) < 3:
        raise ApiError(21405, "Parametr 'authorIdentifier' musi mieć co najmniej 3 znaki.")
    author_type = params.get("authorIdentifierType")
    if author_type is not None:
        author_type = validation.enum_value(author_type, AUTHOR_TYPES, "authorIdentifierType")
    size = validation.page_size(params.get("pageSize"))
    after = paging.decode(request.headers.get("x-continuation-token"))

    selected = []
    for token in state.tokens.in_context(caller.context_type, caller.context_value):
        if not _visible(state, caller, token):
            continue
        if statuses and token["status"] not in statuses:
            continue
        if description is not None and description.lower() not in token["description"].lower():
            continue
        if author_type is not None and token["author_type"] != author_type:
            continue
        if author is not None and author.lower() not in token["author_value"].lower():
            continue
        selected.append(token)
    chunk, continuation = paging.page(selected, "date_created", size, after)
    body: dict[str, Any] = {"tokens": [token_as_api(t) for t in chunk]}
    if continuation:
        body["continuationToken"] = continuation
    return json_response(body, request=request)


def _token_in_context(request: Request, caller: Caller) -> dict:
    state = _state(request)
    reference = request.path_params["referenceNumber"]
    if not refnum.is_reference(reference):
        raise ApiError(21405, "Parametr 'referenceNumber' ma nieprawidłowy format.")
    token = state.tokens.get(reference)
    if token is None or (token["context_type"], token["context_value"]) != (caller.context_type, caller.context_value):
        raise ApiError(21405, f"Token o numerze referencyjnym {reference} nie został znaleziony.")
    return token


async def get_status(request: Request):
    state = _state(request)
    caller = access_caller(request)
    token = _token_in_context(request, caller)
    if not _visible(state, caller, token):
        raise Forbidden(
            "missing-permissions",
            {
                "requiredAnyOfPermissions": ["CredentialsManage", "CredentialsRead"],
                "presentPermissions": list(caller.permissions),
            },
        )
    return json_response(token_as_api(token), request=request)


async def revoke(request: Request):
    state = _state(request)
    caller = access_caller(request)
    token = _token_in_context(request, caller)
    if not _revocable(state, caller, token):
        raise Forbidden(
            "missing-permissions",
            {"requiredAnyOfPermissions": ["CredentialsManage"], "presentPermissions": list(caller.permissions)},
        )
    state.tokens.revoke(token["reference_number"])
    return empty_response(request=request)


routes = [
    Route("/tokens", generate, methods=["POST"]),
    Route("/tokens", query, methods=["GET"]),
    Route("/tokens/{referenceNumber}", get_status, methods=["GET"]),
    Route("/tokens/{referenceNumber}", revoke, methods=["DELETE"]),
]
