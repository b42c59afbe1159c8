"""An HTTP proxy in front of moto_server that injects AWS failures and a racing second writer.

moto has no switch to refuse a call or to let another client write at a chosen moment, so stores point
their `endpoint_url` at this proxy. Every request is forwarded to moto unchanged, except when a fault
switch says otherwise (AWS JSON-protocol calls are recognised by their `X-Amz-Target` header, e.g.
`secretsmanager.PutSecretValue`):

- `refuse[target] = (status, code, message)`: answer that AWS error instead of forwarding, until cleared;
- `write_after[secret_id] = value`: right after the next PutSecretValue of that secret, another writer
  puts `value` (a real PutSecretValue against moto), before the caller can read back;
- `delay_seconds[target] = s`: wait s seconds after the request arrived, then forward it (also when the
  caller has gone, as AWS would).

`targets` lists every call in the order it arrived.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.proxying import answer, forward, relay


class AwsFaultProxy:
    def __init__(self, moto_endpoint: str, region: str = "eu-central-1"):
        self.moto_endpoint = moto_endpoint.rstrip("/")
        self.region = region
        self.refuse: dict[str, tuple[int, str, str]] = {}
        self.write_after: dict[str, str] = {}
        self.delay_seconds: dict[str, float] = {}
        self.targets: list[str] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                proxy._handle(self)

            def do_GET(self):
                proxy._handle(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="aws-fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> "AwsFaultProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def clear(self) -> None:
        self.refuse.clear()
        self.write_after.clear()
        self.delay_seconds.clear()

    def calls(self, target: str) -> int:
        with self._lock:
            return self.targets.count(target)

    # -- forwarding -------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        target = (handler.headers.get("X-Amz-Target") or "").strip()
        with self._lock:
            self.targets.append(target)
        if self.delay_seconds.get(target):
            time.sleep(self.delay_seconds[target])
        refused = self.refuse.get(target)
        if refused:
            status, code, message = refused
            return answer(handler, status, {"Content-Type": "application/x-amz-json-1.1"},
                          json.dumps({"__type": code, "message": message}).encode())
        response = forward(handler, self.moto_endpoint, body)
        if target == "secretsmanager.PutSecretValue" and response.status_code == 200:
            secret_id = json.loads(body or b"{}").get("SecretId")
            racing = self.write_after.pop(secret_id, None)
            if racing is not None:
                self._second_writer_puts(secret_id, racing)
        relay(handler, response)

    def _second_writer_puts(self, secret_id: str, value: str) -> None:
        import boto3
        client = boto3.client("secretsmanager", endpoint_url=self.moto_endpoint, region_name=self.region,
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.put_secret_value(SecretId=secret_id, SecretString=value)
