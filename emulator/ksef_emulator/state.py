"""Everything one running emulator holds, built once from the settings."""

from __future__ import annotations

from .auth_operations import AuthOperations
from .authority import Authority
from .certificates import CertificateRegistry
from .faults import Faults
from .jwts import JwtIssuer
from .keys import KeyRing
from .ksef_tokens import TokenRegistry
from .overrides import TestdataOverrides
from .permissions import PermissionRegistry
from .ratelimit import RateLimiter
from .secrets_log import SecretsLog
from .settings import Settings
from .stats import Stats
from .store import Store


class EmulatorState:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = Store(settings.state_dir)
        self.keys = KeyRing(self.store)
        if settings.rotate_keys:
            self.keys.rotate("emergency")
        self.jwt = JwtIssuer(self.store)
        self.grants = PermissionRegistry(self.store, settings)
        self.authority = Authority(self.store, self.grants)
        self.tokens = TokenRegistry(self.store, settings)
        self.grants.on_revoked = self._tokens_after_revoke
        self.operations = AuthOperations(self.store, settings)
        self.certificates = CertificateRegistry(self.store, settings)
        self.overrides = TestdataOverrides(self.store)
        self.secrets = SecretsLog(settings.expose_secrets)
        self.stats = Stats()
        self.faults = Faults()
        self.limiter = RateLimiter(settings.rate_limits, settings.time_scale)

    def _tokens_after_revoke(self, lost: list[tuple[str, str, str, str]]) -> None:
        """ "Tokeny są automatycznie unieważniane w przypadku utraty uprawnień" (uwierzytelnianie.md): a KSeF token
        whose author no longer holds every permission it carries is revoked, in whatever context (an indirect grant
        works in its clients' contexts, not where it was granted); see docs/emulator.md."""
        for subject_type, subject_value in {(s_type, s_value) for _c_type, _c_value, s_type, s_value in lost}:
            authors = self.authority.linked_identifiers(subject_type, subject_value)
            contexts = {
                (t["context_type"], t["context_value"])
                for t in self.tokens.in_context(None, None)
                if (t["author_type"], t["author_value"]) in authors
            }
            for context_type, context_value in contexts:
                for author_type, author_value in authors:
                    held = self.authority.permissions(context_type, context_value, author_type, author_value, False)
                    self.tokens.revoke_beyond(context_type, context_value, author_type, author_value, held)

    def apply_rate_limits(self, profile: str) -> None:
        self.settings.rate_limits = profile
        self.limiter.set_profile(profile)

    def apply_time_scale(self, time_scale: float) -> None:
        self.settings.time_scale = time_scale
        self.limiter.set_time_scale(time_scale)
