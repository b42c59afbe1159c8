"""Obtaining access: challenge, KSeF-token and XAdES authentication, status, redeem, refresh."""

from __future__ import annotations

from cryptography import x509
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from .. import auth_operations as ops
from .. import clock, jwts, overrides, refnum, validation
from ..errors import ApiError, Forbidden, gone
from ..ksef_tokens import VALUE_PATTERN
from ..web import json_response, read_json
from ..xades import XadesError, verify_auth_token_request

CHALLENGE_TTL = 600  # "Czas życia challenge'a wynosi 10 minut." (emulated seconds)


def _state(request: Request):
    return request.app.state.emulator


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


async def challenge(request: Request):
    state = _state(request)
    timestamp_ms = int(clock.now() * 1000)
    value = refnum.new_reference(refnum.CHALLENGE)
    state.store.execute(
        "INSERT INTO challenges (challenge, timestamp, timestamp_ms, client_ip) VALUES (?, ?, ?, ?)",
        (value, timestamp_ms / 1000, timestamp_ms, _client_ip(request)),
    )
    return json_response(
        {
            "challenge": value,
            "timestamp": clock.iso(timestamp_ms / 1000),
            "timestampMs": timestamp_ms,
            "clientIp": _client_ip(request),
        },
        request=request,
    )


def _usable_challenge(state, value) -> dict:
    """The challenge if it exists, is unused and has not expired; else 400 21111."""
    if not isinstance(value, str):
        raise ApiError(21405, "Pole 'challenge' jest wymagane.")
    row = state.store.one("SELECT * FROM challenges WHERE challenge = ?", (value,))
    if row is None or row["used"] or clock.now() > row["timestamp"] + state.settings.scaled(CHALLENGE_TTL):
        raise ApiError(21111)
    return dict(row)


def _consume_challenge(state, value: str) -> None:
    if state.store.execute("UPDATE challenges SET used = 1 WHERE challenge = ? AND used = 0", (value,)) != 1:
        raise ApiError(21111)


def _accepted(request: Request, reference: str, warnings: list[str] | None = None):
    state = _state(request)
    issued = state.jwt.operation_token(reference)
    state.secrets.record("authentication_tokens", issued.token)
    return json_response(
        {"referenceNumber": reference, "authenticationToken": issued.as_api()}, 202, warnings=warnings, request=request
    )


async def ksef_token(request: Request):
    state = _state(request)
    body = await read_json(request)
    if body.get("challenge") is None:
        raise ApiError(21405, "Pole 'challenge' jest wymagane.")
    ctx_type, ctx_value = validation.context_identifier(body.get("contextIdentifier"))
    ciphertext = validation.base64_bytes(body.get("encryptedToken"), "encryptedToken")
    public_key_id = body.get("publicKeyId")
    if public_key_id is not None and (not isinstance(public_key_id, str) or len(public_key_id) != 44):
        raise ApiError(21405, "Pole 'publicKeyId' musi mieć 44 znaki.")
    policy = validation.authorization_policy(body.get("authorizationPolicy"))
    row = _usable_challenge(state, body["challenge"])
    key_id = state.keys.resolve(public_key_id, "KsefTokenEncryption")
    _consume_challenge(state, row["challenge"])

    code, details, token = _judge_ksef_token(state, key_id, ciphertext, row, ctx_type, ctx_value, _client_ip(request))
    code, details = _unless_blocked(state, ctx_type, ctx_value, code, details)
    if token is not None:
        state.tokens.touch(token["reference_number"])
    reference = state.operations.create(
        method="Token",
        context_type=ctx_type,
        context_value=ctx_value,
        subject_type=token["author_type"] if token else None,
        subject_value=token["author_value"] if token else None,
        client_ip=_client_ip(request),
        outcome_code=code,
        outcome_details=details,
        permissions=token["permissions"] if token and code == ops.SUCCESS else [],
        ksef_token_reference=token["reference_number"] if token else None,
        authorization_policy=policy,
    )
    return _accepted(request, reference)


def _unless_blocked(state, ctx_type: str, ctx_value: str, code: int, details: list[str]) -> tuple[int, list[str]]:
    """480 for a context /testdata/context/block blocked, whatever the credential."""
    if state.overrides.get(overrides.BLOCKED_CONTEXT, f"{ctx_type}:{ctx_value}"):
        return ops.BLOCKED, [ops.BLOCKED_DETAIL]
    return code, details


def _judge_ksef_token(state, key_id, ciphertext, challenge_row, ctx_type, ctx_value, client_ip):
    """(status code, details, token) for a KSeF-token authentication; decided once, shown after --auth-delay."""
    if challenge_row["client_ip"] != client_ip:
        return ops.BAD_TOKEN, [ops.BAD_CHALLENGE], None
    try:
        plaintext = state.keys.decrypt(key_id, ciphertext).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ops.BAD_TOKEN, [ops.INVALID_TOKEN], None
    value, sep, timestamp = plaintext.rpartition("|")
    if not sep or not timestamp.isdigit() or not VALUE_PATTERN.match(value):
        return ops.BAD_TOKEN, [ops.INVALID_TOKEN], None
    if int(timestamp) != challenge_row["timestamp_ms"]:
        return ops.BAD_TOKEN, [ops.INVALID_TOKEN_TIME], None
    token, _well_formed = state.tokens.match(value)
    if token is None or (token["context_type"], token["context_value"]) != (ctx_type, ctx_value):
        return ops.BAD_TOKEN, [ops.INVALID_TOKEN], None
    if token["status"] in ("Revoking", "Revoked"):
        return ops.BAD_TOKEN, [ops.TOKEN_REVOKED], token
    if token["status"] != "Active":
        return ops.BAD_TOKEN, [ops.TOKEN_INACTIVE], token
    if state.authority.is_deceased(token["author_type"], token["author_value"]):
        return ops.DECEASED, [ops.DECEASED_DETAIL], token
    return ops.SUCCESS, [], token


async def xades_signature(request: Request):
    state = _state(request)
    verify_chain = validation.boolean(request.query_params.get("verifyCertificateChain"), "verifyCertificateChain")
    document = await request.body()
    enforce = "enforce-xades-compliance" in request.headers.get("x-ksef-feature", "").lower()
    try:
        verified = await run_in_threadpool(
            verify_auth_token_request, document, lenient=state.settings.lenient_xades, enforce_compliance=enforce
        )
    except XadesError as exc:
        raise ApiError(exc.code, *(exc.details or []), description=exc.description) from None
    row = _usable_challenge(state, verified.challenge)
    _consume_challenge(state, row["challenge"])
    ctx_type = validation.enum_value(verified.context_type, validation.CONTEXT_TYPES, "ContextIdentifier")
    method, subject_type, subject_value = (
        verified.authentication_method,
        verified.subject_type,
        verified.subject_value,
    )
    certificate_error = None
    internal = state.certificates.internal_login(x509.load_der_x509_certificate(verified.certificate_der))
    if internal is not None:
        # A KSeF certificate stands for the subject it was issued to (certyfikaty-KSeF.md), whatever its DN says.
        method, subject_type, subject_value = "InternalCertificate", internal.subject_type, internal.subject_value
        if internal.status == "Revoked":
            certificate_error = ops.CERTIFICATE_REVOKED
        elif internal.status != "Active" or internal.certificate_type != "Authentication":
            certificate_error = ops.INVALID_CERTIFICATE  # an Offline certificate cannot authenticate
        else:
            state.certificates.touch(internal.serial_number)
    permissions = state.authority.permissions(ctx_type, verified.context_value, subject_type, subject_value)
    if verify_chain and internal is None:
        code, details = ops.BAD_CERTIFICATE, [ops.UNTRUSTED_CHAIN]  # only the emulator's own CA is trusted
    elif certificate_error:
        code, details = ops.BAD_CERTIFICATE, [certificate_error]
    elif state.authority.is_deceased(subject_type, subject_value):
        code, details = ops.DECEASED, [ops.DECEASED_DETAIL]
    elif not permissions:
        code, details = ops.NO_PERMISSIONS, [ops.NO_PERMISSIONS_DETAIL]
    else:
        code, details = ops.SUCCESS, []
    code, details = _unless_blocked(state, ctx_type, verified.context_value, code, details)
    reference = state.operations.create(
        method=method,
        context_type=ctx_type,
        context_value=verified.context_value,
        subject_type=subject_type,
        subject_value=subject_value,
        client_ip=_client_ip(request),
        outcome_code=code,
        outcome_details=details,
        permissions=permissions if code == ops.SUCCESS else [],
        authorization_policy=verified.authorization_policy,
    )
    state.certificates.remember_login(reference, verified.certificate_der)
    return _accepted(request, reference, warnings=list(verified.warnings or []))


def _operation_from_token(request: Request) -> tuple[dict, dict]:
    state = _state(request)
    claims = state.jwt.decode(jwts.bearer(request.headers), jwts.OPERATION)
    reference = claims.get("operation-reference-number", "")
    op = state.operations.get(reference)
    if op is None:
        raise ApiError(21304, f"Operacja uwierzytelniania o numerze referencyjnym {reference} nie została znaleziona.")
    return claims, op


async def status(request: Request):
    state = _state(request)
    claims = state.jwt.decode(jwts.bearer(request.headers), jwts.OPERATION)
    reference = request.path_params["referenceNumber"]
    op = state.operations.get(reference)
    if op is None:
        raise ApiError(21304, f"Operacja uwierzytelniania o numerze referencyjnym {reference} nie została znaleziona.")
    if claims.get("operation-reference-number") != reference:
        raise Forbidden("insufficient-resource-access")
    if clock.now() > op["start_date"] + ops.OPERATION_RETENTION:
        return gone(request.url.path)
    return json_response(ops.operation_as_api(op), request=request)


def _ksef_token_revoked(state, op: dict) -> bool:
    if not op["ksef_token_reference"]:
        return False
    token = state.tokens.get(op["ksef_token_reference"])
    return token is None or token["status"] in ("Revoking", "Revoked")


async def redeem(request: Request):
    state = _state(request)
    _claims, op = _operation_from_token(request)
    reference = op["reference_number"]
    if op["redeemed"]:
        raise ApiError(21301, f"Tokeny dla operacji uwierzytelniania {reference} zostały już pobrane.")
    code, _details = ops.current_status(op)
    if code != ops.SUCCESS:
        raise ApiError(21301, f"Status uwierzytelniania ({code}) nie pozwala na pobranie tokenów.")
    if _ksef_token_revoked(state, op):
        raise ApiError(21301, "Token KSeF został unieważniony.")
    if not state.operations.mark_redeemed(reference):
        raise ApiError(21301, f"Tokeny dla operacji uwierzytelniania {reference} zostały już pobrane.")
    access = state.jwt.session_token(jwts.ACCESS, op, state.settings.access_token_ttl)
    refresh = state.jwt.session_token(jwts.REFRESH, op, state.settings.refresh_token_ttl)
    state.secrets.record("access_tokens", access.token)
    state.secrets.record("refresh_tokens", refresh.token)
    return json_response({"accessToken": access.as_api(), "refreshToken": refresh.as_api()}, request=request)


async def refresh(request: Request):
    state = _state(request)
    claims = state.jwt.decode(jwts.bearer(request.headers), jwts.REFRESH)
    reference = claims.get("session-reference-number", "")
    op = state.operations.get(reference)
    if op is None:
        raise ApiError(21304, f"Operacja uwierzytelniania o numerze referencyjnym {reference} nie została znaleziona.")
    code, _details = ops.current_status(op)
    if code != ops.SUCCESS:
        raise ApiError(21301, f"Status uwierzytelniania ({code}) nie pozwala na odświeżenie tokenu dostępowego.")
    if _ksef_token_revoked(state, op):
        raise ApiError(21301, "Token KSeF został unieważniony.")
    if op["ksef_token_reference"]:
        permissions = state.tokens.get(op["ksef_token_reference"])["permissions"]
    else:  # a signature session gets the subject's current permissions
        permissions = state.authority.permissions(
            op["context_type"], op["context_value"], op["subject_type"], op["subject_value"]
        )
        if not permissions:  # "Tokeny są automatycznie unieważniane w przypadku utraty uprawnień."
            raise ApiError(21301, "Brak przypisanych uprawnień.")
    state.operations.mark_refreshed(reference, permissions)
    access = state.jwt.session_token(jwts.ACCESS, {**op, "permissions": permissions}, state.settings.access_token_ttl)
    state.secrets.record("access_tokens", access.token)
    return json_response({"accessToken": access.as_api()}, request=request)


routes = [
    Route("/auth/challenge", challenge, methods=["POST"]),
    Route("/auth/ksef-token", ksef_token, methods=["POST"]),
    Route("/auth/xades-signature", xades_signature, methods=["POST"]),
    Route("/auth/token/redeem", redeem, methods=["POST"]),
    Route("/auth/token/refresh", refresh, methods=["POST"]),
]
# GET /auth/{referenceNumber} must come after /auth/sessions (see app.py)
status_route = Route("/auth/{referenceNumber}", status, methods=["GET"])
