"""A HashiCorp Vault test server: the KV version 2 HTTP API, AppRole login and namespaces.

Written from Vault's HTTP API documentation (secrets/kv/kv-v2, auth/approle, sys/health) because a
Vault server binary cannot be installed here. It is a real HTTP server on a loopback port; only
what the `hashicorp_vault` store uses is implemented, with Vault's status codes and error bodies:

- GET  /v1/sys/health
- POST /v1/auth/approle/login                       {"role_id", "secret_id"} -> auth.client_token
- GET  /v1/{mount}/data/{path}                      404 when absent or when the latest version is deleted
- POST /v1/{mount}/data/{path}                      {"data", "options": {"cas"}}; cas mismatch -> 400
- DELETE /v1/{mount}/data/{path}                    soft-deletes the latest version
- GET|POST|DELETE /v1/{mount}/metadata/{path}       custom_metadata; DELETE removes every version
- X-Vault-Token (403 {"errors": ["permission denied"]}) and X-Vault-Namespace (separate storage per namespace)

Every request is recorded in `requests` (method, path, namespace, JSON body) when it arrives, so tests
can check what crossed the wire and see a request that is still being answered.

Fault switches for resilience tests (`server.faults`, a `WriteFaults`), all about data writes
(POST/PUT {mount}/data/{path}):
- `refuse = (status, error)`: every write is answered with that status and error until cleared;
- `write_first = {...}`: another writer's data lands just before the next write, whose cas then fails;
- `write_after = {...}`: another writer's data lands just after the next write, before any read-back;
- `delay_seconds`: every write waits that long after it arrived before it is applied (and still applied
  when the client has gone, as Vault would).
"""
from __future__ import annotations

import datetime
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CAS_MISMATCH = "check-and-set parameter did not match the current version"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Secret:
    versions: dict[int, dict] = field(default_factory=dict)  # version -> {"data", "created_time", "deletion_time"}
    current_version: int = 0
    custom_metadata: dict | None = None
    created_time: str = field(default_factory=_now)
    updated_time: str = field(default_factory=_now)


@dataclass
class WriteFaults:
    """Test switches for data writes; `write_first`/`write_after` are used once, the others until cleared."""

    refuse: tuple[int, str] | None = None
    write_first: dict | None = None
    write_after: dict | None = None
    delay_seconds: float = 0.0

    def clear(self) -> None:
        self.refuse, self.write_first, self.write_after, self.delay_seconds = None, None, None, 0.0


@dataclass
class RecordedRequest:
    method: str
    path: str
    namespace: str
    body: dict | None


class VaultKV2State:
    """Everything the server knows; guarded by one lock so concurrent writers serialise like Vault."""

    def __init__(self, root_token: str, mounts: tuple[str, ...], namespaces: tuple[str, ...]):
        self.lock = threading.Lock()
        self.tokens: dict[str, str] = {root_token: ""}  # token -> namespace it belongs to ("" = root)
        self.approles: dict[tuple[str, str, str], list[str]] = {}  # (namespace, role_id, secret_id) -> policies
        self.mounts = set(mounts)
        self.namespaces = {""} | set(namespaces)
        self.secrets: dict[tuple[str, str, str], _Secret] = {}  # (namespace, mount, path)
        self.requests: list[RecordedRequest] = []
        self.faults = WriteFaults()


class _Handler(BaseHTTPRequestHandler):
    server_version = "VaultKV2TestServer/1.0"
    state: VaultKV2State

    def log_message(self, format, *args):  # keep pytest output clean
        pass

    # -- plumbing --------------------------------------------------------------------------------
    def _send(self, status: int, body: dict | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client is gone (a killed run): the request was still applied, as Vault does

    def _error(self, status: int, *errors: str) -> None:
        self._send(status, {"errors": list(errors)})

    def _body(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        return json.loads(self.rfile.read(length) or b"null")

    def _response(self, data) -> dict:
        return {"request_id": secrets.token_hex(8), "lease_id": "", "renewable": False, "lease_duration": 0,
                "data": data, "wrap_info": None, "warnings": None, "auth": None, "mount_type": "kv"}

    def _handle(self, method: str) -> None:
        state = self.state
        namespace = (self.headers.get("X-Vault-Namespace") or "").strip("/")
        try:
            body = self._body()
        except ValueError:
            return self._error(400, "failed to parse JSON input")
        path = self.path.split("?", 1)[0]
        with state.lock:
            state.requests.append(RecordedRequest(method, path, namespace, body))
        if not path.startswith("/v1/"):
            return self._error(404)
        route = path[len("/v1/"):]
        if namespace not in state.namespaces:
            return self._error(403, "permission denied")  # Vault answers so for a namespace it cannot see
        if route == "sys/health" and method == "GET":
            return self._send(200, {"initialized": True, "sealed": False, "standby": False,
                                    "version": "1.15.0-kv2-test-server", "server_time_utc": 0})
        if route == "auth/approle/login" and method in ("POST", "PUT"):
            return self._approle_login(namespace, body or {})
        token = self.headers.get("X-Vault-Token") or ""
        token_namespace = state.tokens.get(token)
        if token_namespace is None or (token_namespace and token_namespace != namespace):
            return self._error(403, "permission denied")
        mount, _separator, rest = route.partition("/")
        kind, _separator, secret_path = rest.partition("/")
        if mount not in state.mounts or kind not in ("data", "metadata") or not secret_path:
            return self._error(404, f'no handler for route "{route}". route entry not found.')
        key = (namespace, mount, secret_path.strip("/"))
        if kind == "data" and method in ("POST", "PUT") and state.faults.delay_seconds:
            time.sleep(state.faults.delay_seconds)  # outside the lock: reads are answered meanwhile
        with state.lock:
            if kind == "data":
                return self._data(method, key, body or {})
            return self._metadata(method, key, body or {})

    # -- routes ----------------------------------------------------------------------------------
    def _approle_login(self, namespace: str, body: dict) -> None:
        role_id, secret_id = body.get("role_id"), body.get("secret_id")
        policies = self.state.approles.get((namespace, role_id, secret_id))
        if policies is None:
            return self._error(400, "invalid role or secret ID")
        token = "hvs." + secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.tokens[token] = namespace
        response = self._response(None)
        response["auth"] = {"client_token": token, "accessor": secrets.token_hex(12), "policies": policies,
                            "token_policies": policies, "lease_duration": 2764800, "renewable": True,
                            "metadata": {"role_name": "ksef"}}
        self._send(200, response)

    def _version_metadata(self, secret: _Secret, version: int) -> dict:
        entry = secret.versions[version]
        return {"created_time": entry["created_time"], "custom_metadata": secret.custom_metadata,
                "deletion_time": entry["deletion_time"], "destroyed": False, "version": version}

    def _data(self, method: str, key, body: dict) -> None:
        secret = self.state.secrets.get(key)
        if method == "GET":
            if secret is None or not secret.current_version:
                return self._error(404)
            latest = secret.versions[secret.current_version]
            metadata = self._version_metadata(secret, secret.current_version)
            if latest["deletion_time"]:
                return self._send(404, self._response({"data": None, "metadata": metadata}))
            return self._send(200, self._response({"data": latest["data"], "metadata": metadata}))
        if method in ("POST", "PUT"):
            data = body.get("data")
            if not isinstance(data, dict):
                return self._error(400, "no data provided")
            faults = self.state.faults
            if faults.refuse:
                return self._error(*faults.refuse)
            if faults.write_first is not None:
                secret = self._append_version(key, faults.write_first)
                faults.write_first = None
            cas = (body.get("options") or {}).get("cas")
            current = secret.current_version if secret else 0
            if cas is not None and int(cas) != current:
                return self._error(400, CAS_MISMATCH)
            secret = self._append_version(key, data)
            answer = self._response(self._version_metadata(secret, secret.current_version))
            if faults.write_after is not None:
                self._append_version(key, faults.write_after)
                faults.write_after = None
            return self._send(200, answer)
        if method == "DELETE":
            if secret is not None and secret.current_version:
                secret.versions[secret.current_version]["deletion_time"] = _now()
            return self._send(204)
        return self._error(405, "unsupported operation")

    def _append_version(self, key, data: dict) -> _Secret:
        secret = self.state.secrets.get(key)
        if secret is None:
            secret = self.state.secrets[key] = _Secret()
        secret.current_version += 1
        secret.versions[secret.current_version] = {"data": dict(data), "created_time": _now(), "deletion_time": ""}
        secret.updated_time = _now()
        return secret

    def _metadata(self, method: str, key, body: dict) -> None:
        secret = self.state.secrets.get(key)
        if method == "GET":
            if secret is None:
                return self._error(404)
            versions = {str(v): {k: e[k] for k in ("created_time", "deletion_time")} | {"destroyed": False}
                        for v, e in secret.versions.items()}
            return self._send(200, self._response({
                "cas_required": False, "created_time": secret.created_time, "current_version": secret.current_version,
                "custom_metadata": secret.custom_metadata, "delete_version_after": "0s", "max_versions": 0,
                "oldest_version": min(secret.versions, default=0), "updated_time": secret.updated_time,
                "versions": versions}))
        if method in ("POST", "PUT"):
            custom = body.get("custom_metadata")
            if custom is not None and (not isinstance(custom, dict)
                                       or not all(isinstance(v, str) for v in custom.values())):
                return self._error(400, "custom_metadata must be a map of strings")
            if secret is None:
                secret = self.state.secrets[key] = _Secret()
            if custom is not None:
                secret.custom_metadata = custom or None
            secret.updated_time = _now()
            return self._send(204)
        if method == "DELETE":
            self.state.secrets.pop(key, None)
            return self._send(204)
        return self._error(405, "unsupported operation")

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")


class VaultKV2TestServer:
    """Start with `start()`, stop with `stop()`; `url` is http://127.0.0.1:PORT."""

    def __init__(self, root_token: str | None = None, mounts: tuple[str, ...] = ("secret", "kv"),
                 namespaces: tuple[str, ...] = ("team-a",)):
        self.root_token = root_token or "hvs." + secrets.token_urlsafe(24)
        self.state = VaultKV2State(self.root_token, mounts, namespaces)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="vault-kv2-test-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.state.requests

    @property
    def faults(self) -> WriteFaults:
        return self.state.faults

    def data(self, path: str, mount: str = "secret", namespace: str = "") -> dict | None:
        """The latest live data of a secret, straight from the server's state (None when absent or deleted)."""
        with self.state.lock:
            secret = self.state.secrets.get((namespace, mount, path))
            if secret is None or not secret.current_version:
                return None
            latest = secret.versions[secret.current_version]
            return None if latest["deletion_time"] else dict(latest["data"])

    def add_approle(self, role_id: str, secret_id: str, namespace: str = "",
                    policies: tuple[str, ...] = ("ksef",)) -> None:
        self.state.approles[(namespace, role_id, secret_id)] = list(policies)

    def start(self) -> "VaultKV2TestServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


if __name__ == "__main__":  # a manual run: python -m tests.support.vault_kv2_server
    server = VaultKV2TestServer().start()
    print(f"VAULT_ADDR={server.url} VAULT_TOKEN={server.root_token}", flush=True)
    threading.Event().wait()
