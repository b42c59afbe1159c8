"""Permission grants (uprawnienia.md): the rows the permission API creates, and its asynchronous operations.

A row is one scope of one grant (an entities grant of InvoiceRead and InvoiceWrite is two rows, each with its own
36-character id, as the queries show them). Its fields:
- kind: person, entity, authorization, indirect, subunit, eu_admin or eu_representative;
- context: where the row's holder works (the granting context; the subunit's InternalId or Nip; the NipVatUe context);
  for an indirect grant the context is the intermediary that made it and `target` names the client (Nip, InternalId)
  or AllPartners;
- granter: the context the grant was made from (the one that sees it as granted and may revoke it);
- author: who made it (Nip, Pesel, Fingerprint, or System for /testdata/permissions and ZAW-FA-like grants).

Grants and revokes are operations (`EG` reference numbers): the outcome is decided when the request arrives, shown
as 100 for --permission-delay, then as 200 (and only then do the rows appear or go) or a documented failure code.
Rows /testdata/permissions wrote (table permission_grants) are mirrored here with the author System.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable

from . import clock, refnum
from .settings import Settings
from .store import Store

IN_PROGRESS = 100
SUCCESS = 200
FAILED = 400
WRONG_RELATION = 410
NO_PERMISSION = 420
WRONG_ROLE = 430
NOT_ALLOWED_LINK = 440
NOT_ALLOWED_IDENTIFIER = 450
UNKNOWN = 500
CANCELLED = 550

# PermissionsOperationStatusResponse.status (open-api.json)
DESCRIPTIONS = {
    IN_PROGRESS: "Operacja przyjęta do realizacji",
    SUCCESS: "Operacja zakończona sukcesem",
    FAILED: "Operacja zakończona niepowodzeniem",
    WRONG_RELATION: "Podane identyfikatory są niezgodne lub pozostają w niewłaściwej relacji",
    NO_PERMISSION: "Użyte poświadczenia nie mają uprawnień do wykonania tej operacji",
    WRONG_ROLE: "Kontekst identyfikatora nie odpowiada wymaganej roli lub uprawnieniom",
    NOT_ALLOWED_LINK: "Operacja niedozwolona dla wskazanych powiązań identyfikatorów",
    NOT_ALLOWED_IDENTIFIER: "Operacja niedozwolona dla wskazanego identyfikatora lub jego typu",
    UNKNOWN: "Nieznany błąd",
    CANCELLED: "Operacja została anulowana przez system",
}
CANCELLED_DETAIL = "Przetwarzanie zostało przerwane z przyczyn wewnętrznych systemu. Spróbuj ponownie później."
FAILURE_CODES = (FAILED, WRONG_RELATION, NO_PERMISSION, WRONG_ROLE, NOT_ALLOWED_LINK, NOT_ALLOWED_IDENTIFIER, CANCELLED)
OPERATION_RETENTION = 30 * 86400  # "Status operacji jest dostępny przez 30 dni."

KINDS = ("person", "entity", "authorization", "indirect", "subunit", "eu_admin", "eu_representative")
# What a row of each kind gives its holder in its context when logging in (authorization rows give nothing: they
# are checked against invoice data, uprawnienia.md "Nadanie uprawnień podmiotowych").
LOGIN_KINDS = ("person", "entity", "subunit", "eu_admin", "eu_representative")
# The permission a context needs to revoke a row of each kind (DELETE /permissions/common/grants/{permissionId}).
REVOKE_NEEDS = {
    "person": "CredentialsManage",
    "entity": "CredentialsManage",
    "indirect": "CredentialsManage",
    "eu_admin": "CredentialsManage",
    "subunit": "SubunitManage",
    "eu_representative": "VatUeManage",
    "authorization": "CredentialsManage",
}
TESTDATA_ORIGIN = "testdata"
_TESTDATA_NAMESPACE = uuid.UUID("0c7c4bb4-6a3e-4d3c-9d55-2f1b3f0f6a10")
_KEY = ("kind", "scope", "context_type", "context_value", "granter_type", "granter_value", "subject_type",
        "subject_value", "target_type", "target_value")  # fmt: skip


class PermissionRegistry:
    def __init__(self, store: Store, settings: Settings):
        self._store = store
        self._settings = settings
        self._lock = threading.Lock()
        self.next_outcomes: list[int] = []  # control API: the next operations end with these codes
        self.on_revoked: Callable[[list[tuple[str, str, str, str]]], None] | None = (
            None  # called with [(context_type, context_value, subject_type, subject_value)]
        )

    # --- operations
    def start(self, context_type: str, context_value: str, outcome: int, effect: dict) -> str:
        """A new operation answering 100 for --permission-delay, then `outcome` (the effect applies on 200)."""
        with self._lock:
            if self.next_outcomes:
                outcome = self.next_outcomes.pop(0)
        reference = refnum.new_reference(refnum.PERMISSION_OPERATION)
        now = clock.now()
        self._store.execute(
            "INSERT INTO permission_operations (reference_number, context_type, context_value, start_date, final_at,"
            " outcome_code, effect) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                reference,
                context_type,
                context_value,
                now,
                now + self._settings.scaled(self._settings.permission_delay),
                outcome,
                json.dumps(effect),
            ),
        )
        return reference

    def operation(self, reference: str) -> dict | None:
        self.settle()
        row = self._store.one("SELECT * FROM permission_operations WHERE reference_number = ?", (reference,))
        return None if row is None else dict(row)

    @staticmethod
    def status(op: dict) -> tuple[int, list[str]]:
        if op["final_at"] is None or clock.now() < op["final_at"]:
            return IN_PROGRESS, []
        code = op["outcome_code"]
        details = json.loads(op["effect"]).get("details") or []
        if code == CANCELLED and not details:
            details = [CANCELLED_DETAIL]
        return code, details

    def hold(self, reference: str) -> bool:
        """The operation stays at 100 until finish() (control API); False when it has already ended."""
        self.settle()
        return (
            self._store.execute(
                "UPDATE permission_operations SET final_at = NULL WHERE reference_number = ? AND applied = 0"
                " AND (final_at IS NULL OR final_at > ?)",
                (reference, clock.now()),
            )
            > 0
        )

    def finish(self, reference: str, code: int) -> bool:
        """End an operation still at 100 now, with `code` (control API)."""
        self.settle()
        changed = self._store.execute(
            "UPDATE permission_operations SET final_at = ?, outcome_code = ? WHERE reference_number = ?"
            " AND applied = 0 AND (final_at IS NULL OR final_at > ?)",
            (clock.now(), code, reference, clock.now()),
        )
        self.settle()
        return changed > 0

    def backdate(self, reference: str, seconds: float) -> bool:
        return (
            self._store.execute(
                "UPDATE permission_operations SET start_date = start_date - ? WHERE reference_number = ?",
                (seconds, reference),
            )
            > 0
        )

    def settle(self) -> None:
        """Apply every operation that has reached 200, and mirror /testdata/permissions."""
        self._sync_testdata()
        now = clock.now()
        due = self._store.all(
            "SELECT * FROM permission_operations WHERE applied = 0 AND final_at IS NOT NULL AND final_at <= ?",
            (now,),
        )
        for op in due:
            with self._store.transaction() as db:
                if (
                    db.execute(
                        "UPDATE permission_operations SET applied = 1 WHERE reference_number = ? AND applied = 0",
                        (op["reference_number"],),
                    ).rowcount
                    != 1
                ):
                    continue
                lost = self._apply(db, json.loads(op["effect"])) if op["outcome_code"] == SUCCESS else []
            if lost and self.on_revoked is not None:
                self.on_revoked(lost)

    def _apply(self, db, effect: dict) -> list[tuple[str, str, str, str]]:
        """Insert the granted rows (an identical row already there is kept as it is) or delete the revoked ones."""
        for row in effect.get("grant", []):
            where = " AND ".join(f"{k} IS ?" for k in _KEY)
            if db.execute(f"SELECT 1 FROM permissions WHERE {where}", tuple(row.get(k) for k in _KEY)).fetchone():
                continue
            self._insert(db, row)
        lost = []
        for permission_id in effect.get("revoke", []):
            found = db.execute("SELECT * FROM permissions WHERE id = ?", (permission_id,)).fetchone()
            if found is None:
                continue
            db.execute("DELETE FROM permissions WHERE id = ?", (permission_id,))
            if json.loads(found["extra"]).get("origin") == TESTDATA_ORIGIN:
                db.execute(
                    "DELETE FROM permission_grants WHERE context_type = ? AND context_value = ? AND subject_type = ?"
                    " AND subject_value = ? AND permission = ?",
                    (
                        found["context_type"],
                        found["context_value"],
                        found["subject_type"],
                        found["subject_value"],
                        found["scope"],
                    ),
                )
            lost.append((found["context_type"], found["context_value"], found["subject_type"], found["subject_value"]))
            if found["kind"] == "entity":  # the intermediary's people lose what it passed on from this client
                for row in db.execute(
                    "SELECT * FROM permissions WHERE kind = 'indirect' AND granter_value = ?", (found["subject_value"],)
                ):
                    lost.append((row["context_type"], row["context_value"], row["subject_type"], row["subject_value"]))
        return lost

    @staticmethod
    def _insert(db, row: dict) -> str:
        permission_id = row.get("id") or str(uuid.uuid4())
        seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM permissions").fetchone()[0]
        db.execute(
            "INSERT INTO permissions (id, kind, scope, context_type, context_value, granter_type, granter_value,"
            " subject_type, subject_value, target_type, target_value, can_delegate, author_type, author_value,"
            " description, subject_details, extra, start_date, seq)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                permission_id,
                row["kind"],
                row["scope"],
                row["context_type"],
                row["context_value"],
                row["granter_type"],
                row["granter_value"],
                row["subject_type"],
                row["subject_value"],
                row.get("target_type"),
                row.get("target_value"),
                int(bool(row.get("can_delegate"))),
                row["author_type"],
                row.get("author_value"),
                row["description"],
                json.dumps(row.get("subject_details") or {}),
                json.dumps(row.get("extra") or {}),
                row.get("start_date") or clock.now(),
                seq,
            ),
        )
        return permission_id

    def record(self, rows: list[dict]) -> list[str]:
        """Rows in force at once, without an operation (control API: grants made elsewhere, e.g. by System)."""
        self.settle()
        with self._store.transaction() as db:
            return [self._insert(db, row) for row in rows]

    def _sync_testdata(self) -> None:
        """Mirror permission_grants (/testdata/permissions) as rows authored by System."""
        wanted = {}
        for g in self._store.all("SELECT * FROM permission_grants"):
            key = "|".join((g["context_type"], g["context_value"], g["subject_type"], g["subject_value"]))
            wanted[str(uuid.uuid5(_TESTDATA_NAMESPACE, f"{key}|{g['permission']}"))] = g
        mirrored = "SELECT id FROM permissions WHERE json_extract(extra, '$.origin') = ?"
        if {r["id"] for r in self._store.all(mirrored, (TESTDATA_ORIGIN,))} == set(wanted):
            return
        with self._store.transaction() as db:
            have = {r[0] for r in db.execute(mirrored, (TESTDATA_ORIGIN,))}  # again, under the write lock
            for gone in have - set(wanted):
                db.execute("DELETE FROM permissions WHERE id = ?", (gone,))
            for permission_id in set(wanted) - have:
                g = wanted[permission_id]
                self._insert(
                    db,
                    {
                        "id": permission_id,
                        "kind": "person",
                        "scope": g["permission"],
                        "context_type": g["context_type"],
                        "context_value": g["context_value"],
                        "granter_type": g["context_type"],
                        "granter_value": g["context_value"],
                        "subject_type": g["subject_type"],
                        "subject_value": g["subject_value"],
                        "author_type": "System",
                        "description": g["description"],
                        "extra": {"origin": TESTDATA_ORIGIN},
                    },
                )

    # --- reading rows
    def rows(self, where: str = "1", params: tuple = ()) -> list[dict]:
        self.settle()
        return [_as_dict(r) for r in self._store.all(f"SELECT * FROM permissions WHERE {where}", params)]

    def get(self, permission_id: str) -> dict | None:
        found = self.rows("id = ?", (permission_id,))
        return found[0] if found else None

    def delegation_active(self, row: dict) -> bool:
        """An indirect row works while its intermediary still holds the scope with canDelegate from the client
        (a selective grant); a general one (AllPartners) is always Active."""
        if row["kind"] != "indirect" or row["target_type"] == "AllPartners":
            return True
        return bool(
            self._store.one(
                "SELECT 1 FROM permissions WHERE kind = 'entity' AND can_delegate = 1 AND scope = ?"
                " AND context_type = ? AND context_value = ? AND subject_type = 'Nip' AND subject_value = ?",
                (row["scope"], row["target_type"], row["target_value"], row["granter_value"]),
            )
        )

    def delegable_from(self, context_type: str, context_value: str, intermediary_nip: str, scope: str) -> bool:
        return bool(
            self._store.one(
                "SELECT 1 FROM permissions WHERE kind = 'entity' AND can_delegate = 1 AND scope = ?"
                " AND context_type = ? AND context_value = ? AND subject_type = 'Nip' AND subject_value = ?",
                (scope, context_type, context_value, intermediary_nip),
            )
        )

    def held_in(self, context_type: str, context_value: str, identities: set[tuple[str, str]]) -> set[str]:
        """Scopes the API's rows give these identities for logging in to a context (no settle: callers do it)."""
        held: set[str] = set()
        for row in self._store.all(
            "SELECT * FROM permissions WHERE context_type = ? AND context_value = ?", (context_type, context_value)
        ):
            if row["kind"] in LOGIN_KINDS and (row["subject_type"], row["subject_value"]) in identities:
                held.add(row["scope"])
        for row in self._store.all("SELECT * FROM permissions WHERE kind = 'indirect'"):
            if (row["subject_type"], row["subject_value"]) not in identities:
                continue
            aimed_here = row["target_type"] == "AllPartners" or (row["target_type"], row["target_value"]) == (
                context_type,
                context_value,
            )
            if aimed_here and self.delegable_from(context_type, context_value, row["granter_value"], row["scope"]):
                held.add(row["scope"])
        return held


def _as_dict(row) -> dict:
    item = {k: row[k] for k in row.keys()}  # noqa: SIM118 - a sqlite3.Row iterates values
    item["subject_details"] = json.loads(item["subject_details"])
    item["extra"] = json.loads(item["extra"])
    item["can_delegate"] = bool(item["can_delegate"])
    return item


def status_as_api(code: int, details: list[str]) -> dict:
    status: dict = {"code": code, "description": DESCRIPTIONS.get(code, DESCRIPTIONS[UNKNOWN])}
    if details:
        status["details"] = details
    return status
