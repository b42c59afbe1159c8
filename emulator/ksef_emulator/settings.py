"""Runtime options (command line, changeable through PUT /_emulator/config)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Settings:
    state_dir: Path
    rate_limits: str = "te"
    time_scale: float = 1.0
    activation_delay: float = 1.0
    auth_delay: float = 0.2
    enrollment_delay: float = 0.2  # seconds GET /certificates/enrollments/{ref} answers 100
    permission_delay: float = 0.2  # seconds GET /permissions/operations/{ref} answers 100
    # KSeF certificates are valid for two years (the contract's CertificateListItem example).
    certificate_validity: float = 2 * 365 * 86400.0
    access_token_ttl: float = 900.0
    refresh_token_ttl: float = 604800.0
    lenient_xades: bool = False
    rotate_keys: bool = False
    expose_secrets: bool = False
    capture: Path | None = None
    log_file: Path | None = None
    tls_cert: Path | None = None  # HTTPS when set (with tls_key)
    tls_key: Path | None = None
    # Required in the X-Emulator-Admin-Token header of every /_emulator/ request when set (--admin-token).
    admin_token: str | None = None

    def scaled(self, seconds: float) -> float:
        """Real seconds for a duration given in emulated seconds (a minute lasts 60/time_scale s)."""
        return seconds / self.time_scale
