"""KSeF tokens: creation, the Pending/Active/Failed and Revoking/Revoked life cycle, and matching a value.

A token value is `{referenceNumber}|{nip|internalId}-{context value}|{64 hex}`; only a salted SHA-256
of the 64-hex secret is kept. Status changes happen lazily, the next time anything looks at tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading

from . import clock, refnum
from .authority import ordered
from .settings import Settings
from .store import Store

STATUSES = ("Pending", "Active", "Revoking", "Revoked", "Failed")
CONTEXT_WORDS = {"Nip": "nip", "InternalId": "internalId"}
VALUE_PATTERN = re.compile(
    r"^(?P<ref>\d{8}-EC-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2})\|(?P<ctx>nip|internalId)-(?P<value>[0-9A-Za-z-]{1,64})"
    r"\|(?P<secret>[0-9a-f]{64})$"
)
ACTIVATION_FAILED = "Nie udało się aktywować tokena."


def _hash(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


class TokenRegistry:
    def __init__(self, store: Store, settings: Settings):
        self._store = store
        self._settings = settings
        self._lock = threading.Lock()
        self.fail_next = 0  # PUT /_emulator/activation: the next N new tokens end Failed

    def create(
        self,
        context_type: str,
        context_value: str,
        author_type: str,
        author_value: str,
        description: str,
        permissions: list[str],
        status: str = "Pending",
    ) -> tuple[str, str]:
        """A new token; returns (referenceNumber, value). The value exists only in this return."""
        reference = refnum.new_reference(refnum.KSEF_TOKEN)
        secret = secrets.token_hex(32)
        salt = secrets.token_bytes(16)
        now = clock.now()
        with self._lock:
            fail = 0
            if status == "Pending" and self.fail_next > 0:
                self.fail_next -= 1
                fail = 1
        transition_at = now + self._settings.scaled(self._settings.activation_delay) if status == "Pending" else None
        details = [ACTIVATION_FAILED] if status == "Failed" else []
        with self._store.transaction() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM ksef_tokens").fetchone()[0]
            db.execute(
                "INSERT INTO ksef_tokens (reference_number, context_type, context_value, author_type, author_value,"
                " description, permissions, status, status_details, date_created, transition_at, fail_activation,"
                " secret_salt, secret_hash, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    reference,
                    context_type,
                    context_value,
                    author_type,
                    author_value,
                    description,
                    json.dumps(ordered(permissions)),
                    status,
                    json.dumps(details),
                    now,
                    transition_at,
                    fail,
                    salt,
                    _hash(salt, secret),
                    seq,
                ),
            )
        value = f"{reference}|{CONTEXT_WORDS[context_type]}-{context_value}|{secret}"
        return reference, value

    def settle(self) -> None:
        """Apply every status change that is due."""
        now = clock.now()
        with self._store.transaction() as db:
            db.execute(
                "UPDATE ksef_tokens SET status = 'Active', transition_at = NULL"
                " WHERE status = 'Pending' AND fail_activation = 0 AND transition_at <= ?",
                (now,),
            )
            db.execute(
                "UPDATE ksef_tokens SET status = 'Failed', transition_at = NULL, status_details = ?"
                " WHERE status = 'Pending' AND fail_activation = 1 AND transition_at <= ?",
                (json.dumps([ACTIVATION_FAILED]), now),
            )
            db.execute(
                "UPDATE ksef_tokens SET status = 'Revoked', transition_at = NULL"
                " WHERE status = 'Revoking' AND transition_at <= ?",
                (now,),
            )

    def get(self, reference: str) -> dict | None:
        self.settle()
        row = self._store.one("SELECT * FROM ksef_tokens WHERE reference_number = ?", (reference,))
        return None if row is None else _as_dict(row)

    def match(self, value: str) -> tuple[dict | None, bool]:
        """(token, well_formed): the stored token whose secret this value carries, if any."""
        m = VALUE_PATTERN.match(value)
        if not m:
            return None, False
        token = self.get(m["ref"])
        if token is None:
            return None, True
        row = self._store.one(
            "SELECT secret_salt, secret_hash FROM ksef_tokens WHERE reference_number = ?", (m["ref"],)
        )
        if row is None:
            return None, True
        if not hmac.compare_digest(_hash(bytes(row["secret_salt"]), m["secret"]), bytes(row["secret_hash"])):
            return None, True
        ctx_type = {"nip": "Nip", "internalId": "InternalId"}[m["ctx"]]
        if (ctx_type, m["value"]) != (token["context_type"], token["context_value"]):
            return None, True
        return token, True

    def in_context(self, context_type: str | None, context_value: str | None) -> list[dict]:
        """Tokens of a context (or all, when None), newest first."""
        self.settle()
        rows = self._store.all(
            "SELECT * FROM ksef_tokens WHERE (? IS NULL OR (context_type = ? AND context_value = ?))"
            " ORDER BY date_created DESC, seq DESC",
            (context_type, context_type, context_value),
        )
        return [_as_dict(r) for r in rows]

    def touch(self, reference: str) -> None:
        self._store.execute(
            "UPDATE ksef_tokens SET last_use_date = ? WHERE reference_number = ?", (clock.now(), reference)
        )

    def revoke(self, reference: str) -> None:
        """Revoking now, Revoked after the activation delay (no effect on tokens already revoked)."""
        self.settle()
        self._store.execute(
            "UPDATE ksef_tokens SET status = 'Revoking', transition_at = ? WHERE reference_number = ?"
            " AND status NOT IN ('Revoking', 'Revoked')",
            (clock.now() + self._settings.scaled(self._settings.activation_delay), reference),
        )

    def revoke_beyond(
        self, context_type: str, context_value: str, author_type: str, author_value: str, held: list[str]
    ) -> list[str]:
        """Revoke the author's live tokens in a context that carry a permission the author no longer holds."""
        revoked = []
        for token in self.in_context(context_type, context_value):
            if (token["author_type"], token["author_value"]) != (author_type, author_value):
                continue
            if token["status"] in ("Revoking", "Revoked", "Failed"):
                continue
            if set(token["permissions"]) - set(held):
                self.revoke(token["reference_number"])
                revoked.append(token["reference_number"])
        return revoked

    def fail(self, reference: str) -> bool:
        """A Pending token becomes Failed (admin API)."""
        self.settle()
        return (
            self._store.execute(
                "UPDATE ksef_tokens SET status = 'Failed', transition_at = NULL, status_details = ?"
                " WHERE reference_number = ? AND status = 'Pending'",
                (json.dumps([ACTIVATION_FAILED]), reference),
            )
            > 0
        )

    def backdate(self, reference: str, seconds: float) -> bool:
        return (
            self._store.execute(
                "UPDATE ksef_tokens SET date_created = date_created - ?,"
                " last_use_date = CASE WHEN last_use_date IS NULL THEN NULL ELSE last_use_date - ? END"
                " WHERE reference_number = ?",
                (seconds, seconds, reference),
            )
            > 0
        )


def _as_dict(row) -> dict:
    hidden = ("secret_salt", "secret_hash")
    token = {k: row[k] for k in row.keys() if k not in hidden}  # noqa: SIM118 - a sqlite3.Row iterates values
    token["permissions"] = json.loads(token["permissions"])
    token["status_details"] = json.loads(token["status_details"])
    return token


def token_as_api(token: dict) -> dict:
    """QueryTokensResponseItem / TokenStatusResponse."""
    return {
        "referenceNumber": token["reference_number"],
        "authorIdentifier": {"type": token["author_type"], "value": token["author_value"]},
        "contextIdentifier": {"type": token["context_type"], "value": token["context_value"]},
        "description": token["description"],
        "requestedPermissions": token["permissions"],
        "dateCreated": clock.iso(token["date_created"]),
        "lastUseDate": clock.iso(token["last_use_date"]),
        "status": token["status"],
        "statusDetails": token["status_details"],
    }
