"""The capture middleware on a small real Starlette app: what is written, and that no secret is."""
from __future__ import annotations

import json
import secrets
import threading

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from ksef_emulator.capture import CaptureMiddleware, blank, redact_body

# A value in the real format, made fresh for each run (no token value is ever committed).
KSEF_TOKEN = f"20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|{secrets.token_hex(32)}"
ACCESS = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhY2Nlc3MifQ.c2lnbmF0dXJlLWFjY2Vzcw"
REFRESH = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZWZyZXNoIn0.c2lnbmF0dXJlLXJlZnJlc2g"
SECRETS = [KSEF_TOKEN.split("|", 2)[2], ACCESS, REFRESH, "c2VjcmV0LWVuY3J5cHRlZA=="]


async def generate(request):
    return JSONResponse({"referenceNumber": KSEF_TOKEN[:36], "token": KSEF_TOKEN}, status_code=202)


async def redeem(request):
    return JSONResponse({
        "accessToken": {"token": ACCESS, "validUntil": "2025-10-10T10:00:00+00:00"},
        "refreshToken": {"token": REFRESH, "validUntil": "2025-10-17T10:00:00+00:00"},
        "echo": {"encryptedToken": "c2VjcmV0LWVuY3J5cHRlZA=="},
        "continuationToken": "page-2",
    })


async def token_status(request):
    return JSONResponse({"referenceNumber": request.path_params["referenceNumber"]})


async def revoke(request):
    return Response(status_code=204)


async def problem(request):
    return Response(b'{"title":"Unauthorized","status":401}', status_code=401,
                    media_type="application/problem+json")


async def injected(request):
    request.scope["ksef_emulator.fault"] = "error"
    return JSONResponse({"exception": None}, status_code=500)


async def health(request):
    return JSONResponse({"ok": True})


def make_client(capture_path):
    api = [
        Route("/tokens", generate, methods=["POST"]),
        Route("/tokens/{referenceNumber}", token_status, methods=["GET"]),
        Route("/tokens/{referenceNumber}", revoke, methods=["DELETE"]),
        Route("/auth/token/redeem", redeem, methods=["POST"]),
        Route("/auth/sessions", problem, methods=["GET"]),
        Route("/auth/challenge", injected, methods=["POST"]),
    ]
    app = Starlette(routes=[Mount("/v2", routes=api), Route("/_emulator/health", health)])
    return TestClient(CaptureMiddleware(app, capture_path))


def read_records(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_records_one_line_per_v2_exchange_with_template_status_headers_and_body(tmp_path):
    capture = tmp_path / "out" / "capture.jsonl"
    client = make_client(capture)
    client.get("/v2/tokens/20251010-EC-1DCE3E3000-12ECB5B36E-45?x=1",
               headers={"X-Error-Format": "problem-details"})
    client.delete("/v2/tokens/20251010-EC-1DCE3E3000-12ECB5B36E-45")
    client.get("/v2/auth/sessions")
    client.get("/_emulator/health")

    records = read_records(capture)
    assert [r["method"] for r in records] == ["GET", "DELETE", "GET"]
    first, deleted, unauthorized = records
    assert first["path"] == "/v2/tokens/20251010-EC-1DCE3E3000-12ECB5B36E-45"
    assert first["query"] == "x=1"
    assert first["template"] == "/v2/tokens/{referenceNumber}"
    assert first["request_headers"]["x-error-format"] == "problem-details"
    assert first["status"] == 200
    assert first["response_headers"]["content-type"] == "application/json"
    assert first["body"] == {"referenceNumber": "20251010-EC-1DCE3E3000-12ECB5B36E-45"}
    assert deleted["status"] == 204 and deleted["body"] is None
    assert unauthorized["status"] == 401
    assert unauthorized["response_headers"]["content-type"] == "application/problem+json"
    assert unauthorized["body"] == {"title": "Unauthorized", "status": 401}


def test_secrets_are_blanked_to_the_same_length_and_never_written(tmp_path):
    capture = tmp_path / "capture.jsonl"
    client = make_client(capture)
    client.post("/v2/tokens", headers={"Authorization": f"Bearer {ACCESS}"}, json={})
    client.post("/v2/auth/token/redeem", headers={"Authorization": f"Bearer {ACCESS}"})

    text = capture.read_text(encoding="utf-8")
    for secret in SECRETS:
        assert secret not in text
    generated, redeemed = read_records(capture)
    token = generated["body"]["token"]
    assert len(token) == len(KSEF_TOKEN)
    assert token.startswith("20251010-EC-1DCE3E3000-12ECB5B36E-45|")
    assert set(token.split("|", 1)[1]) == {"x"}
    assert generated["request_headers"]["authorization"] == "Bearer " + "x" * len(ACCESS)
    assert redeemed["body"]["accessToken"] == {"token": "x" * len(ACCESS), "validUntil": "2025-10-10T10:00:00+00:00"}
    assert redeemed["body"]["refreshToken"]["token"] == "x" * len(REFRESH)
    assert redeemed["body"]["echo"]["encryptedToken"] == "x" * 24
    # Not a secret: paging cursors stay as they are.
    assert redeemed["body"]["continuationToken"] == "page-2"


def test_redaction_helpers():
    assert blank("abc") == "xxx"
    assert blank("ref|ctx|secret") == "ref|xxxxxxxxxx"
    assert redact_body([{"token": "ab"}, {"token": 5}]) == [{"token": "xx"}, {"token": 5}]


def test_concurrent_requests_write_whole_lines(tmp_path):
    capture = tmp_path / "capture.jsonl"
    client = make_client(capture)

    def worker():
        for _attempt in range(25):
            client.post("/v2/auth/token/redeem")

    threads = [threading.Thread(target=worker) for _attempt in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = read_records(capture)
    assert len(records) == 150
    assert all(r["status"] == 200 and r["template"] == "/v2/auth/token/redeem" for r in records)


def test_an_injected_fault_is_marked(tmp_path):
    capture = tmp_path / "capture.jsonl"
    client = make_client(capture)
    client.post("/v2/auth/challenge")
    client.get("/v2/auth/sessions")
    faulted, normal = read_records(capture)
    assert faulted["status"] == 500 and faulted["injected_fault"] == "error"
    assert "injected_fault" not in normal
