"""Authentication operations (`AU` reference numbers) and the sessions they open once successful.

The outcome is decided when the request arrives; GET /auth/{ref} shows 100 until --auth-delay has
passed, then the outcome. A revoked session shows 425 and its refresh token stops working.
"""

from __future__ import annotations

import json

from . import clock, refnum
from .settings import Settings
from .store import Store

IN_PROGRESS = 100
SUCCESS = 200
NO_PERMISSIONS = 415
REVOKED = 425
BAD_TOKEN = 450
BAD_CERTIFICATE = 460
DECEASED = 470
BLOCKED = 480

DESCRIPTIONS = {
    IN_PROGRESS: "Uwierzytelnianie w toku",
    SUCCESS: "Uwierzytelnianie zakończone sukcesem",
    NO_PERMISSIONS: "Uwierzytelnianie zakończone niepowodzeniem",
    REVOKED: "Uwierzytelnienie unieważnione",
    BAD_TOKEN: "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu",
    BAD_CERTIFICATE: "Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu",
    DECEASED: "Uwierzytelnianie zakończone niepowodzeniem",
    BLOCKED: "Uwierzytelnienie zablokowane",
}

# The documented details (AuthenticationOperationStatusResponse.status table).
NO_PERMISSIONS_DETAIL = "Brak przypisanych uprawnień"
REVOKED_DETAIL = "Uwierzytelnienie i powiązane refresh tokeny zostały unieważnione przez użytkownika"
BAD_CHALLENGE = "Nieprawidłowe wyzwanie autoryzacyjne"
INVALID_TOKEN = "Nieprawidłowy token"
INVALID_TOKEN_TIME = "Nieprawidłowy czas tokena"
TOKEN_REVOKED = "Token unieważniony"
TOKEN_INACTIVE = "Token nieaktywny"
UNTRUSTED_CHAIN = "Niezaufany łańcuch certyfikatów"
CERTIFICATE_REVOKED = "Certyfikat odwołany"
INVALID_CERTIFICATE = "Niepoprawny certyfikat"
DECEASED_DETAIL = "Próba wykorzystania metod autoryzacyjnych osoby zmarłej"
BLOCKED_DETAIL = (
    "Podejrzenie incydentu bezpieczeństwa. Skontaktuj się z Ministerstwem Finansów przez formularz zgłoszeniowy."
)

# authenticationMethod -> authenticationMethodInfo (category, code, displayName)
METHOD_INFO = {
    "Token": ("Token", "token.ksef", "Token KSeF"),
    "QualifiedSignature": ("XadesSignature", "xades.qualified-signature", "Podpis kwalifikowany"),
    "QualifiedSeal": ("XadesSignature", "xades.qualified-seal", "Pieczęć kwalifikowana"),
    "InternalCertificate": ("XadesSignature", "xades.internal-certificate", "Certyfikat KSeF"),
    "PersonalSignature": ("XadesSignature", "xades.personal-signature", "Podpis osobisty"),
    "PeppolSignature": ("XadesSignature", "xades.peppol-signature", "Podpis dostawcy usług Peppol"),
    "TrustedProfile": ("Other", "trusted-profile", "Profil Zaufany"),
}
OPERATION_RETENTION = 7 * 86400  # "Operacja jest dostępna przez 7 dni."


class AuthOperations:
    def __init__(self, store: Store, settings: Settings):
        self._store = store
        self._settings = settings

    def create(
        self,
        *,
        method: str,
        context_type: str,
        context_value: str,
        subject_type: str | None,
        subject_value: str | None,
        client_ip: str,
        outcome_code: int,
        outcome_details: list[str],
        permissions: list[str],
        ksef_token_reference: str | None = None,
        authorization_policy: dict | None = None,
    ) -> str:
        reference = refnum.new_reference(refnum.AUTHENTICATION)
        now = clock.now()
        with self._store.transaction() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM auth_operations").fetchone()[0]
            db.execute(
                "INSERT INTO auth_operations (reference_number, start_date, method, context_type, context_value,"
                " subject_type, subject_value, ksef_token_reference, authorization_policy, client_ip, final_at,"
                " outcome_code, outcome_details, permissions, seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    reference,
                    now,
                    method,
                    context_type,
                    context_value,
                    subject_type,
                    subject_value,
                    ksef_token_reference,
                    json.dumps(authorization_policy) if authorization_policy else None,
                    client_ip,
                    now + self._settings.scaled(self._settings.auth_delay),
                    outcome_code,
                    json.dumps(outcome_details),
                    json.dumps(permissions),
                    seq,
                ),
            )
        return reference

    def get(self, reference: str) -> dict | None:
        row = self._store.one("SELECT * FROM auth_operations WHERE reference_number = ?", (reference,))
        return None if row is None else _as_dict(row)

    def in_context(self, context_type: str, context_value: str) -> list[dict]:
        rows = self._store.all(
            "SELECT * FROM auth_operations WHERE context_type = ? AND context_value = ?"
            " ORDER BY start_date DESC, seq DESC",
            (context_type, context_value),
        )
        return [_as_dict(r) for r in rows]

    def mark_redeemed(self, reference: str) -> bool:
        """True when this call redeemed the tokens (exactly once)."""
        return (
            self._store.execute(
                "UPDATE auth_operations SET redeemed = 1, refresh_valid_until = ? WHERE reference_number = ?"
                " AND redeemed = 0",
                (clock.now() + self._settings.refresh_token_ttl, reference),
            )
            > 0
        )

    def mark_refreshed(self, reference: str, permissions: list[str]) -> None:
        self._store.execute(
            "UPDATE auth_operations SET last_refresh_date = ?, permissions = ? WHERE reference_number = ?",
            (clock.now(), json.dumps(permissions), reference),
        )

    def revoke(self, reference: str) -> None:
        self._store.execute("UPDATE auth_operations SET revoked = 1 WHERE reference_number = ?", (reference,))


def _as_dict(row) -> dict:
    op = {k: row[k] for k in row.keys()}  # noqa: SIM118 - a sqlite3.Row iterates values
    op["outcome_details"] = json.loads(op["outcome_details"])
    op["permissions"] = json.loads(op["permissions"])
    op["authorization_policy"] = json.loads(op["authorization_policy"]) if op["authorization_policy"] else None
    return op


def current_status(op: dict) -> tuple[int, list[str]]:
    if clock.now() < op["final_at"]:
        return IN_PROGRESS, []
    if op["revoked"]:
        return REVOKED, [REVOKED_DETAIL]
    return op["outcome_code"], op["outcome_details"]


def status_as_api(code: int, details: list[str]) -> dict:
    status = {"code": code, "description": DESCRIPTIONS.get(code, f"Nieznany błąd ({code})")}
    if details:
        status["details"] = details
    return status


def method_info(method: str) -> dict:
    category, code, name = METHOD_INFO.get(method, ("Other", method.lower(), method))
    return {"category": category, "code": code, "displayName": name}


def operation_as_api(op: dict) -> dict:
    """AuthenticationOperationStatusResponse (and the common part of AuthenticationListItem)."""
    code, details = current_status(op)
    body = {
        "startDate": clock.iso(op["start_date"]),
        "authenticationMethod": op["method"],
        "authenticationMethodInfo": method_info(op["method"]),
        "status": status_as_api(code, details),
    }
    if code in (SUCCESS, REVOKED):
        body["isTokenRedeemed"] = bool(op["redeemed"])
        body["lastTokenRefreshDate"] = clock.iso(op["last_refresh_date"])
        body["refreshTokenValidUntil"] = clock.iso(op["refresh_valid_until"])
    return body
