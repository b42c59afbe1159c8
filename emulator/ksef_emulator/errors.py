"""The API's error answers in both documented shapes.

400 (and 500): ExceptionResponse by default, BadRequestProblemDetails-style `application/problem+json`
when the request says `X-Error-Format: problem-details`. 401, 403 and 410 are always problem+json.
"""

from __future__ import annotations

import json
import secrets
import uuid

from starlette.requests import Request
from starlette.responses import Response

from . import clock

DESCRIPTIONS = {
    9101: "Nieprawidłowy dokument.",
    9102: "Brak podpisu.",
    9103: "Przekroczona liczba dozwolonych podpisów.",
    9105: "Nieprawidłowy podpis.",
    21001: "Nieczytelna treść.",
    21111: "Nieprawidłowe wyzwanie autoryzacyjne.",
    21115: "Nieprawidłowy certyfikat.",
    21117: "Nieprawidłowy identyfikator podmiotu dla wskazanego typu kontekstu.",
    21217: "Nieprawidłowe kodowanie znaków.",
    21301: "Brak autoryzacji.",
    21304: "Brak uwierzytelnienia.",
    21308: "Próba wykorzystania metod autoryzacyjnych osoby zmarłej.",
    21401: "Dokument nie jest zgodny ze schemą (xsd).",
    21405: "Błąd walidacji danych wejściowych.",
    21406: "Konflikt podpisu i typu uwierzytelnienia.",
    21418: "Przekazany token kontynuacji ma nieprawidłowy format.",
    21470: "Przesłany identyfikator klucza jest nieznany lub wskazuje na wycofany klucz.",
    25001: "Brak możliwości pobrania danych do CSR dla wykorzystanego sposobu uwierzytelnienia.",
    25002: "Brak możliwości złożenia wniosku certyfikacyjnego dla wykorzystanego sposobu uwierzytelnienia.",
    25003: "Dane w CSR nie zgadzają się z danymi w użytym wektorze uwierzytelniającym.",
    25004: "Niepoprawny format CSR lub niepoprawny podpis CSR.",
    25005: "Wniosek certyfikacyjny o podanym numerze referencyjnym nie istnieje.",
    25006: "Osiągnięto limit możliwych do złożenia wniosków certyfikacyjnych.",
    25007: "Osiągnięto limit dopuszczalnej liczby posiadanych certyfikatów.",
    25008: "Certyfikat o podanym numerze seryjnym nie istnieje.",
    25009: "Nie można odwołać wskazanego certyfikatu, ponieważ jest już odwołany, zablokowany lub nieważny.",
    25010: "Nieprawidłowy typ lub długość klucza.",
    25011: "Nieprawidłowy algorytm podpisu CSR.",
    26001: "Nie można nadać tokenowi uprawnień których nie posiadasz.",
    26002: "Nie można wygenerować tokena dla obecnego typu kontekstu.",
    30001: "Podmiot lub uprawnienie już istnieje.",
}

# ForbiddenProblemDetails.reasonCode -> the contract's description of it.
FORBIDDEN_REASONS = {
    "missing-permissions": "Brak wymaganych uprawnień do wykonania operacji w bieżącym kontekście.",
    "ip-not-allowed": "Żądanie pochodzi z adresu IP innego niż wskazany podczas uwierzytelnienia.",
    "insufficient-resource-access": "Brak dostępu do wskazanego zasobu.",
    "auth-method-not-allowed": "Ta operacja nie jest dostępna dla użytej metody uwierzytelnienia.",
    "context-type-not-allowed": "Operacja nie jest dostępna dla uwierzytelnionego typu kontekstu.",
}


class ApiError(Exception):
    """A documented 400: one exception code with its description and optional details."""

    def __init__(self, code: int, *details: str, description: str | None = None):
        self.code = code
        self.description = description or DESCRIPTIONS.get(code, "Błąd.")
        self.details = [d for d in details if d]
        super().__init__(f"{code} {self.description}")


class Unauthorized(Exception):
    def __init__(self, detail: str = "Wymagane jest uwierzytelnienie."):
        self.detail = detail
        super().__init__(detail)


class Forbidden(Exception):
    def __init__(self, reason_code: str, security: dict | None = None, detail: str | None = None):
        self.reason_code = reason_code
        self.security = security
        self.detail = detail or FORBIDDEN_REASONS[reason_code]
        super().__init__(self.detail)


def wants_problem_details(request_headers) -> bool:
    return request_headers.get("x-error-format", "").strip().lower() == "problem-details"


def trace_id() -> str:
    return secrets.token_hex(16)


def _json(body: dict, status: int, media_type: str, headers: dict | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, media_type=media_type, headers=headers)


def bad_request(request: Request, error: ApiError) -> Response:
    now = clock.now()
    if wants_problem_details(request.headers):
        return _json(
            {
                "title": "Bad Request",
                "status": 400,
                "instance": request.url.path,
                "detail": "Żądanie jest nieprawidłowe.",
                "errors": [{"code": error.code, "description": error.description, "details": error.details}],
                "timestamp": clock.iso(now),
                "traceId": trace_id(),
            },
            400,
            "application/problem+json",
        )
    return _json(exception_response([(error.code, error.description, error.details)], now), 400, "application/json")


def exception_response(entries: list[tuple[int, str, list[str]]], now: float) -> dict:
    tid = trace_id()
    return {
        "exception": {
            "exceptionDetailList": [
                {"exceptionCode": code, "exceptionDescription": desc, "details": details or None}
                for code, desc, details in entries
            ],
            "referenceNumber": str(uuid.uuid4()),
            "serviceCode": f"00-{tid}-{secrets.token_hex(8)}-00",
            "serviceCtx": "srvEMULA",
            "serviceName": "ksef-api-emulator",
            "timestamp": clock.iso_local(now),
        }
    }


def unauthorized(path: str, error: Unauthorized) -> Response:
    return _json(
        {
            "title": "Unauthorized",
            "status": 401,
            "detail": error.detail,
            "instance": path,
            "traceId": trace_id(),
            "timestamp": clock.iso(clock.now()),
        },
        401,
        "application/problem+json",
        headers={"WWW-Authenticate": "Bearer"},
    )


def forbidden(path: str, error: Forbidden) -> Response:
    body = {
        "title": "Forbidden",
        "status": 403,
        "detail": error.detail,
        "instance": path,
        "reasonCode": error.reason_code,
        "traceId": trace_id(),
        "timestamp": clock.iso(clock.now()),
    }
    if error.security is not None:
        body["security"] = error.security
    return _json(body, 403, "application/problem+json")


def gone(path: str) -> Response:
    return _json(
        {
            "title": "Gone",
            "status": 410,
            "instance": path,
            "detail": "Operacja wygasła i nie jest już dostępna.",
            "timestamp": clock.iso(clock.now()),
            "traceId": trace_id(),
        },
        410,
        "application/problem+json",
    )


def internal_error(path: str, problem_details: bool) -> Response:
    """An unexpected server failure (also what fault injection answers)."""
    now = clock.now()
    if problem_details:
        return _json(
            {
                "title": "Internal Server Error",
                "status": 500,
                "instance": path,
                "detail": "Wystąpił nieoczekiwany błąd serwera.",
                "timestamp": clock.iso(now),
                "traceId": trace_id(),
            },
            500,
            "application/problem+json",
        )
    return _json(exception_response([(500, "Wystąpił nieoczekiwany błąd serwera.", [])], now), 500, "application/json")
