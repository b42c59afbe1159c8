# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `auth` option: its argument spec, the login an AWX credential injects through the environment, and its
validation into an `AuthConfig` before any request. Logging in with it is `_auth.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._text import control_character

SUBJECT_IDENTIFIER_TYPES = {
    "certificate_subject": "certificateSubject",
    "certificate_fingerprint": "certificateFingerprint",
}
_AUTH_OPTIONS: dict[str, dict] = dict(
    ksef_token=dict(type="str", no_log=True),
    certificate=dict(type="str"),
    private_key=dict(type="str", no_log=True),
    private_key_passphrase=dict(type="str", no_log=True),
    pkcs12=dict(type="str", no_log=True),
    pkcs12_passphrase=dict(type="str", no_log=True),
    subject_identifier_type=dict(type="str", choices=sorted(SUBJECT_IDENTIFIER_TYPES), default="certificate_subject"),
    on_behalf=dict(type="bool", default=False),
    access_token=dict(type="str", no_log=True),
    refresh_token=dict(type="str", no_log=True),
    # A reference number names a token without being it (the token module returns them): not a secret.
    ksef_token_reference=dict(type="str", no_log=False),
    poll_timeout=dict(type="int", default=120),
)
AUTH_ARGUMENT_SPEC = dict(
    auth=dict(
        type="dict",
        # Without `auth`, or with none of its login options, the login comes from the environment (AUTH_ENVIRONMENT).
        apply_defaults=True,
        options=_AUTH_OPTIONS,
    ),
)
SECRET_AUTH_OPTIONS = tuple(name for name, spec in _AUTH_OPTIONS.items() if spec.get("no_log"))

_XADES_OPTIONS = ("certificate", "private_key", "private_key_passphrase", "pkcs12", "pkcs12_passphrase")
_SESSION_OPTIONS = ("access_token", "refresh_token")
# The login an AWX/Automation Platform credential (extensions/awx/credential_types) injects, read only when the
# task names no login option of its own: the task's `auth` always wins as a whole, never mixed with these.
AUTH_ENVIRONMENT = {
    "ksef_token": "KSEF_TOKEN",
    "certificate": "KSEF_CERTIFICATE",
    "private_key": "KSEF_PRIVATE_KEY",
    "private_key_passphrase": "KSEF_PRIVATE_KEY_PASSPHRASE",
    "pkcs12": "KSEF_PKCS12",
    "pkcs12_passphrase": "KSEF_PKCS12_PASSPHRASE",
}
# The same secrets as the path of a file holding them: what the credential types inject, since ansible-runner
# records a job's environment in its artifacts (artifacts/<ident>/command) and a file path there reveals nothing.
AUTH_ENVIRONMENT_FILES = {
    "ksef_token": "KSEF_TOKEN_FILE",
    "private_key_passphrase": "KSEF_PRIVATE_KEY_PASSPHRASE_FILE",
    "pkcs12_passphrase": "KSEF_PKCS12_PASSPHRASE_FILE",
}
_LOGIN_OPTIONS = ("ksef_token",) + _XADES_OPTIONS + _SESSION_OPTIONS


@dataclass(frozen=True, repr=False)  # its own __repr__ below; the generated one would only be compiled and dropped
class AuthConfig:
    """The validated `auth` option. `method` is one of ksef_token, xades, session."""

    method: str
    ksef_token: str | None = None
    certificate: str | None = None
    private_key: str | None = None
    private_key_passphrase: str | None = None
    pkcs12: str | None = None
    pkcs12_passphrase: str | None = None
    subject_identifier_type: str = "certificate_subject"
    on_behalf: bool = False  # the certificate's NIP may differ from the context's: it acts with granted permissions
    access_token: str | None = None
    refresh_token: str | None = None
    ksef_token_reference: str | None = None  # the KSeF token a handed-over session was opened with (never its value)
    poll_timeout: float = 120

    def __repr__(self):  # never show secrets, even in a debugger or a traceback
        return f"AuthConfig(method={self.method!r})"


def auth_from_environment(auth, environ):
    """`auth` with the login options of AUTH_ENVIRONMENT (or AUTH_ENVIRONMENT_FILES) filled in, when it names none.

    Returns (auth, {option: the variable it came from}); the values are secrets the caller must hide.
    """
    if any(auth.get(name) not in (None, "") for name in _LOGIN_OPTIONS):
        return auth, {}
    found, sources = {}, {}
    for option, variable in AUTH_ENVIRONMENT.items():
        file_variable = AUTH_ENVIRONMENT_FILES.get(option)
        if environ.get(variable) and file_variable and environ.get(file_variable):
            raise KsefConfigError(variable, f"{variable} and {file_variable} are both set; set one of them")
        if environ.get(variable):
            found[option], sources[option] = environ[variable], variable
        elif file_variable and environ.get(file_variable):
            found[option], sources[option] = _read_secret_file(file_variable, environ[file_variable]), file_variable
    return {**auth, **found}, sources


def _read_secret_file(variable, path):
    try:
        with open(path, encoding="utf-8") as handle:
            value = handle.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise KsefConfigError(variable, f"{variable} names {path}, which cannot be read: {reason}") from None
    if not value:
        raise KsefConfigError(variable, f"{variable} names {path}, which is empty")
    return value


def validate_auth(auth, environ=None):
    """Check that `auth` selects exactly one method; raises KsefConfigError naming the options.

    With `environ` (the module's os.environ), a task that names no login option logs in as AUTH_ENVIRONMENT says.
    """
    auth, from_environment = auth_from_environment(auth or {}, environ or {})
    auth = {k: v for k, v in auth.items() if v not in (None, "")}

    def name(option):  # as the user set it: the task's option, or the environment variable
        if from_environment:
            return from_environment.get(option, AUTH_ENVIRONMENT[option])
        return f"auth.{option}"

    def given(options):
        return [name(option) for option in options if option in auth]

    methods = {}
    if "ksef_token" in auth:
        methods["ksef_token"] = given(["ksef_token"])
    if given(_XADES_OPTIONS):
        methods["xades"] = given(_XADES_OPTIONS)
    if given(_SESSION_OPTIONS):
        methods["session"] = given(_SESSION_OPTIONS)
    if not methods:
        raise KsefConfigError(
            "auth",
            "auth needs one way to log in: auth.ksef_token, auth.certificate with auth.private_key, "
            "auth.pkcs12, or auth.access_token (from ksef.credentials.session); or, with no auth option set, the "
            "environment: KSEF_TOKEN, KSEF_CERTIFICATE with KSEF_PRIVATE_KEY, or KSEF_PKCS12",
        )
    if len(methods) > 1:
        found = ", ".join(given_name for names in methods.values() for given_name in names)
        if from_environment:
            raise KsefConfigError(
                "auth",
                f"the environment variables {found} select more than one way to log in; set only one of KSEF_TOKEN, "
                "KSEF_CERTIFICATE/KSEF_PRIVATE_KEY, KSEF_PKCS12 (or give auth in the task, which then wins)",
            )
        raise KsefConfigError(
            sorted(methods.values())[0][0],
            f"auth options {found} select more than one way to log in; keep only one of auth.ksef_token, "
            "auth.certificate/auth.private_key, auth.pkcs12, auth.access_token/auth.refresh_token",
        )
    method = next(iter(methods))
    for option, value in auth.items():
        if not isinstance(value, str):
            continue
        if option in ("certificate", "private_key", "pkcs12") and "-----BEGIN" in value:
            continue  # PEM content spans lines
        if option.endswith("passphrase"):
            bad = "\x00" in value  # OpenSSL reads a passphrase up to a NUL
        else:
            bad = control_character(value) is not None
        if bad:  # never shown: it may be a secret
            raise KsefConfigError(
                name(option),
                f"{name(option)} must not contain control characters (a newline from a YAML block scalar or a "
                "file, a NUL)",
            )
    if method == "xades":
        if "pkcs12" in auth and ("certificate" in auth or "private_key" in auth):
            raise KsefConfigError(
                name("pkcs12"),
                f"{name('pkcs12')} cannot be combined with {name('certificate')}/{name('private_key')}; "
                "use either the PKCS#12 bundle or the PEM pair",
            )
        if "pkcs12" not in auth and ("certificate" not in auth or "private_key" not in auth):
            missing = name("private_key" if "certificate" in auth else "certificate")
            raise KsefConfigError(
                missing,
                f"XAdES login needs both {name('certificate')} and {name('private_key')} (or {name('pkcs12')}); "
                f"{missing} is missing",
            )
        for passphrase, secret in (("private_key_passphrase", "private_key"), ("pkcs12_passphrase", "pkcs12")):
            if passphrase in auth and secret not in auth:
                raise KsefConfigError(name(passphrase), f"{name(passphrase)} is set but {name(secret)} is not")
    if "ksef_token_reference" in auth:
        _check_token_reference(auth["ksef_token_reference"], method)
    poll_timeout = auth.get("poll_timeout", 120)
    if not 0 < poll_timeout <= 3600:
        raise KsefConfigError("auth.poll_timeout", "auth.poll_timeout must be between 1 and 3600 seconds")
    fields = {k: v for k, v in auth.items() if k in AuthConfig.__dataclass_fields__}
    fields["poll_timeout"] = poll_timeout
    return AuthConfig(method=method, **fields)


REFERENCE_NUMBER_LENGTH = 36  # ReferenceNumber in open-api.json, e.g. 20251010-EC-2B1C3D4E5F-6A7B8C9D0E-3F
_REFERENCE_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def looks_like_token_value(value) -> bool:
    """A KSeF token value (`reference|nip-...|secret`) given where its reference number belongs: hide it."""
    return isinstance(value, str) and "|" in value


def _check_token_reference(reference, method):
    option = "auth.ksef_token_reference"
    if method != "session":
        raise KsefConfigError(
            option,
            f"{option} goes with auth.access_token/auth.refresh_token: it names the KSeF token a session handed over "
            "by ksef.credentials.session was opened with (its result's ksef_token_reference); a task that logs in "
            "itself knows its token",
        )
    if looks_like_token_value(reference):  # never shown: it is a secret
        raise KsefConfigError(
            option,
            f"{option} takes the token's reference number (ksef_token_reference of ksef.credentials.session's "
            "result), not the token itself",
        )
    if len(reference) != REFERENCE_NUMBER_LENGTH or not set(reference) <= _REFERENCE_CHARACTERS:
        raise KsefConfigError(
            option,
            f"{option} must be a KSeF reference number: {REFERENCE_NUMBER_LENGTH} characters of A-Z, 0-9 and '-', "
            "for example 20251010-EC-2B1C3D4E5F-6A7B8C9D0E-3F (ksef_token_reference of ksef.credentials.session's "
            "result)",
        )
