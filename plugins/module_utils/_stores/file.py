# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `file` store: a local file (raw, env, json or yaml; pem or pkcs12 for a certificate with its key), optionally
ansible-vault encrypted.

Writes are atomic in the style of community.crypto: a 0600 temp file in the same directory,
fsync, then rename over the target, so a reader sees the old or the new file, never half of one.

Several credentials may share one env/json/yaml file, each under its own key, and parallel runs (forks of one
playbook, or separate runs on one host) may write them at once. Each write reads the file, changes its own key
and replaces the file: without a lock, two such writes interleaved lose one of them. So every read-modify-write
holds an exclusive `fcntl.flock` on a lock file next to the target (`.NAME.lock`, never removed: removing it
would let two writers lock two different files), and checks under that lock that the file holds exactly what it
wrote before letting go.
"""

from __future__ import annotations

import datetime
import grp
import json
import os
import pwd
import re
import tempfile
from contextlib import ExitStack, contextmanager
from typing import Any

from ansible_collections.ksef.credentials.plugins.module_utils import _certificate_bundle, _locks
from ansible_collections.ksef.credentials.plugins.module_utils._numbers import ascii_digits_hint, not_ascii_digit
from ansible_collections.ksef.credentials.plugins.module_utils._stores._ansible_vault import (
    AnsibleVault,
    VaultCommandError,
    is_vault_encrypted,
)
from ansible_collections.ksef.credentials.plugins.module_utils._stores._base import Store, StoredValue
from ansible_collections.ksef.credentials.plugins.module_utils._text import control_character

FORMATS = ("raw", "env", "json", "yaml", "pem", "pkcs12")
KEYED_FORMATS = ("env", "json", "yaml")  # several values in one file, each under its key
DEFAULT_KEYS = {"env": "KSEF_TOKEN", "json": "token", "yaml": "token"}
# Both are matched whole (fullmatch): `$` would let a trailing newline through.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OCTAL_MODE = re.compile(r"0?[0-7]{3,4}")
_NUMERIC_ID = re.compile(r"[0-9]+")  # not str.isdigit(): that is true of every Unicode digit
_NAME_MAX = 255  # bytes in one path component (Linux NAME_MAX)
# Permission bits of the group and of others: a secret file with any of them is shared.
_SHARED_BITS = 0o077
# How long a write waits for the other writers of its file: ten writers of one ansible-vault file (a decrypt and
# an encrypt each, about a second under load) take seconds, never minutes.
LOCK_TIMEOUT = 120.0


def _env_line(key: str) -> re.Pattern:
    return re.compile(rf"^(?P<prefix>\s*(?:export\s+)?{re.escape(key)}\s*=\s*)(?P<value>.*?)\s*$")


def _env_get(text: str, key: str) -> str | None:
    pattern = _env_line(key)
    for line in text.splitlines():
        match = pattern.match(line)
        if match:
            raw = match.group("value")
            if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
                return raw[1:-1]
            return raw
    return None


def _env_set(text: str, key: str, value: str | None) -> str:
    """Replace (or drop, when value is None) the KEY= line; every other line is kept as it was."""
    pattern = _env_line(key)
    lines = text.splitlines()
    out, done = [], False
    for line in lines:
        match = pattern.match(line)
        if match and not done:
            done = True
            if value is None:
                continue
            raw = match.group("value")
            quote = raw[0] if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"" else ""
            out.append(f"{match.group('prefix')}{quote}{value}{quote}")
        elif not (match and value is None):
            out.append(line)
    if not done and value is not None:
        out.append(f"{key}={value}")
    return "\n".join(out) + "\n" if out else ""


class FileStore(Store):
    type_name = "file"
    argument_spec = {
        "path": {"type": "path", "required": True},
        "format": {"type": "str", "choices": list(FORMATS), "default": "raw"},
        "key": {"type": "str", "no_log": False},
        "mode": {"type": "raw", "default": "0600"},
        "allow_shared_mode": {"type": "bool", "default": False},
        "owner": {"type": "str"},
        "group": {"type": "str"},
        "backup": {"type": "bool", "default": False},
        "vault_password_file": {"type": "path", "no_log": False},
        "vault_id": {"type": "str"},
        "passphrase": {"type": "str", "no_log": True},
    }

    def __init__(self, module, options: dict, index: int):
        super().__init__(module, options, index)
        raw = options["path"]
        # Write through a symlink, not over it; a path realpath cannot take (a NUL) is refused by validate().
        self.path = os.path.realpath(raw) if "\x00" not in raw else raw
        self.format = options.get("format") or "raw"
        self.key: str = options.get("key") or DEFAULT_KEYS.get(self.format) or ""
        self.backup_file: str | None = None  # set by the last write that made a backup
        self._vault: Any = None

    @property
    def label(self) -> str:
        # The resolved path: `x.token`, `./x.token` and a symlink to it are one place (duplicates are refused).
        return f"file:{self.path}" + (f"#{self.key}" if self.format in KEYED_FORMATS else "")

    def cannot_share_with(self, other: Store) -> str | None:
        if not isinstance(other, FileStore) or other.path != self.path:
            return None
        single = [f for f in (self.format, other.format) if f not in KEYED_FORMATS]
        if single:
            return (
                f"{self.path} would hold a {single[0]} value and another entry; a {single[0]} file holds one value only"
            )
        if self.format != other.format:
            return f"{self.path} would be written as {other.format} and as {self.format}; one file has one format"
        return None

    # -- options ----------------------------------------------------------------------------------
    def validate(self) -> None:
        if self.format not in KEYED_FORMATS and self.options.get("key"):
            raise self.config_error("key", "is only used by the env, json and yaml formats; remove it or set format")
        if self.format == "pkcs12":
            if not self.options.get("passphrase"):
                raise self.config_error("passphrase", "is required with format pkcs12: it encrypts the PKCS#12 file")
            if self.options.get("vault_password_file"):
                raise self.config_error(
                    "vault_password_file", "does not apply to format pkcs12, which the passphrase encrypts already"
                )
            self.remember_secret(self.options["passphrase"])
        elif self.options.get("passphrase"):
            raise self.config_error("passphrase", "is only used by format pkcs12; remove it or set format: pkcs12")
        if self.format == "env" and not _ENV_NAME.fullmatch(self.key):
            raise self.config_error("key", "must be a valid environment variable name such as KSEF_TOKEN")
        control = control_character(self.options["path"])
        if control is not None:
            raise self.config_error(
                "path",
                "must not contain control characters; found %r (a newline from a YAML block scalar such as "
                "`path: |`, or a NUL)" % control,
            )
        if any(len(part.encode("utf-8")) > _NAME_MAX for part in self.path.split(os.sep)):
            raise self.config_error("path", f"has a name longer than {_NAME_MAX} bytes, which the filesystem refuses")
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            if getattr(self.module, "check_mode", False):
                # A plan can still be made (the store holds nothing yet); a real run fails here, before any request.
                self.module.warn(f"{self.label}: directory {directory} does not exist yet; create it before the run")
            else:
                raise self.config_error("path", f"directory {directory} does not exist; create it first")
        if os.path.isdir(self.path):
            raise self.config_error("path", "is a directory; give the path of a file")
        self.mode = self._parse_mode(self.options.get("mode", "0600"))
        self.uid = self._lookup("owner", pwd.getpwnam, lambda e: e.pw_uid)
        self.gid = self._lookup("group", grp.getgrnam, lambda e: e.gr_gid)
        if self.options.get("vault_id") and not self.options.get("vault_password_file"):
            raise self.config_error("vault_id", "needs vault_password_file (the password for this vault id)")
        if self.options.get("vault_password_file"):
            self._vault = self._load_vault()

    def _parse_mode(self, mode) -> int:
        if not isinstance(mode, str) or not _OCTAL_MODE.fullmatch(mode):
            hint = " (quote it: unquoted, YAML reads 644 as the decimal number 644)" if isinstance(mode, int) else ""
            raise self.config_error("mode", f"must be an octal string such as '0600'{hint}")
        value = int(mode, 8)
        if value & _SHARED_BITS and not self.options.get("allow_shared_mode"):
            raise self.config_error(
                "mode",
                f"{mode} lets the group or others read or change the secret; use '0600' (or '0400'), or set "
                "allow_shared_mode: true when another account must read this file",
            )
        return value

    def _lookup(self, option: str, find, field):
        name = self.options.get(option)
        if not name:
            return -1
        if _NUMERIC_ID.fullmatch(name):
            return int(name)
        if not_ascii_digit(name) is not None:  # str.isdigit() and int() take these, getpwnam() finds no one
            raise self.config_error(
                option, f"a numeric id is written with the ASCII digits 0-9, got {name!r}{ascii_digits_hint(name)}"
            )
        try:
            return field(find(name))
        except KeyError:
            raise self.config_error(option, f"no such {'user' if option == 'owner' else 'group'}: {name}") from None

    def _load_vault(self) -> AnsibleVault:
        password_file = self.options["vault_password_file"]
        if not os.path.isfile(password_file):
            raise self.config_error("vault_password_file", f"file {password_file} does not exist")
        return AnsibleVault(password_file, self.options.get("vault_id"), self.module.run_command)

    # -- file content -----------------------------------------------------------------------------
    def _read_text(self) -> str | None:
        """The file's plaintext (decrypted in memory), or None when there is no file."""
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self.error(f"cannot read the file: {exc.strerror}") from None
        if self.format == "pkcs12":
            try:
                return _certificate_bundle.from_pkcs12(data, self.options["passphrase"]) + "\n"
            except _certificate_bundle.BundleError as exc:
                raise self.error(str(exc)) from None
        if is_vault_encrypted(data):
            if self._vault is None:
                raise self.error(f"the file is ansible-vault encrypted; set {self.option_name('vault_password_file')}")
            try:
                data = self._vault.decrypt(data)
            except VaultCommandError as exc:
                raise self._vault_failure(exc, "decrypt") from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error("the file is not UTF-8 text") from None

    def _parse_mapping(self, text: str) -> dict:
        if not text.strip():
            return {}
        try:
            if self.format == "json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except Exception as exc:  # only the error's type: parser messages quote file content
            raise self.error(f"the file is not valid {self.format}: {type(exc).__name__}") from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise self.error(f"the file must hold a {self.format} mapping to keep the token under {self.key!r}")
        return data

    def _extract(self, text: str) -> str | None:
        if self.format not in KEYED_FORMATS:
            return text.strip() or None
        if self.format == "env":
            return _env_get(text, self.key) or None
        value = self._parse_mapping(text).get(self.key)
        return str(value) if value not in (None, "") else None

    def _render(self, text: str | None, value: str | None) -> str:
        """New plaintext with `value` under our key (None removes it); everything else is kept."""
        text = text or ""
        if self.format not in KEYED_FORMATS:
            return f"{value}\n" if value is not None else ""
        if self.format == "env":
            return _env_set(text, self.key, value)
        data = self._parse_mapping(text)
        if value is None:
            data.pop(self.key, None)
        else:
            data[self.key] = value
        if not data:
            return ""
        if self.format == "json":
            return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        import yaml

        return yaml.safe_dump(data, default_flow_style=False, sort_keys=False, allow_unicode=True)

    # -- writing ----------------------------------------------------------------------------------
    def _vault_failure(self, exc: VaultCommandError, action: str):
        option = self.option_name("vault_password_file")
        if exc.missing:
            from ansible.module_utils.basic import missing_required_lib

            return self.error(missing_required_lib("ansible-core"))
        if exc.wrong_password:
            return self.error(f"cannot decrypt the file with the password from {option} (wrong vault password?)")
        return self.error(self.scrub(f"cannot {action} the file with ansible-vault ({option}): {exc}"))

    def _encode(self, text: str) -> bytes:
        if self.format == "pkcs12":
            try:
                return _certificate_bundle.to_pkcs12(
                    text.strip(), self.options["passphrase"], os.path.basename(self.path)
                )
            except _certificate_bundle.BundleError as exc:
                raise self.error(f"cannot write PKCS#12: {exc}") from None
        if self._vault is None:
            return text.encode("utf-8")
        try:
            return self._vault.encrypt(text)
        except VaultCommandError as exc:
            raise self._vault_failure(exc, "encrypt") from None

    def _make_backup(self) -> None:
        if not self.options.get("backup") or not os.path.exists(self.path):
            return
        stamp = datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S.%f")
        backup = f"{self.path}.{os.getpid()}.{stamp}~"  # the name ansible's backup_local uses, plus microseconds
        with open(self.path, "rb") as source:
            data = source.read()
        fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as target:
            target.write(data)
            target.flush()
            os.fsync(target.fileno())
        self.backup_file = backup

    def _apply_attributes(self, fd: int | None = None) -> None:
        chmod = (lambda m: os.fchmod(fd, m)) if fd is not None else (lambda m: os.chmod(self.path, m))
        chown = (lambda u, g: os.fchown(fd, u, g)) if fd is not None else (lambda u, g: os.chown(self.path, u, g))
        try:
            if self.uid != -1 or self.gid != -1:
                chown(self.uid, self.gid)
            chmod(self.mode)
        except OSError as exc:
            raise self.error(f"cannot set owner/group/mode: {exc.strerror}") from None

    def _replace(self, data: bytes) -> None:
        directory, name = os.path.split(self.path)
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")  # created 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
                self._apply_attributes(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the rename itself durable
        finally:
            os.close(dir_fd)

    def lock_path(self) -> str:
        directory, name = os.path.split(self.path)
        return os.path.join(directory, f".{name}.lock")

    @contextmanager
    def _locked(self):
        """Hold the file's write lock: the other writers of this file (other keys, other runs) wait."""
        path, timeout = self.lock_path(), LOCK_TIMEOUT
        with ExitStack() as held:
            try:
                held.enter_context(_locks.file_lock(path, timeout, poll=0.05))
            except OSError as exc:
                raise self.error(f"cannot open the lock file {path}: {exc.strerror}") from None
            except _locks.LockTimeoutError:
                raise self.error(
                    f"another writer has held the lock {path} for more than {timeout:g} s; retry later"
                ) from None
            yield

    def _put(self, value: str | None) -> None:
        with self._locked():
            current = self._read_text()
            new_text = self._render(current, value)
            if current is not None and new_text == current and self._is_encrypted() == (self._vault is not None):
                self._apply_attributes()  # same content: only owner/group/mode may need fixing
                return
            self._make_backup()
            if not new_text:  # nothing left to keep: the file goes
                if current is not None:
                    os.unlink(self.path)
                return
            data = self._encode(new_text)
            try:
                self._replace(data)
            except OSError as exc:
                raise self.error(f"cannot write the file: {exc.strerror}") from None
            self._check_written(data)

    def _check_written(self, data: bytes) -> None:
        """Under the lock the file must hold exactly what this write put there: anything else means a writer that
        does not take the lock replaced it, and one of the two writes is lost."""
        try:
            with open(self.path, "rb") as handle:
                same = handle.read() == data
        except OSError:
            same = False
        if not same:
            raise self.error(
                "another writer replaced the file while this write held its lock (a program that does not take "
                f"{self.lock_path()}); one of the two writes may be lost: run again"
            )

    def _is_encrypted(self) -> bool:
        try:
            with open(self.path, "rb") as handle:
                return is_vault_encrypted(handle.read(len(b"$ANSIBLE_VAULT;") + 64))
        except FileNotFoundError:
            return False

    # -- the store interface ----------------------------------------------------------------------
    def read(self) -> StoredValue | None:
        text = self._read_text()
        value = self._extract(text) if text is not None else None
        if value is None:
            return None
        return self.stored_value(value, version=None)  # files have no compare-and-set

    def write(self, value, meta, expected_version) -> None:
        self.refuse_in_check_mode("write")
        self.remember_secret(value)
        self._put(value)

    def restore(self, previous: StoredValue | None) -> None:
        self.refuse_in_check_mode("restore")
        self._put(previous.value if previous is not None else None)

    def remove(self) -> None:
        self.refuse_in_check_mode("remove")
        self._put(None)

    def preflight(self, removing: bool = False) -> None:
        """The file is replaced by a rename in its directory: that directory must be writable by us, and an
        owner or group other than our own needs root."""
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory) and getattr(self.module, "check_mode", False):
            return  # validate() warned: a plan made before the folders exist
        if not os.access(directory, os.W_OK | os.X_OK):
            raise self.local_error("permissions", f"the directory {directory} is not writable by this user")
        ours = (-1, os.getegid(), *os.getgroups())
        if os.geteuid() != 0 and (self.uid not in (-1, os.geteuid()) or self.gid not in ours):
            raise self.local_error("permissions", "only root can give the file another owner or group")
