"""`python -m ksef_emulator --host 127.0.0.1 --port 8080 --state-dir DIR [options]` (see docs/emulator.md)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn

from .app import build_app
from .cli_numbers import decimal, whole
from .settings import Settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="ksef_emulator", description="Local KSeF 2.0 API emulator (token management).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=whole, default=8080)
    p.add_argument("--state-dir", type=Path, required=True, help="SQLite state lives here and survives restarts")
    p.add_argument("--rate-limits", choices=("off", "te", "prd"), default="te")
    p.add_argument("--time-scale", type=decimal, default=1.0, help="a minute lasts 60/F seconds")
    p.add_argument("--activation-delay", type=decimal, default=1.0, help="seconds from Pending to Active")
    p.add_argument("--auth-delay", type=decimal, default=0.2, help="seconds GET /auth/{ref} answers 100")
    p.add_argument(
        "--enrollment-delay", type=decimal, default=0.2, help="seconds GET /certificates/enrollments/{ref} answers 100"
    )
    p.add_argument(
        "--permission-delay", type=decimal, default=0.2, help="seconds GET /permissions/operations/{ref} answers 100"
    )
    p.add_argument(
        "--certificate-validity", type=decimal, default=2 * 365 * 86400.0, help="seconds a KSeF certificate is valid"
    )
    p.add_argument("--access-token-ttl", type=decimal, default=900.0)
    p.add_argument("--refresh-token-ttl", type=decimal, default=604800.0)
    p.add_argument(
        "--lenient-xades",
        action="store_true",
        help="accept XAdES signatures the verifier would refuse for profile details",
    )
    p.add_argument("--rotate-keys", action="store_true", help="emergency key rotation at start")
    p.add_argument("--expose-secrets", action="store_true", help="enable GET /_emulator/secrets (memory only)")
    p.add_argument("--capture", type=Path, help="append redacted /v2 exchanges to this JSON-lines file")
    p.add_argument("--log-file", type=Path, help="request log (default: stderr)")
    p.add_argument("--tls-cert", type=Path, help="serve HTTPS with this PEM certificate (chain)")
    p.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="listen on a non-loopback address (needs --admin-token; the control API mints manager tokens)",
    )
    p.add_argument(
        "--admin-token",
        default=os.environ.get("KSEF_EMULATOR_ADMIN_TOKEN"),
        help="required in the X-Emulator-Admin-Token header of /_emulator/ requests (env KSEF_EMULATOR_ADMIN_TOKEN)",
    )
    args = p.parse_args(argv)
    if not _loopback(args.host):
        if not args.allow_remote:
            p.error(
                f"refusing to listen on {args.host}: the emulator is for this machine only (its control API mints "
                "CredentialsManage tokens and can serve every secret it issued); use 127.0.0.1, or --allow-remote "
                "with --admin-token"
            )
        if not args.admin_token:
            p.error("--allow-remote needs --admin-token (or KSEF_EMULATOR_ADMIN_TOKEN) to guard the control API")
    if not 0 < args.port < 65536:
        p.error("--port must be between 1 and 65535")
    if args.time_scale <= 0:
        p.error("--time-scale must be positive")
    if (args.tls_cert is None) != (args.tls_key is None):
        p.error("--tls-cert and --tls-key go together")
    return args


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def configure_logging(log_file: Path | None) -> None:
    handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    requests_log = logging.getLogger("ksef_emulator")
    requests_log.setLevel(logging.INFO)
    requests_log.addHandler(handler)
    requests_log.propagate = False


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = Settings(
        state_dir=args.state_dir,
        rate_limits=args.rate_limits,
        time_scale=args.time_scale,
        activation_delay=args.activation_delay,
        auth_delay=args.auth_delay,
        enrollment_delay=args.enrollment_delay,
        permission_delay=args.permission_delay,
        certificate_validity=args.certificate_validity,
        access_token_ttl=args.access_token_ttl,
        refresh_token_ttl=args.refresh_token_ttl,
        lenient_xades=args.lenient_xades,
        rotate_keys=args.rotate_keys,
        expose_secrets=args.expose_secrets,
        capture=args.capture,
        log_file=args.log_file,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        admin_token=args.admin_token,
    )
    configure_logging(args.log_file)
    app, _state = build_app(settings)
    tls: dict[str, Any] = (
        {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)} if settings.tls_cert else {}
    )
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning", lifespan="off", **tls)


if __name__ == "__main__":
    main()
