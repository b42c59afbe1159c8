# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `hashicorp_vault` store: one key of a KV version 2 secret, over Vault's HTTP API.

Like community.hashi_vault's vault_kv2_write it reads before it writes and writes with
check-and-set (`options.cas` = the version it read, 0 when absent), so two writers cannot
silently overwrite each other. The token's metadata (never its value) goes into the secret's
custom_metadata. The mount must be KV version 2 (checked before the first read). A version that
holds a removed or revoked value is destroyed, so the history keeps no revoked credential.
"""

from __future__ import annotations

import os

from ansible_collections.ksef.credentials.plugins.module_utils._stores._base import (
    PATH_SEGMENTS,
    PATH_SEGMENTS_ALLOWED,
    Store,
    StoredValue,
    StoreError,
    parse_reference_number,
)
from ansible_collections.ksef.credentials.plugins.module_utils._stores._vault import (
    AUTH_METHODS,
    POLICY_DOC,
    VaultClient,
    setting,
    token_file_path,
)

CAS_MISMATCH = "check-and-set parameter did not match"
METADATA_FIELDS = ("reference_number", "name", "permissions", "created", "context")
MAX_CUSTOM_METADATA = 64  # keys of custom_metadata Vault (and OpenBao) allow per secret


class HashicorpVaultStore(Store):
    type_name = "hashicorp_vault"
    argument_spec = {
        "url": {"type": "str"},
        "namespace": {"type": "str"},
        "mount": {"type": "str", "default": "secret"},
        "path": {"type": "str", "required": True},
        "key": {"type": "str", "default": "token", "no_log": False},
        "auth_method": {"type": "str", "choices": list(AUTH_METHODS), "default": "token"},
        "mount_point": {"type": "str"},
        "token": {"type": "str", "no_log": True},
        "token_file": {"type": "path"},
        "role_id": {"type": "str"},
        "secret_id": {"type": "str", "no_log": True},
        "jwt": {"type": "str", "no_log": True},
        "client_cert": {"type": "path"},
        "client_key": {"type": "path", "no_log": False},
        "validate_certs": {"type": "bool"},
        "ca_path": {"type": "path"},
        "allow_insecure_http": {"type": "bool", "default": False},
        "cas": {"type": "bool", "default": True},
        "timeout": {"type": "int", "default": 30},
    }

    def __init__(self, module, options: dict, index: int):
        super().__init__(module, options, index)
        self.url = (setting(options, "url") or "").rstrip("/")
        self.namespace = (setting(options, "namespace") or "").strip("/")
        self.mount = (options.get("mount") or "secret").strip("/")
        self.path = (options.get("path") or "").strip("/")
        self.key = options.get("key") or "token"
        self.vault = VaultClient(self, self.url, self.namespace)
        self._mount_checked = False
        self._metadata_before: dict | None = None  # custom_metadata as it was before our last write
        self._exists = False  # the secret had a live version at the last read

    @property
    def label(self) -> str:
        prefix = f"{self.namespace}/" if self.namespace else ""
        return f"vault:{prefix}{self.mount}/data/{self.path}#{self.key}"

    def validate(self) -> None:
        if not self.url:
            raise self.config_error(
                "url", "is required (or set VAULT_ADDR or BAO_ADDR), e.g. https://vault.example.com:8200"
            )
        if not self.url.startswith(("http://", "https://")):
            raise self.config_error("url", "must start with http:// or https://")
        self.vault.check_url()
        if not self.path:
            raise self.config_error("path", "must name the secret inside the mount, e.g. ksef/erp")
        # Each goes into a URL path (or the namespace header) as it is.
        self.check_name("path", self.path, PATH_SEGMENTS, PATH_SEGMENTS_ALLOWED, "ksef/erp")
        self.check_name("mount", self.mount, PATH_SEGMENTS, PATH_SEGMENTS_ALLOWED, "secret")
        if self.namespace:
            self.check_name("namespace", self.namespace, PATH_SEGMENTS, PATH_SEGMENTS_ALLOWED, "team-a")
        self.check_key("key", self.key, max_length=100)  # Vault's custom_metadata keys: KEY_reference_number...
        timeout = self.options.get("timeout")
        if timeout is not None and not 0 < timeout <= 600:
            raise self.config_error("timeout", "must be between 1 and 600 seconds")
        self._validate_auth()
        ca_path = setting(self.options, "ca_path")
        if ca_path and not os.path.exists(ca_path):
            source = "ca_path" if self.options.get("ca_path") else "ca_path (from VAULT_CACERT or BAO_CACERT)"
            raise self.config_error("ca_path", f"{source}: {ca_path} does not exist")
        for secret in ("token", "secret_id", "jwt"):
            self.remember_secret(setting(self.options, secret))

    def _validate_auth(self) -> None:
        method = self.options.get("auth_method") or "token"
        needs = {"approle": ("role_id", "secret_id"), "jwt": ("role_id", "jwt"), "cert": ("client_cert", "client_key")}
        for option in needs.get(method, ()):
            if not setting(self.options, option):
                raise self.config_error(option, f"is required when auth_method is {method}")
        if method == "token" and not setting(self.options, "token"):
            token_file = token_file_path(self.options)
            if not os.path.isfile(token_file):
                raise self.config_error(
                    "token",
                    "is required when auth_method is token: set token, VAULT_TOKEN or BAO_TOKEN, or token_file "
                    f"(no {token_file})",
                )
        if method == "cert":
            if not self.url.startswith("https://"):
                raise self.config_error("url", "must be https:// for auth_method cert (a TLS client certificate)")
            for option in ("client_cert", "client_key"):
                if not os.path.isfile(setting(self.options, option)):
                    raise self.config_error(option, f"file {setting(self.options, option)} does not exist")
        if self.options.get("mount_point") is not None and method == "token":
            raise self.config_error("mount_point", "applies to auth_method approle, jwt or cert, not token")
        if self.options.get("mount_point"):
            self.check_name(
                "mount_point", self.options["mount_point"].strip("/"), PATH_SEGMENTS, PATH_SEGMENTS_ALLOWED, "approle"
            )
        for secret in ("token", "role_id", "secret_id", "jwt"):
            self.check_secret_text(secret, setting(self.options, secret))

    # -- HTTP -------------------------------------------------------------------------------------
    def _send(self, method: str, path: str, body: dict | None = None):
        if not self._mount_checked:
            self._mount_checked = True
            self._check_mount()
        return self.vault.send(method, path, body)

    def _check_mount(self) -> None:
        """The mount must be KV version 2: on version 1 every path here would mean something else."""
        where = f"{self.mount}/{self.path}"
        response = self.vault.send("GET", f"sys/internal/ui/mounts/{where}")
        if response.status_code in (400, 403, 404):
            raise self.local_error(
                "path",
                f"Vault shows this token no mount at {self.mount}/ ({response.status_code} "
                f"{self.vault.detail(response)}): the mount does not exist, or the token's policy grants nothing "
                f"under {where}; the policy it needs is in {POLICY_DOC}",
            )
        if response.status_code != 200:
            raise self.vault.failure(response, "describing the mount")
        mount = (response.json() or {}).get("data") or {}
        actual = str(mount.get("path") or "").strip("/")
        if actual and actual != self.mount:
            raise self.config_error(
                "mount", f"{self.mount} is not a mount; the secret {where} lies in the mount {actual}"
            )
        version = str((mount.get("options") or {}).get("version") or "1")
        if mount.get("type") not in ("kv", "generic") or version != "2":
            kind = f"KV version {version}" if mount.get("type") in ("kv", "generic") else f"a {mount.get('type')}"
            raise self.config_error(
                "mount",
                f"{self.mount} is {kind} mount; the store needs KV version 2 (versions, check-and-set, metadata). "
                f"Upgrade it with `vault kv enable-versioning {self.mount}`, or use another mount",
            )

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
            self._exists = True
            return data, int(metadata.get("version") or 0), dict(metadata.get("custom_metadata") or {})
        self._exists = False
        if response.status_code != 404:
            raise self.vault.failure(response, "reading the secret", self._data_path)
        # absent, or the latest version is deleted: the metadata still knows the version for cas
        response = self._send("GET", f"{self.mount}/metadata/{self.path}")
        if response.status_code == 404:
            return None, 0, {}
        if response.status_code != 200:
            raise self.vault.failure(response, "reading the secret's metadata", self._metadata_path)
        metadata = response.json()["data"]
        return None, int(metadata.get("current_version") or 0), dict(metadata.get("custom_metadata") or {})

    def _put_data(self, data: dict, cas_version: int) -> None:
        body = {"data": data, "options": {"cas": cas_version} if self.options.get("cas", True) else {}}
        response = self._send("POST", f"{self.mount}/data/{self.path}", body)
        if response.status_code == 400 and CAS_MISMATCH in response.text:
            raise self.conflict("another writer changed the secret since it was read (check-and-set lost)")
        if response.status_code not in (200, 204):
            raise self.vault.failure(response, "writing the secret", self._data_path)

    def _put_custom_metadata(self, custom: dict) -> None:
        response = self._send("POST", f"{self.mount}/metadata/{self.path}", {"custom_metadata": custom})
        if response.status_code not in (200, 204):
            raise self.vault.failure(response, "writing the secret's custom metadata", self._metadata_path)

    @property
    def _data_path(self) -> str:
        return f"{self.mount}/data/{self.path}"

    @property
    def _metadata_path(self) -> str:
        return f"{self.mount}/metadata/{self.path}"

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
        if meta is not None:
            self._check_metadata_room(custom)
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
            try:
                self._put_custom_metadata(custom)
            except StoreError:
                # The value is written but not described: put the secret back as it was, then fail.
                if data:
                    self._put_data(data, version + 1)
                else:
                    self._destroy([version + 1])
                raise

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
        """Take our key out of the secret. The version that held it is destroyed, not soft-deleted: the value
        removed is a revoked (or never used) credential, and a soft delete could be undone."""
        self.refuse_in_check_mode("remove")
        data, version, custom = self._current()
        if data and self.key in data:
            rest = {k: v for k, v in data.items() if k != self.key}
            if rest:
                self._put_data(rest, version)  # other keys stay, in a new version without ours
            self._destroy([version])
        ours = set(self._metadata_keys())
        if ours & set(custom):
            self._put_custom_metadata({k: v for k, v in custom.items() if k not in ours})

    def _destroy(self, versions: list[int]) -> None:
        destroy = f"{self.mount}/destroy/{self.path}"
        response = self._send("POST", destroy, {"versions": versions})
        if response.status_code not in (200, 204):
            raise self.vault.failure(response, "destroying version(s) %s of the secret" % versions, destroy)

    def preflight(self, removing: bool = False) -> None:
        """Ask Vault what this token may do on the secret's paths (sys/capabilities-self), before KSeF changes."""
        destroy = f"{self.mount}/destroy/{self.path}"
        paths = [self._data_path, self._metadata_path, destroy]
        response = self._send("POST", "sys/capabilities-self", {"paths": paths})
        if response.status_code != 200:
            raise self.vault.failure(response, "the capability check", "sys/capabilities-self")
        granted = {path: set((response.json() or {}).get(path) or ()) for path in paths}
        needed = {
            self._data_path: {"read", "update" if self._exists or removing else "create"},
            self._metadata_path: {"read", "update"},
            destroy: {"update"},
        }
        missing = []
        for path, capabilities in needed.items():
            if "root" in granted[path]:
                continue
            lacking = sorted(capabilities - granted[path]) if "deny" not in granted[path] else sorted(capabilities)
            if lacking:
                missing.append(f"{'/'.join(lacking)} on {path}")
        if missing:
            raise self.local_error(
                "permissions",
                "the token lacks %s; nothing was changed in KSeF. The policy it needs is in %s"
                % (", ".join(missing), POLICY_DOC),
            )
        if not removing:
            self._check_metadata_room(self._current()[2])

    def _check_metadata_room(self, custom: dict) -> None:
        """Each key of the secret takes len(METADATA_FIELDS) custom metadata keys, and Vault allows 64."""
        needed = set(custom) | set(self._metadata_keys())
        if len(needed) > MAX_CUSTOM_METADATA:
            raise self.local_error(
                "path",
                "the secret's custom metadata would need %d keys and Vault allows %d: it already holds %d other "
                "credentials or keys; give this one its own %s"
                % (len(needed), MAX_CUSTOM_METADATA, len(custom) // len(METADATA_FIELDS), self.option_name("path")),
            )

    def forget(self, reference_number: str) -> list[str]:
        """Destroy the versions of the secret whose value under our key is the revoked credential: KV v2 keeps
        every version, and a soft delete can be undone; a destroyed version cannot."""
        response = self._send("GET", self._metadata_path)
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            raise self.vault.failure(response, "reading the secret's versions", self._metadata_path)
        versions = (response.json().get("data") or {}).get("versions") or {}
        holding = []
        for number, about in sorted(versions.items(), key=lambda item: int(item[0])):
            if about.get("destroyed"):
                continue
            read = self._send("GET", f"{self._data_path}?version={number}")
            if read.status_code == 404:  # soft-deleted by someone else: unreadable until undeleted, left alone
                continue
            if read.status_code != 200:
                raise self.vault.failure(read, "reading version %s of the secret" % number, self._data_path)
            value = ((read.json().get("data") or {}).get("data") or {}).get(self.key)
            if isinstance(value, str):
                self.remember_secret(value)
                if parse_reference_number(value) == reference_number:
                    holding.append(int(number))
        if not holding:
            return []
        self._destroy(holding)
        return [
            "destroyed version%s %s of %s" % ("s" if len(holding) > 1 else "", ",".join(map(str, holding)), self.label)
        ]

    def close(self) -> str | None:
        return self.vault.close()
