"""The emulator's persistent state: one SQLite file under --state-dir, one connection, one lock.

Only salted hashes of KSeF token secrets are stored, never a token value.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS encryption_keys (
    public_key_id TEXT PRIMARY KEY,
    usage TEXT NOT NULL,
    private_key_pem BLOB NOT NULL,
    certificate_der BLOB NOT NULL,
    certificate_id TEXT NOT NULL,
    valid_from REAL NOT NULL,
    valid_to REAL NOT NULL,
    retired INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS subjects (
    nip TEXT PRIMARY KEY,
    subject_type TEXT NOT NULL,
    description TEXT NOT NULL,
    parent_nip TEXT,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS persons (
    nip TEXT PRIMARY KEY,
    pesel TEXT NOT NULL,
    is_bailiff INTEGER NOT NULL,
    is_deceased INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS permission_grants (
    context_type TEXT NOT NULL,
    context_value TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_value TEXT NOT NULL,
    permission TEXT NOT NULL,
    description TEXT NOT NULL,
    PRIMARY KEY (context_type, context_value, subject_type, subject_value, permission)
);
CREATE TABLE IF NOT EXISTS ksef_tokens (
    reference_number TEXT PRIMARY KEY,
    context_type TEXT NOT NULL,
    context_value TEXT NOT NULL,
    author_type TEXT NOT NULL,
    author_value TEXT NOT NULL,
    description TEXT NOT NULL,
    permissions TEXT NOT NULL,
    status TEXT NOT NULL,
    status_details TEXT NOT NULL DEFAULT '[]',
    date_created REAL NOT NULL,
    last_use_date REAL,
    transition_at REAL,
    fail_activation INTEGER NOT NULL DEFAULT 0,
    secret_salt BLOB NOT NULL,
    secret_hash BLOB NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ksef_tokens_context ON ksef_tokens (context_type, context_value);
CREATE TABLE IF NOT EXISTS challenges (
    challenge TEXT PRIMARY KEY,
    timestamp REAL NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    client_ip TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS auth_operations (
    reference_number TEXT PRIMARY KEY,
    start_date REAL NOT NULL,
    method TEXT NOT NULL,
    context_type TEXT NOT NULL,
    context_value TEXT NOT NULL,
    subject_type TEXT,
    subject_value TEXT,
    ksef_token_reference TEXT,
    authorization_policy TEXT,
    client_ip TEXT NOT NULL,
    final_at REAL NOT NULL,
    outcome_code INTEGER NOT NULL,
    outcome_details TEXT NOT NULL DEFAULT '[]',
    permissions TEXT NOT NULL DEFAULT '[]',
    redeemed INTEGER NOT NULL DEFAULT 0,
    refresh_valid_until REAL,
    last_refresh_date REAL,
    revoked INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS auth_operations_context ON auth_operations (context_type, context_value);
CREATE TABLE IF NOT EXISTS login_certificates (
    operation_reference TEXT PRIMARY KEY,
    certificate_der BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS ksef_certificates (
    serial_number TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    common_name TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_value TEXT NOT NULL,
    valid_from REAL NOT NULL,
    valid_to REAL NOT NULL,
    request_date REAL NOT NULL,
    issued_at REAL NOT NULL,
    last_use_date REAL,
    revoked_at REAL,
    revocation_reason TEXT,
    public_key_sha256 TEXT NOT NULL,
    certificate_der BLOB NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ksef_certificates_subject ON ksef_certificates (subject_type, subject_value);
CREATE TABLE IF NOT EXISTS certificate_enrollments (
    reference_number TEXT PRIMARY KEY,
    subject_type TEXT NOT NULL,
    subject_value TEXT NOT NULL,
    request_date REAL NOT NULL,
    final_at REAL NOT NULL,
    outcome_code INTEGER NOT NULL,
    outcome_details TEXT NOT NULL DEFAULT '[]',
    serial_number TEXT
);
CREATE TABLE IF NOT EXISTS testdata_overrides (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS permissions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    context_type TEXT NOT NULL,
    context_value TEXT NOT NULL,
    granter_type TEXT NOT NULL,
    granter_value TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_value TEXT NOT NULL,
    target_type TEXT,
    target_value TEXT,
    can_delegate INTEGER NOT NULL DEFAULT 0,
    author_type TEXT NOT NULL,
    author_value TEXT,
    description TEXT NOT NULL,
    subject_details TEXT NOT NULL DEFAULT '{}',
    extra TEXT NOT NULL DEFAULT '{}',
    start_date REAL NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS permissions_context ON permissions (context_type, context_value);
CREATE INDEX IF NOT EXISTS permissions_subject ON permissions (subject_type, subject_value);
CREATE TABLE IF NOT EXISTS permission_operations (
    reference_number TEXT PRIMARY KEY,
    context_type TEXT NOT NULL,
    context_value TEXT NOT NULL,
    start_date REAL NOT NULL,
    final_at REAL,
    outcome_code INTEGER NOT NULL,
    effect TEXT NOT NULL,
    applied INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS subject_certificate_limits (
    subject_type TEXT NOT NULL,
    subject_value TEXT NOT NULL,
    max_enrollments INTEGER,
    max_certificates INTEGER,
    PRIMARY KEY (subject_type, subject_value)
);
"""


class Store:
    """A thread-safe wrapper around one SQLite connection (uvicorn may call us from a threadpool)."""

    def __init__(self, state_dir: Path):
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / "emulator.sqlite3"
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(SCHEMA)

    @contextmanager
    def transaction(self):
        """Run several statements atomically; yields the connection."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def execute(self, sql: str, params: tuple | dict = ()) -> int:
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    def all(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def next_seq(self, table: str) -> int:
        row = self.one(f"SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM {table}")
        assert row is not None  # an aggregate always answers one row
        return int(row["n"])

    def meta_get(self, key: str) -> str | None:
        row = self.one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else row["value"]

    def meta_set(self, key: str, value: str) -> None:
        self.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
