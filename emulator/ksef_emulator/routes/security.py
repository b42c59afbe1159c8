"""Public-key certificates for client-side encryption."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from ..web import json_response


async def public_key_certificates(request: Request):
    keys = request.app.state.emulator.keys.published()
    return json_response([k.as_api() for k in keys], request=request)


routes = [Route("/security/public-key-certificates", public_key_certificates, methods=["GET"])]
