# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `hashicorp_vault` store: one key of a KV version 2 secret, over Vault's HTTP API.

Like community.hashi_vault's vault_kv2_write it reads before it writes and writes with
check-and-set (`options.cas` = the version it read, 0 when absent), so two writers cannot
silently overwrite each other. The token's metadata (never its value) goes into the secret's
custom_metadata.
"""

from __future__ import annotations

import os
from typing import Any

from ansible_collections.ksef.credentials.plugins.module_utils._http import ssl_verify
from ansible_collections.ksef.credentials.plugins.module_utils._stores._base import Store, StoredValue

CAS_MISMATCH = "check-and-set parameter did not match"
METADATA_FIELDS = ("reference_number", "name", "permissions", "created", "context")


class HashicorpVaultStore(Store):
    type_name = "hashicorp_vault"
    argument_spec = {
        "url": {"type": "str"},
        "namespace": {"type": "str"},
        "mount": {"type": "str", "default": "secret"},
        "path": {"type": "str", "required": True},
        "key": {"type": "str", "default": "token", "no_log": False},
        "auth_method": {"type": "str", "choices": ["token", "approle"], "default": "token"},
        "token": {"type": "str", "no_log": True},
        "role_id": {"type": "str"},
        "secret_id": {"type": "str", "no_log": True},
        "validate_certs": {"type": "bool", "default": True},
        "ca_path": {"type": "path"},
        "cas": {"type": "bool", "default": True},
        "timeout": {"type": "int", "default": 30},
    }

    def __init__(self, module, options: dict, index: int):
        super().__init__(module, options, index)
        self.url = (options.get("url") or os.environ.get("VAULT_ADDR") or "").rstrip("/")
        self.namespace = (options.get("namespace") or os.environ.get("VAULT_NAMESPACE") or "").strip("/")
        self.mount = (options.get("mount") or "secret").strip("/")
        self.path = (options.get("path") or "").strip("/")
        self.key = options.get("key") or "token"
        self._client: Any = None
        self._metadata_before: dict | None = None  # custom_metadata as it was before our last write

    @property
    def label(self) -> str:
        prefix = f"{self.namespace}/" if self.namespace else ""
        return f"vault:{prefix}{self.mount}/data/{self.path}#{self.key}"

    def validate(self) -> None:
        if not self.url:
            raise self.config_error("url", "is required (or set VAULT_ADDR), e.g. https://vault.example.com:8200")
        if not self.url.startswith(("http://", "https://")):
            raise self.config_error("url", "must start with http:// or https://")
        if not self.path:
            raise self.config_error("path", "must name the secret inside the mount, e.g. ksef/erp")
        timeout = self.options.get("timeout")
        if timeout is not None and not 0 < timeout <= 600:
            raise self.config_error("timeout", "must be between 1 and 600 seconds")
        if self.options.get("auth_method") == "approle":
            for option in ("role_id", "secret_id"):
                if not self.options.get(option):
                    raise self.config_error(option, "is required when auth_method is approle")
        elif not (self.options.get("token") or os.environ.get("VAULT_TOKEN")):
            raise self.config_error("token", "is required (or set VAULT_TOKEN) when auth_method is token")
        ca_path = self.options.get("ca_path")
        if ca_path and not os.path.isfile(ca_path):
            raise self.config_error("ca_path", f"file {ca_path} does not exist")
        self.remember_secret(self.options.get("token") or os.environ.get("VAULT_TOKEN"))

    # -- HTTP -------------------------------------------------------------------------------------
    def _http(self):
        if self._client is None:
            import httpx

            verify = ssl_verify(self.options.get("ca_path") or bool(self.options.get("validate_certs", True)))
            headers = {"X-Vault-Namespace": self.namespace} if self.namespace else {}
            self._client = httpx.Client(
                base_url=f"{self.url}/v1/", verify=verify, headers=headers, timeout=self.options.get("timeout") or 30
            )
            try:
                self._client.headers["X-Vault-Token"] = self._login()
            except BaseException:
                self._client = None  # no half-authenticated client for the next call
                raise
        return self._client

    def _send(self, method: str, path: str, body: dict | None = None, *, auth: bool = True):
        import httpx

        client = self._http() if auth else self._client
        try:
            return client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise self.error(f"cannot reach Vault at {self.url}: {type(exc).__name__}") from None

    def _failure(self, response, doing: str):
        try:
            errors = response.json().get("errors") or []
        except ValueError:
            errors = []
        detail = "; ".join(str(e) for e in errors) or response.reason_phrase
        return self.error(self.scrub(f"Vault answered {response.status_code} to {doing}: {detail}"))

    def _login(self) -> str:
        if self.options.get("auth_method") != "approle":
            return self.options.get("token") or os.environ.get("VAULT_TOKEN", "")
        credentials = {"role_id": self.options["role_id"], "secret_id": self.options["secret_id"]}
        response = self._send("POST", "auth/approle/login", credentials, auth=False)
        if response.status_code != 200:
            raise self._failure(response, "the AppRole login")
        token = ((response.json() or {}).get("auth") or {}).get("client_token")
        if not token:
            raise self.error("the AppRole login returned no client token")
        self.remember_secret(token)
        return token

    # -- KV v2 ------------------------------------------------------------------------------------
    def _current(self) -> tuple[dict | None, int, dict]:
        """(data or None, current version or 0, custom_metadata) of the secret, read fresh."""
        response = self._send("GET", f"{self.mount}/data/{self.path}")
        if response.status_code == 200:
            payload = response.json()["data"]
            data = payload.get("data") or {}
            for value in data.values():
                if isinstance(value, str):
                    self.remember_secret(value)  # other keys of the secret are secrets too
            metadata = payload.get("metadata") or {}
            return data, int(metadata.get("version") or 0), dict(metadata.get("custom_metadata") or {})
        if response.status_code != 404:
            raise self._failure(response, "reading the secret")
        # absent, or the latest version is deleted: the metadata still knows the version for cas
        response = self._send("GET", f"{self.mount}/metadata/{self.path}")
        if response.status_code == 404:
            return None, 0, {}
        if response.status_code != 200:
            raise self._failure(response, "reading the secret's metadata")
        metadata = response.json()["data"]
        return None, int(metadata.get("current_version") or 0), dict(metadata.get("custom_metadata") or {})

    def _put_data(self, data: dict, cas_version: int) -> None:
        body = {"data": data, "options": {"cas": cas_version} if self.options.get("cas", True) else {}}
        response = self._send("POST", f"{self.mount}/data/{self.path}", body)
        if response.status_code == 400 and CAS_MISMATCH in response.text:
            raise self.conflict("another writer changed the secret since it was read (check-and-set lost)")
        if response.status_code not in (200, 204):
            raise self._failure(response, "writing the secret")

    def _put_custom_metadata(self, custom: dict) -> None:
        response = self._send("POST", f"{self.mount}/metadata/{self.path}", {"custom_metadata": custom})
        if response.status_code not in (200, 204):
            raise self._failure(response, "writing the secret's custom metadata")

    def _metadata_keys(self) -> list[str]:
        return [f"{self.key}_{name}" for name in METADATA_FIELDS]

    # -- the store interface ----------------------------------------------------------------------
    def read(self) -> StoredValue | None:
        data, version, _custom_metadata = self._current()
        value = (data or {}).get(self.key)
        if not isinstance(value, str) or not value:
            return None
        return self.stored_value(value, version=str(version))

    def write(self, value, meta, expected_version) -> None:
        self.refuse_in_check_mode("write")
        self.remember_secret(value)
        data, version, custom = self._current()
        held = (data or {}).get(self.key)
        if self.options.get("cas", True):
            if expected_version is not None and str(version) != str(expected_version):
                raise self.conflict(f"the secret is at version {version}, expected {expected_version}")
            if expected_version is None and held not in (None, value):
                raise self.conflict("the secret gained a value under this key since it was read")
        self._metadata_before = dict(custom)
        self._put_data({**(data or {}), self.key: value}, version)
        if meta is not None:
            custom.update(
                {
                    f"{self.key}_reference_number": meta.reference_number,
                    f"{self.key}_name": meta.name,
                    f"{self.key}_permissions": ",".join(meta.permissions),
                    f"{self.key}_created": meta.created,
                    f"{self.key}_context": meta.context,
                }
            )
            self._put_custom_metadata(custom)

    def restore(self, previous: StoredValue | None) -> None:
        self.refuse_in_check_mode("restore")
        if previous is None:
            self.remove()
        else:
            data, version, _custom_metadata = self._current()
            self._put_data({**(data or {}), self.key: previous.value}, version)
        if self._metadata_before is not None:
            self._put_custom_metadata(self._metadata_before)

    def remove(self) -> None:
        self.refuse_in_check_mode("remove")
        data, version, custom = self._current()
        if data and self.key in data:
            rest = {k: v for k, v in data.items() if k != self.key}
            if rest:
                self._put_data(rest, version)  # other keys stay; ours goes in a new version
            else:
                # soft delete of the latest version: Vault keeps it recoverable (undelete)
                response = self._send("DELETE", f"{self.mount}/data/{self.path}")
                if response.status_code not in (200, 204):
                    raise self._failure(response, "deleting the secret")
        ours = set(self._metadata_keys())
        if ours & set(custom):
            self._put_custom_metadata({k: v for k, v in custom.items() if k not in ours})
