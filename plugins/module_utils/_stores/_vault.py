# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Vault (and OpenBao) API client for the `hashicorp_vault` store: connection, TLS, login, and errors that say
whether the problem is local (credentials, TLS, permissions, path) or the server's answer.

Settings come from the store's options first, then from the variables Vault's and OpenBao's own CLIs read
(VAULT_* and BAO_*), then from the token file the CLIs write (`~/.vault-token`). Why hand-written and not hvac:
docs/stores.md, "Why not hvac".
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.ksef.credentials.plugins.module_utils._connection import is_loopback_host
from ansible_collections.ksef.credentials.plugins.module_utils._http import ssl_verify

AUTH_METHODS = ("token", "approle", "jwt", "cert")
DEFAULT_TOKEN_FILE = "~/.vault-token"
POLICY_DOC = "docs/stores.md#the-vault-policy"

# (option, environment variables in the order they are read); Vault's names first, then OpenBao's.
ENVIRONMENT = {
    "url": ("VAULT_ADDR", "BAO_ADDR"),
    "namespace": ("VAULT_NAMESPACE", "BAO_NAMESPACE"),
    "token": ("VAULT_TOKEN", "BAO_TOKEN"),
    "ca_path": ("VAULT_CACERT", "BAO_CACERT", "VAULT_CAPATH", "BAO_CAPATH"),
    "client_cert": ("VAULT_CLIENT_CERT", "BAO_CLIENT_CERT"),
    "client_key": ("VAULT_CLIENT_KEY", "BAO_CLIENT_KEY"),
    "role_id": ("ANSIBLE_HASHI_VAULT_ROLE_ID",),
    "secret_id": ("ANSIBLE_HASHI_VAULT_SECRET_ID",),
    "jwt": ("ANSIBLE_HASHI_VAULT_JWT",),
    # A file holding the token, which an AWX credential injects (a path in the job's environment, never the token).
    "token_file": ("KSEF_VAULT_TOKEN_FILE",),
}
_SKIP_VERIFY = ("VAULT_SKIP_VERIFY", "BAO_SKIP_VERIFY")
_ERRORS_OCCURRED = re.compile(r"^\d+ errors? occurred:\s*", re.IGNORECASE)


def setting(options: dict, name: str) -> Any:
    """An option, or the first environment variable that stands for it."""
    value = options.get(name)
    if value not in (None, ""):
        return value
    for variable in ENVIRONMENT.get(name, ()):
        if os.environ.get(variable):
            return os.environ[variable]
    return None


def verify_certificates(options: dict) -> bool:
    """validate_certs, or not VAULT_SKIP_VERIFY / BAO_SKIP_VERIFY when the option is not given."""
    if options.get("validate_certs") is not None:
        return bool(options["validate_certs"])
    for variable in _SKIP_VERIFY:
        if os.environ.get(variable, "").strip().lower() in ("1", "true", "yes", "t"):
            return False
    return True


def token_file_path(options: dict) -> str:
    """`token_file` (or KSEF_VAULT_TOKEN_FILE), else ~/.vault-token, written by `vault login` and `bao login`."""
    return os.path.expanduser(setting(options, "token_file") or DEFAULT_TOKEN_FILE)


def token_from_file(options: dict) -> str | None:
    """The token in token_file_path(); a missing default file is no token, a missing named one an error."""
    try:
        with open(token_file_path(options), encoding="utf-8") as handle:
            return handle.read().strip() or None
    except FileNotFoundError:
        if setting(options, "token_file"):
            raise
        return None


def one_line(errors) -> str:
    """Vault's `errors` list as one line: `1 error occurred: * permission denied` becomes `permission denied`."""
    parts = []
    for error in errors or []:
        text = _ERRORS_OCCURRED.sub("", str(error).strip())
        for line in text.splitlines():
            line = line.strip().lstrip("*").strip()
            if line:
                parts.append(line)
    return "; ".join(parts)[:500]


def tls_cause(exc: BaseException) -> str | None:
    """What went wrong in a TLS handshake, from the ssl error httpx wraps, or None when it was not TLS."""
    import ssl

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return "certificate verification failed: %s" % (seen.verify_message or seen.reason or seen)
        if isinstance(seen, ssl.SSLError):
            return "TLS failed: %s" % (seen.reason or seen)
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
        return "TLS failed: %s" % text
    return None


class VaultClient:
    """One authenticated connection to Vault for one store. `store` supplies the options and the errors."""

    def __init__(self, store, url: str, namespace: str):
        self.store = store
        self.options = store.options
        self.url = url
        self.namespace = namespace
        self.logged_in = False  # the token came from a login here: revoke it when the task ends
        self._http: Any = None

    # -- connection ---------------------------------------------------------------------------------------------
    def check_url(self) -> None:
        """Refuse plain http to anything but loopback before any connection or name lookup."""
        parts = urlsplit(self.url)
        if not parts.hostname:
            raise self.store.config_error("url", "has no host, e.g. https://vault.example.com:8200")
        if (
            parts.scheme == "http"
            and not self.options.get("allow_insecure_http")
            and not is_loopback_host(parts.hostname)
        ):
            raise self.store.config_error(
                "url",
                "uses plain http to the non-loopback host %r; the Vault token and the KSeF credential would "
                "cross the network unencrypted. Use https, or set allow_insecure_http: true" % parts.hostname,
            )

    def client(self):
        if self._http is None:
            import httpx

            headers = {"X-Vault-Namespace": self.namespace} if self.namespace else {}
            self._http = httpx.Client(
                base_url=f"{self.url}/v1/",
                verify=self._verify(),
                headers=headers,
                timeout=self.options.get("timeout") or 30,
            )
            try:
                self._http.headers["X-Vault-Token"] = self._login()
            except BaseException:
                self._http.close()
                self._http = None  # no half-authenticated client for the next call
                raise
        return self._http

    def _verify(self):
        """httpx's `verify`: a bool, or an SSLContext for a CA and, for cert login, the client certificate."""
        verify = verify_certificates(self.options)
        ca_path = setting(self.options, "ca_path")
        context = ssl_verify(ca_path) if verify and ca_path else None
        if self.options.get("auth_method") != "cert":
            return context or verify
        if context is None:
            import ssl

            context = ssl.create_default_context()
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        context.load_cert_chain(setting(self.options, "client_cert"), setting(self.options, "client_key"))
        return context

    def send(self, method: str, path: str, body: dict | None = None, *, auth: bool = True):
        import httpx

        client = self.client() if auth else self._http
        try:
            return client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            cause = tls_cause(exc)
            if cause:
                raise self.store.local_error(
                    "TLS",
                    "%s talking to %s; set ca_path (or VAULT_CACERT) to the CA that signed Vault's certificate"
                    % (cause, self.url),
                ) from None
            raise self.store.server_error(
                "cannot reach Vault at %s: %s" % (self.url, self.store.scrub("%s: %s" % (type(exc).__name__, exc)))
            ) from None

    def detail(self, response) -> str:
        """Vault's error text of an answer, on one line, with every known secret masked."""
        try:
            errors = response.json().get("errors") or []
        except ValueError:
            errors = []
        return self.store.scrub(one_line(errors) or response.reason_phrase)

    def failure(self, response, doing: str, path: str | None = None):
        """A StoreError for an answer that is not a success: 401/403 are local (the token or its policy)."""
        status = response.status_code
        if status in (401, 403):
            where = " on %s" % path if path else ""
            return self.store.local_error(
                "permissions",
                "Vault refused %s (%s %s): the token may not do this%s; the policy it needs is in %s"
                % (doing, status, self.detail(response), where, POLICY_DOC),
            )
        return self.store.server_error("Vault answered %s to %s: %s" % (status, doing, self.detail(response)))

    # -- login and logout ---------------------------------------------------------------------------------------
    def _login(self) -> str:
        method = self.options.get("auth_method") or "token"
        if method == "token":
            token = setting(self.options, "token")
            if not token:
                try:
                    token = token_from_file(self.options)
                except OSError as exc:
                    raise self.store.local_error("credentials", "cannot read token_file: %s" % exc.strerror) from None
            if not token:
                raise self.store.local_error(
                    "credentials",
                    "no Vault token: set token, VAULT_TOKEN or BAO_TOKEN, or log in with the CLI (~/.vault-token)",
                )
            self.store.remember_secret(token)
            return token
        mount = (self.options.get("mount_point") or method).strip("/")
        if method == "approle":
            body = {"role_id": setting(self.options, "role_id"), "secret_id": setting(self.options, "secret_id")}
        elif method == "jwt":
            body = {"role": setting(self.options, "role_id"), "jwt": setting(self.options, "jwt")}
        else:  # cert: the TLS client certificate is the credential; a role name narrows the match
            body = {"name": self.options["role_id"]} if self.options.get("role_id") else {}
        response = self.send("POST", "auth/%s/login" % mount, body, auth=False)
        if 400 <= response.status_code < 500:
            raise self.store.local_error(
                "credentials",
                "the %s login at auth/%s was refused (%s %s)"
                % (method, mount, response.status_code, self.detail(response)),
            )
        if response.status_code != 200:
            raise self.failure(response, "the %s login at auth/%s" % (method, mount))
        token = ((response.json() or {}).get("auth") or {}).get("client_token")
        if not token:
            raise self.store.server_error("the %s login at auth/%s returned no client token" % (method, mount))
        self.store.remember_secret(token)
        self.logged_in = True
        return token

    def close(self) -> str | None:
        """Revoke the token this client logged in with, and close the connection. A warning text, or None."""
        if self._http is None:
            return None
        warning = None
        try:
            if self.logged_in:
                response = self.send("POST", "auth/token/revoke-self")
                if response.status_code not in (200, 204):
                    warning = (
                        "could not revoke the Vault login token: %s"
                        % self.failure(response, "revoking the login token").cause
                    )
        except Exception as exc:  # the task's outcome stands; the token expires with its TTL
            warning = "could not revoke the Vault login token: %s" % getattr(exc, "cause", type(exc).__name__)
        finally:
            self._http.close()
            self._http = None
        return warning
