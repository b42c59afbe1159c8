# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The store interface: one entry of a credential's `store:` list (a token's or a certificate's).

A store never puts a secret into a label, an exception text, a warning or a return value.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from ansible_collections.ksef.credentials.plugins.module_utils import _certificate_bundle
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError, KsefError
from ansible_collections.ksef.credentials.plugins.module_utils._text import control_character

# A KSeF token value is `{referenceNumber}|{contextType}-{contextValue}|{64 hex}`.
_TOKEN_VALUE = re.compile(r"^(?P<ref>[^|\s]+)\|[^|\s]+\|[0-9a-fA-F]{64}$")


# Path segments an HTTP path carries as they are: no `?`, `#`, `%`, space or control character, no `.` or `..`.
PATH_SEGMENTS = re.compile(r"[A-Za-z0-9_@+=,.:~-]+(/[A-Za-z0-9_@+=,.:~-]+)*")
PATH_SEGMENTS_ALLOWED = "letters, digits and _ @ + = , . : ~ - in segments separated by /"


def _shown(value: str) -> str:
    """A value in an error message: quoted, and cut short."""
    return repr(value if len(value) <= 60 else value[:60] + "...")


@dataclass(frozen=True)
class TokenMeta:
    """What a store may keep next to the value (never the value itself)."""

    name: str
    reference_number: str
    permissions: list[str]
    created: str
    context: str


@dataclass(frozen=True, repr=False)  # its own __repr__ below; the generated one would only be compiled and dropped
class StoredValue:
    """What a store holds now. `value` is secret; `version` is the store's own version id, if any."""

    value: str
    reference_number: str | None
    version: str | None

    def __repr__(self) -> str:  # keeps the value out of tracebacks and debug output
        return f"StoredValue(value=<hidden>, reference_number={self.reference_number!r}, version={self.version!r})"


class StoreError(KsefError):
    """A store failed. `label` says which store, `cause` says why; neither holds a secret. `origin` says where the
    problem lies when the store knows: `local` (credentials, TLS, permissions, path: fixed on our side) or `server`
    (the server's answer, or no answer at all)."""

    def __init__(self, label: str, cause: str, origin: str | None = None):
        self.label = label
        self.cause = cause
        self.origin = origin
        super().__init__(f"{label}: {cause}")


class StoreConfigError(KsefConfigError, StoreError):
    """A store entry is wrong. `option` names it (e.g. `store[1].path`); the message says how to fix it."""

    def __init__(self, option: str, message: str):
        self.label = option
        self.cause = message
        KsefConfigError.__init__(self, option, f"{option}: {message}")


class StoreConflictError(StoreError):
    """Compare-and-set lost: the store changed after it was read."""


def parse_reference_number(value: str | None) -> str | None:
    """What identifies a stored value in KSeF: the reference number a KSeF token value starts with, or the serial
    number of the certificate at the start of a certificate bundle; None for anything else."""
    if not value:
        return None
    match = _TOKEN_VALUE.match(value.strip())
    if match:
        return match.group("ref")
    return _certificate_bundle.serial_number(value)


class Store(ABC):
    """Base class of every store type. Subclasses set `type_name` and `argument_spec` (their suboptions)."""

    type_name: ClassVar[str]
    argument_spec: ClassVar[dict]

    list_option = "store"  # the option whose entry this is: `store`, or `store_template` (build_store sets it)

    def __init__(self, module: Any, options: dict, index: int):
        self.module = module
        self.options = options
        self.index = index

    @property
    @abstractmethod
    def label(self) -> str:
        """A printable name of where the value lives; never a secret."""

    def cannot_share_with(self, other: Store) -> str | None:
        """Why this store and `other` (another label) cannot both be written, or None. Only files share a place:
        several keys of one env, json or yaml file are fine; a raw value, or two formats, in one file are not."""
        return None

    def option_name(self, option: str) -> str:
        """How error messages name an option of this entry: `store[1].path`."""
        return f"{self.list_option}[{self.index}].{option}"

    def config_error(self, option: str, message: str) -> StoreConfigError:
        return StoreConfigError(self.option_name(option), message)

    def check_name(self, option: str, value: str, pattern: re.Pattern, allowed: str, example: str) -> None:
        """`value` must match `pattern` whole (a URL or an API would read anything else differently)."""
        if not pattern.fullmatch(value) or any(part in (".", "..") for part in value.split("/")):
            raise self.config_error(option, f"must be {allowed}, for example {example}; got {_shown(value)}")

    def check_secret_text(self, option: str, value: str | None) -> None:
        """A secret (a token, a secret id) goes into a header or a body as it is: no control character. The
        message never shows the value."""
        if value and control_character(value):
            raise self.config_error(
                option, "must not contain control characters (a newline from a file or a YAML block scalar?)"
            )

    def check_key(self, option: str, value: str, max_length: int = 256) -> None:
        """A key inside a JSON or KV secret: printable (no control, format or unassigned character), not blank."""
        if not value.strip() or len(value) > max_length:
            raise self.config_error(option, f"must be 1 to {max_length} characters, not blank; got {_shown(value)}")
        odd = next((c for c in value if not c.isprintable()), None)
        if odd is not None:
            raise self.config_error(
                option,
                f"must hold printable characters only; found {odd!r} (a newline from a YAML block scalar, or a "
                f"character Unicode does not assign)",
            )

    def error(self, cause: str) -> StoreError:
        return StoreError(self.label, cause)

    def local_error(self, category: str, cause: str) -> StoreError:
        """A problem on our side: `category` is credentials, TLS, permissions or path."""
        return StoreError(self.label, f"local problem ({category}): {cause}", origin="local")

    def server_error(self, cause: str) -> StoreError:
        """The server's answer (or its silence) is the problem."""
        return StoreError(self.label, f"server's answer: {cause}", origin="server")

    def conflict(self, cause: str) -> StoreConflictError:
        return StoreConflictError(self.label, cause)

    def remember_secret(self, value: str | None) -> None:
        """Register a secret with the module so Ansible masks it in any output."""
        if value:
            self.module.no_log_values.add(value)

    def stored_value(self, value: str, version: str | None) -> StoredValue:
        self.remember_secret(value)
        return StoredValue(value=value, reference_number=parse_reference_number(value), version=version)

    def scrub(self, text: str) -> str:
        """Text from a remote service with every known secret masked, fit for an error message."""
        from ansible.module_utils.common.parameters import remove_values

        return remove_values(str(text), set(self.module.no_log_values))

    def refuse_in_check_mode(self, action: str) -> None:
        """The engine never mutates in check mode; this is the last line of defence."""
        if getattr(self.module, "check_mode", False):
            raise self.error(f"refusing to {action} in check mode")

    @abstractmethod
    def validate(self) -> None:
        """Check options before any API call; raise StoreConfigError naming the option."""

    @abstractmethod
    def read(self) -> StoredValue | None:
        """What the store holds now, or None."""

    @abstractmethod
    def write(self, value: str, meta: TokenMeta, expected_version: str | None) -> None:
        """Atomically store `value`; refuse with StoreConflictError when the held version is no longer expected."""

    @abstractmethod
    def restore(self, previous: StoredValue | None) -> None:
        """Put back what read() returned before a failed rotation (None: remove what write() put there)."""

    @abstractmethod
    def remove(self) -> None:
        """Delete what this store holds."""

    def preflight(self, removing: bool = False) -> None:
        """Before any change in KSeF: raise StoreError when this store will not be able to write (or, with
        `removing`, to remove) what it holds. Only reads; the default checks nothing."""
        return None

    def forget(self, reference_number: str) -> list[str]:
        """A credential was revoked: remove its value from what the store keeps besides the current value (a
        history of versions). Says what was done, for the task's result; the default keeps no history."""
        return []

    def close(self) -> str | None:
        """The task is over: release what the store holds open (a login token). A warning text, or None."""
        return None
