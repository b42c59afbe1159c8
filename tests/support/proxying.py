"""What the fault proxies in front of test servers share: forwarding one request upstream, and answering."""
from __future__ import annotations

from http.server import BaseHTTPRequestHandler

import httpx

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def forward(handler: BaseHTTPRequestHandler, upstream: str, body: bytes) -> httpx.Response:
    """The request the handler received, sent unchanged (but for hop-by-hop headers) to `upstream`."""
    headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
    return httpx.request(handler.command, upstream + handler.path, headers=headers, content=body, timeout=60)


def answer(handler: BaseHTTPRequestHandler, status: int, headers: dict, payload: bytes) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        if name.lower() not in HOP_BY_HOP:
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def relay(handler: BaseHTTPRequestHandler, response: httpx.Response) -> None:
    """The upstream's answer, passed back to the caller."""
    answer(handler, response.status_code, dict(response.headers), response.content)
