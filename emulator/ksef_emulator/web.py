"""Small request/response helpers shared by the route modules."""

from __future__ import annotations

import json
import unicodedata

from starlette.requests import Request
from starlette.responses import Response

from .errors import ApiError


async def read_json(request: Request) -> dict:
    """The JSON object body, else 400 21405."""
    raw = await request.body()
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError(21405, "Treść żądania nie jest poprawnym dokumentem JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(21405, "Treść żądania musi być obiektem JSON.")
    return body


def json_response(
    body, status: int = 200, warnings: list[str] | None = None, request: Request | None = None
) -> Response:
    headers = {}
    warning = system_warning(warnings or [], request)
    if warning:
        headers["X-System-Warning"] = warning
    return Response(
        json.dumps(body, ensure_ascii=False), status_code=status, media_type="application/json", headers=headers
    )


def empty_response(status: int = 204, request: Request | None = None) -> Response:
    headers = {}
    warning = system_warning([], request)
    if warning:
        headers["X-System-Warning"] = warning
    return Response(status_code=status, headers=headers)


def ascii_fold(text: str) -> str:
    """ASCII folding as the SystemWarning header is normalised (ł and Ł have no decomposition)."""
    text = text.replace("ł", "l").replace("Ł", "L")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def system_warning(warnings: list[str], request: Request | None) -> str:
    """`[code]: message | [code]: message`; X-Test-System-Warning is echoed, as on TEST."""
    parts = []
    for warning in warnings:
        parts.append(warning if warning.startswith("[") else f"[xades]: {warning}")
    if request is not None and request.headers.get("x-test-system-warning"):
        parts.append(request.headers["x-test-system-warning"])
    return ascii_fold(" | ".join(p.replace("|", "/") if i < len(warnings) else p for i, p in enumerate(parts)))


def query_list(request: Request, name: str) -> list[str]:
    return request.query_params.getlist(name)
