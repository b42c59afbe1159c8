"""The test-only control API under /_emulator/ (never part of KSeF; documented in docs/emulator.md)."""

from __future__ import annotations

import hmac
import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import overrides, validation
from .. import permissions as perms
from ..authority import ALL_PERMISSIONS
from ..errors import ApiError
from ..faults import FaultConfig
from ..ksef_tokens import CONTEXT_WORDS, STATUSES, token_as_api

RATE_LIMIT_PROFILES = ("off", "te", "prd")
AUTHOR_TYPES = ("Nip", "Pesel", "Fingerprint")


class AdminError(Exception):
    def __init__(self, message: str, status: int = 400):
        self.message = message
        self.status = status


def admin_error_response(request: Request, exc: AdminError) -> Response:
    return JSONResponse({"error": exc.message}, status_code=exc.status)


ADMIN_TOKEN_HEADER = "x-emulator-admin-token"


def token_guard(expected: str):
    """Wrap a control-API endpoint so it answers 401 without the admin token (a remote bind needs one: the control
    API mints CredentialsManage tokens and, with --expose-secrets, serves every secret)."""

    def wrap(endpoint):
        async def guarded(request: Request):
            given = request.headers.get(ADMIN_TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return JSONResponse({"error": f"the control API needs the {ADMIN_TOKEN_HEADER} header"}, 401)
            return await endpoint(request)

        return guarded

    return wrap


def _state(request: Request):
    return request.app.state.emulator


async def _body(request: Request) -> dict:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        raise AdminError("body is not JSON") from None
    if not isinstance(body, dict):
        raise AdminError("body must be a JSON object")
    return body


def _identifier(value, field: str, allowed: tuple[str, ...]) -> tuple[str, str]:
    """`Type:value` -> (Type, value)."""
    if not isinstance(value, str) or ":" not in value:
        raise AdminError(f"{field} must look like 'Type:value'")
    kind, _separator, ident = value.partition(":")
    for option in allowed:
        if option.lower() == kind.lower():
            return option, ident
    raise AdminError(f"{field} type must be one of {', '.join(allowed)}")


async def health(request: Request):
    return JSONResponse({"status": "ok"})


async def stats(request: Request):
    return JSONResponse(_state(request).stats.snapshot())


async def stats_reset(request: Request):
    _state(request).stats.reset()
    return JSONResponse(_state(request).stats.snapshot())


async def faults(request: Request):
    state = _state(request)
    if request.method == "PUT":
        try:
            state.faults.configure(FaultConfig.from_json(await _body(request)))
        except (TypeError, ValueError) as exc:
            raise AdminError(str(exc)) from None
    elif request.method == "DELETE":
        state.faults.clear()
    return JSONResponse(state.faults.snapshot())


async def activation(request: Request):
    body = await _body(request)
    fail_next = body.get("fail_next")
    if not isinstance(fail_next, int) or isinstance(fail_next, bool) or fail_next < 0:
        raise AdminError("fail_next must be a non-negative integer")
    _state(request).tokens.fail_next = fail_next
    return JSONResponse({"fail_next": fail_next})


async def fail_token(request: Request):
    ref = request.path_params["referenceNumber"]
    state = _state(request)
    if state.tokens.get(ref) is None:
        raise AdminError("no such token", 404)
    if not state.tokens.fail(ref):
        raise AdminError("only a Pending token can fail", 409)
    return JSONResponse(token_as_api(state.tokens.get(ref)))


async def backdate_token(request: Request):
    body = await _body(request)
    seconds = body.get("seconds")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        raise AdminError("seconds must be a number")
    state = _state(request)
    ref = request.path_params["referenceNumber"]
    if not state.tokens.backdate(ref, float(seconds)):
        raise AdminError("no such token", 404)
    return JSONResponse(token_as_api(state.tokens.get(ref)))


async def age_certificate(request: Request):
    """Move a certificate through time: `seconds` back for its request date (grace periods), `expires_in` seconds
    from now for its end of validity (renew_before)."""
    body = await _body(request)
    registry = _state(request).certificates
    serial = request.path_params["serialNumber"]
    if registry.get(serial) is None:
        raise AdminError("no such certificate", 404)
    for name in ("seconds", "expires_in"):
        value = body.get(name)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise AdminError(f"{name} must be a number")
    registry.age(serial, body.get("seconds") or 0, body.get("expires_in"))
    cert = registry.get(serial)
    return JSONResponse(registry.as_list_item(cert) if cert else {})


async def list_tokens(request: Request):
    context = request.query_params.get("context")
    ctx_type = ctx_value = None
    if context:
        ctx_type, ctx_value = _identifier(context, "context", validation.CONTEXT_TYPES)
    return JSONResponse({"tokens": [token_as_api(t) for t in _state(request).tokens.in_context(ctx_type, ctx_value)]})


async def seed_token(request: Request):
    """A token created directly (no authentication needed); the value is returned once."""
    state = _state(request)
    body = await _body(request)
    ctx_type, ctx_value = _identifier(body.get("context"), "context", tuple(CONTEXT_WORDS))
    try:
        validation.context_identifier({"type": ctx_type, "value": ctx_value}, "context")
        permissions = body.get("permissions")
        if not isinstance(permissions, list) or not permissions:
            raise AdminError("permissions must be a non-empty list")
        permissions = [validation.enum_value(p, ALL_PERMISSIONS, "permissions") for p in permissions]
        description = validation.text(
            {"description": body.get("description", "Token utworzony w emulatorze")},
            "description",
            min_len=5,
            max_len=256,
        )
        status = validation.enum_value(body.get("status", "Active"), STATUSES, "status")
    except ApiError as exc:
        raise AdminError("; ".join(exc.details) or exc.description) from None
    default_author = f"Nip:{ctx_value.split('-', 1)[0]}"
    author_type, author_value = _identifier(body.get("author", default_author), "author", AUTHOR_TYPES)
    reference, value = state.tokens.create(
        ctx_type, ctx_value, author_type, author_value, description, permissions, status=status
    )
    if status == "Revoking":
        state.tokens.revoke(reference)
    state.secrets.record("ksef_tokens", value)
    return JSONResponse({"referenceNumber": reference, "token": value}, status_code=201)


def _outcome_code(value) -> int:
    allowed = (perms.SUCCESS, *perms.FAILURE_CODES)
    if not isinstance(value, int) or isinstance(value, bool) or value not in allowed:
        raise AdminError(f"code must be one of {', '.join(map(str, allowed))}")
    return value


async def permission_outcomes(request: Request):
    """`{"next": [440, 200, ...]}`: the next permission operations end with these codes, in order."""
    grants = _state(request).grants
    if request.method == "PUT":
        body = await _body(request)
        codes = body.get("next")
        if not isinstance(codes, list):
            raise AdminError("next must be a list of status codes")
        grants.next_outcomes = [_outcome_code(c) for c in codes]
    return JSONResponse({"next": grants.next_outcomes})


def _permission_operation(request: Request) -> tuple[object, str]:
    grants = _state(request).grants
    reference = request.path_params["referenceNumber"]
    if grants.operation(reference) is None:
        raise AdminError("no such permission operation", 404)
    return grants, reference


def _operation_view(grants, reference: str) -> JSONResponse:
    op = grants.operation(reference)
    code, details = grants.status(op)
    return JSONResponse({"referenceNumber": reference, "status": perms.status_as_api(code, details)})


async def hold_permission_operation(request: Request):
    """The operation answers 100 until finished (whatever --permission-delay says)."""
    grants, reference = _permission_operation(request)
    if not grants.hold(reference):  # type: ignore[attr-defined]
        raise AdminError("the operation has already ended", 409)
    return _operation_view(grants, reference)


async def finish_permission_operation(request: Request):
    """`{"code": 200|400|410|420|430|440|450|550}`: the operation ends now with this code (200 applies it)."""
    grants, reference = _permission_operation(request)
    code = _outcome_code((await _body(request)).get("code"))
    if not grants.finish(reference, code):  # type: ignore[attr-defined]
        raise AdminError("the operation has already ended", 409)
    return _operation_view(grants, reference)


async def backdate_permission_operation(request: Request):
    """`{"seconds": N}`: the operation started N seconds earlier (its status answers 410 after 30 days)."""
    grants, reference = _permission_operation(request)
    seconds = (await _body(request)).get("seconds")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        raise AdminError("seconds must be a number")
    grants.backdate(reference, float(seconds))  # type: ignore[attr-defined]
    return _operation_view(grants, reference)


RECORDED_KINDS = {"person": "Nip", "entity": "Nip", "indirect": "Nip"}


async def record_permission(request: Request):
    """A grant in force at once, as made elsewhere (the web app, ZAW-FA as `System`, another administrator).

    Body: kind (person, entity or indirect), context `Nip:...`, subject `Pesel:...`, permissions, author (`System`
    or `Type:value`, default System), description, can_delegate (entity), target (indirect: `Nip:...` or
    `AllPartners`), subject_details (stored and listed as given).
    """
    body = await _body(request)
    kind = body.get("kind", "person")
    if kind not in RECORDED_KINDS:
        raise AdminError(f"kind must be one of {', '.join(RECORDED_KINDS)}")
    ctx_type, ctx_value = _identifier(body.get("context"), "context", ("Nip", "InternalId"))
    subject_type, subject_value = _identifier(body.get("subject"), "subject", AUTHOR_TYPES)
    if subject_type == "Fingerprint":
        subject_value = subject_value.upper()
    if _state(request).authority.is_owner(ctx_type, ctx_value, subject_type, subject_value):
        raise AdminError(
            "the subject is the Owner of the context: the Owner holds every right and is never granted one"
        )
    author = body.get("author", "System")
    author_type, author_value = ("System", None) if author == "System" else _identifier(author, "author", AUTHOR_TYPES)
    scopes = body.get("permissions")
    # PersonPermissionType (VatUeManage comes only with an EU administrator grant)
    person_scopes = ALL_PERMISSIONS
    allowed = person_scopes if kind == "person" else ("InvoiceRead", "InvoiceWrite")
    if not isinstance(scopes, list) or not scopes or any(p not in allowed for p in scopes):
        raise AdminError(f"permissions must be a non-empty list of {', '.join(allowed)}")
    description = body.get("description", "Uprawnienie nadane poza API")
    if not isinstance(description, str) or not 5 <= len(description) <= 256:
        raise AdminError("description must have 5 to 256 characters")
    target_type = target_value = None
    if kind == "indirect":
        target = body.get("target", "AllPartners")
        if target == "AllPartners":
            target_type = "AllPartners"
        else:
            target_type, target_value = _identifier(target, "target", ("Nip", "InternalId"))
    details = body.get("subject_details") or {}
    if not isinstance(details, dict):
        raise AdminError("subject_details must be an object")
    rows = [
        {
            "kind": kind,
            "scope": scope,
            "context_type": ctx_type,
            "context_value": ctx_value,
            "granter_type": ctx_type,
            "granter_value": ctx_value,
            "subject_type": subject_type,
            "subject_value": subject_value,
            "target_type": target_type,
            "target_value": target_value,
            "can_delegate": bool(body.get("can_delegate")) and kind == "entity",
            "author_type": author_type,
            "author_value": author_value,
            "description": description,
            "subject_details": details,
        }
        for scope in scopes
    ]
    return JSONResponse({"ids": _state(request).grants.record(rows)}, status_code=201)


async def rotate_keys(request: Request):
    body = await _body(request)
    mode = body.get("mode", "planned")
    if mode not in ("planned", "emergency"):
        raise AdminError("mode must be 'planned' or 'emergency'")
    created = _state(request).keys.rotate(mode)
    return JSONResponse(
        {
            "mode": mode,
            "published": [k.as_api() for k in _state(request).keys.published()],
            "created": [k.public_key_id for k in created],
        }
    )


async def config(request: Request):
    state = _state(request)
    if request.method == "PUT":
        body = await _body(request)
        unknown = set(body) - {
            "rate_limits",
            "time_scale",
            "activation_delay",
            "access_token_ttl",
            "auth_delay",
            "refresh_token_ttl",
            "enrollment_delay",
            "permission_delay",
            "certificate_validity",
        }
        if unknown:
            raise AdminError(f"unknown settings: {', '.join(sorted(unknown))}")
        if "rate_limits" in body:
            if body["rate_limits"] not in RATE_LIMIT_PROFILES:
                raise AdminError("rate_limits must be off, te or prd")
            state.apply_rate_limits(body["rate_limits"])
        for name in (
            "time_scale",
            "activation_delay",
            "access_token_ttl",
            "auth_delay",
            "refresh_token_ttl",
            "enrollment_delay",
            "permission_delay",
            "certificate_validity",
        ):
            if name in body:
                value = body[name]
                if (
                    not isinstance(value, (int, float))
                    or isinstance(value, bool)
                    or value < 0
                    or (name == "time_scale" and value <= 0)
                ):
                    raise AdminError(f"{name} must be a positive number")
                if name == "time_scale":
                    state.apply_time_scale(float(value))
                else:
                    setattr(state.settings, name, float(value))
    s = state.settings
    return JSONResponse(
        {
            "rate_limits": s.rate_limits,
            "time_scale": s.time_scale,
            "activation_delay": s.activation_delay,
            "auth_delay": s.auth_delay,
            "access_token_ttl": s.access_token_ttl,
            "refresh_token_ttl": s.refresh_token_ttl,
            "enrollment_delay": s.enrollment_delay,
            "permission_delay": s.permission_delay,
            "certificate_validity": s.certificate_validity,
        }
    )


async def reset_rate_limits(request: Request):
    """Forget every counter and block, and every limit set through /testdata/rate-limits: the way out when a limit
    of 0 on the group of /testdata/rate-limits itself refuses the request that would lift it."""
    state = _state(request)
    limiter = state.limiter
    if limiter is not None and hasattr(limiter, "reset"):
        limiter.reset()
    state.overrides.delete_all(overrides.RATE_LIMITS)
    return JSONResponse({"status": "ok"})


async def list_certificates(request: Request):
    """Every KSeF certificate the emulator issued, with its subject and status (no key material)."""
    registry = _state(request).certificates
    rows = _state(request).store.all("SELECT subject_type, subject_value FROM ksef_certificates GROUP BY 1, 2")
    items = [
        registry.as_list_item(c) for row in rows for c in registry.of_subject(row["subject_type"], row["subject_value"])
    ]
    return JSONResponse({"certificates": items})


async def secrets(request: Request):
    state = _state(request)
    if not state.settings.expose_secrets:
        return JSONResponse({"error": "start the emulator with --expose-secrets"}, status_code=404)
    return JSONResponse(state.secrets.snapshot())


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/stats", stats, methods=["GET"]),
    Route("/stats/reset", stats_reset, methods=["POST"]),
    Route("/faults", faults, methods=["GET", "PUT", "DELETE"]),
    Route("/activation", activation, methods=["PUT"]),
    Route("/tokens", list_tokens, methods=["GET"]),
    Route("/tokens", seed_token, methods=["POST"]),
    Route("/tokens/{referenceNumber}/fail", fail_token, methods=["POST"]),
    Route("/tokens/{referenceNumber}/backdate", backdate_token, methods=["POST"]),
    Route("/certificates", list_certificates, methods=["GET"]),
    Route("/certificates/{serialNumber}/age", age_certificate, methods=["POST"]),
    Route("/permissions/grants", record_permission, methods=["POST"]),
    Route("/permissions/outcomes", permission_outcomes, methods=["GET", "PUT"]),
    Route("/permissions/operations/{referenceNumber}/hold", hold_permission_operation, methods=["POST"]),
    Route("/permissions/operations/{referenceNumber}/finish", finish_permission_operation, methods=["POST"]),
    Route("/permissions/operations/{referenceNumber}/backdate", backdate_permission_operation, methods=["POST"]),
    Route("/keys/rotate", rotate_keys, methods=["POST"]),
    Route("/config", config, methods=["GET", "PUT"]),
    Route("/rate-limits/reset", reset_rate_limits, methods=["POST"]),
    Route("/secrets", secrets, methods=["GET"]),
]
