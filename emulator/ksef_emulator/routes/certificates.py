"""KSeF certificates of the authenticated subject: limits, enrollment data, enroll, status, retrieve, query, revoke."""

from __future__ import annotations

import base64
import re

from cryptography import x509
from starlette.requests import Request
from starlette.routing import Route

from .. import clock, validation
from ..caller import Caller, access_caller
from ..certificates import REVOCATION_REASONS, STATUSES, TYPES, CertificateRegistry, check_csr, enrollment_data
from ..errors import ApiError, Forbidden
from ..refnum import is_reference
from ..web import empty_response, json_response, read_json

SERIAL = re.compile(r"^[0-9A-F]{16}$")
# EnrollCertificateRequest.certificateName
CERTIFICATE_NAME = re.compile(r"^[a-zA-Z0-9_\- ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]+$")


def _registry(request: Request) -> CertificateRegistry:
    return request.app.state.emulator.certificates


def _login_certificate(request: Request, caller: Caller, code: int) -> x509.Certificate:
    """The certificate the caller signed in with; `code` (25001/25002) for a KSeF-token login."""
    certificate = None if caller.method == "Token" else _registry(request).login_certificate(caller.session_reference)
    if certificate is None:
        raise ApiError(code)
    return certificate


def owned(request: Request, caller: Caller, serial: str) -> dict | None:
    """The certificate if it belongs to the caller's subject (or its NIP-PESEL twin)."""
    state = request.app.state.emulator
    cert = _registry(request).get(serial)
    if cert is None:
        return None
    owners = state.authority.linked_identifiers(caller.subject_type, caller.subject_value)
    return cert if (cert["subject_type"], cert["subject_value"]) in owners else None


def serial_number(value, field: str) -> str:
    if not isinstance(value, str) or not SERIAL.match(value):
        raise ApiError(21405, f"Pole '{field}' musi mieć 16 znaków szesnastkowych (0-9, A-F).")
    return value


async def limits(request: Request):
    caller = access_caller(request)
    return json_response(_registry(request).limits(caller.subject_type, caller.subject_value), request=request)


async def data(request: Request):
    caller = access_caller(request)
    return json_response(enrollment_data(_login_certificate(request, caller, 25001)), request=request)


async def enroll(request: Request):
    caller = access_caller(request)
    body = await read_json(request)
    name = validation.text(body, "certificateName", min_len=5, max_len=100) or ""
    validation.matches(name, CERTIFICATE_NAME, "certificateName")
    certificate_type = validation.enum_value(body.get("certificateType"), TYPES, "certificateType")
    csr_der = validation.base64_bytes(body.get("csr"), "csr")
    valid_from = validation.date_time(body.get("validFrom"), "validFrom")
    login = _login_certificate(request, caller, 25002)
    csr = check_csr(csr_der, login)
    reference, requested = _registry(request).enroll(
        caller.subject_type, caller.subject_value, csr, name, certificate_type, valid_from
    )
    return json_response({"referenceNumber": reference, "timestamp": clock.iso(requested)}, 202, request=request)


async def enrollment_status(request: Request):
    caller = access_caller(request)
    reference = request.path_params["referenceNumber"]
    if not is_reference(reference):
        raise ApiError(21405, "Parametr 'referenceNumber' ma nieprawidłowy format.")
    registry = _registry(request)
    enrollment = registry.enrollment(reference)
    state = request.app.state.emulator
    owners = state.authority.linked_identifiers(caller.subject_type, caller.subject_value)
    if enrollment is None or (enrollment["subject_type"], enrollment["subject_value"]) not in owners:
        raise ApiError(25005)
    return json_response(registry.enrollment_as_api(enrollment), request=request)


async def retrieve(request: Request):
    caller = access_caller(request)
    body = await read_json(request)
    serials = body.get("certificateSerialNumbers")
    if not isinstance(serials, list) or not 1 <= len(serials) <= 10:
        raise ApiError(21405, "Pole 'certificateSerialNumbers' musi zawierać od 1 do 10 numerów seryjnych.")
    found = []
    for serial in serials:
        cert = owned(request, caller, serial_number(serial, "certificateSerialNumbers"))
        if cert is not None:
            found.append(
                {
                    "certificate": base64.b64encode(cert["certificate_der"]).decode(),
                    "certificateName": cert["name"],
                    "certificateSerialNumber": cert["serial_number"],
                    "certificateType": cert["type"],
                }
            )
    return json_response({"certificates": found}, request=request)


async def query(request: Request):
    caller = access_caller(request)
    params = request.query_params
    size = validation.page_size(params.get("pageSize"), maximum=50)
    offset = validation.query_integer(params.get("pageOffset"), "pageOffset", default=0, minimum=0)
    body = await read_json(request) if await request.body() else {}
    serial = body.get("certificateSerialNumber")
    if serial is not None:
        serial_number(serial, "certificateSerialNumber")
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise ApiError(21405, "Pole 'name' musi być tekstem.")
    kind = body.get("type")
    if kind is not None:
        kind = validation.enum_value(kind, TYPES, "type")
    status = body.get("status")
    if status is not None:
        status = validation.enum_value(status, STATUSES, "status")
    expires_after = validation.date_time(body.get("expiresAfter"), "expiresAfter")

    state = request.app.state.emulator
    selected = []
    for subject_type, subject_value in sorted(
        state.authority.linked_identifiers(caller.subject_type, caller.subject_value)
    ):
        for cert in _registry(request).of_subject(subject_type, subject_value):
            if serial is not None and cert["serial_number"] != serial:
                continue
            if name is not None and name.lower() not in cert["name"].lower():
                continue
            if kind is not None and cert["type"] != kind:
                continue
            if status is not None and cert["status"] != status:
                continue
            if expires_after is not None and cert["valid_to"] <= expires_after:
                continue
            selected.append(cert)
    selected.sort(key=lambda c: (c["request_date"], c["seq"]), reverse=True)
    chunk = selected[offset * size : (offset + 1) * size]
    return json_response(
        {
            "certificates": [CertificateRegistry.as_list_item(c) for c in chunk],
            "hasMore": len(selected) > (offset + 1) * size,
        },
        request=request,
    )


async def revoke(request: Request):
    caller = access_caller(request)
    if caller.method == "Token":
        raise Forbidden("auth-method-not-allowed", {"authenticationMethodCategory": "Token"})
    serial = serial_number(request.path_params["certificateSerialNumber"], "certificateSerialNumber")
    body = await read_json(request) if await request.body() else {}
    reason = body.get("revocationReason")
    reason = "Unspecified" if reason is None else validation.enum_value(reason, REVOCATION_REASONS, "revocationReason")
    cert = owned(request, caller, serial)
    if cert is None:
        raise ApiError(25008)
    if cert["status"] != "Active":
        raise ApiError(25009)
    _registry(request).revoke(serial, reason)
    return empty_response(request=request)


routes = [
    Route("/certificates/limits", limits, methods=["GET"]),
    Route("/certificates/enrollments/data", data, methods=["GET"]),
    Route("/certificates/enrollments", enroll, methods=["POST"]),
    Route("/certificates/enrollments/{referenceNumber}", enrollment_status, methods=["GET"]),
    Route("/certificates/retrieve", retrieve, methods=["POST"]),
    Route("/certificates/query", query, methods=["POST"]),
    Route("/certificates/{certificateSerialNumber}/revoke", revoke, methods=["POST"]),
]
