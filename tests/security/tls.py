"""A local CA and a server certificate for 127.0.0.1/localhost (cryptography), and an HTTPS emulator."""
from __future__ import annotations

import datetime
import ipaddress
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import REPO, Emulator, free_port
from tests.support import processes


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca_and_server_cert(directory: Path) -> TlsFiles:
    """A self-signed CA and a server certificate it signs, valid for 127.0.0.1, ::1 and localhost."""
    now = datetime.datetime.now(datetime.timezone.utc)
    validity = dict(not_valid_before=now - datetime.timedelta(minutes=5), not_valid_after=now + datetime.timedelta(days=2))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (x509.CertificateBuilder(**validity).subject_name(_name("ksef-test-ca")).issuer_name(_name("ksef-test-ca"))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False, decipher_only=False),
                              critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder(**validity).subject_name(_name("localhost")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.server_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    files.server_key.chmod(0o600)
    return files


class HttpsEmulator(Emulator):
    """The emulator serving HTTPS with `--tls-cert/--tls-key`; this test client trusts the given CA."""

    ca_cert: Path | None = None

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _client_verify(self):
        return ssl.create_default_context(cafile=str(self.ca_cert))

    def start(self, timeout: float = 20.0) -> "HttpsEmulator":
        cmd = [sys.executable, "-m", "ksef_emulator", "--host", "127.0.0.1", "--port", str(self.port),
               "--state-dir", str(self.state_dir), *self.args]
        self._log = open(self.log_path, "ab")
        self.proc = processes.start(cmd, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.proc.returncode}: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/_emulator/health", timeout=1,
                             verify=self._client_verify()).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"emulator did not become healthy over HTTPS: {self.log_path.read_text()[-3000:]}")

    def admin(self, method: str, path: str, **kwargs) -> httpx.Response:
        return httpx.request(method, f"{self.base_url}/_emulator/{path.lstrip('/')}", timeout=30,
                             verify=self._client_verify(), **kwargs)

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        return httpx.request(method, f"{self.api_url}/{path.lstrip('/')}", timeout=30,
                             verify=self._client_verify(), **kwargs)


def start_https_emulator(directory: Path, files: TlsFiles, *args: str) -> HttpsEmulator:
    state = directory / "state"
    state.mkdir(parents=True, exist_ok=True)
    emulator = HttpsEmulator(port=free_port(), state_dir=state, log_path=directory / "emulator.log",
                             args=["--tls-cert", str(files.server_cert), "--tls-key", str(files.server_key), *args])
    emulator.ca_cert = files.ca_cert
    return emulator.start()
