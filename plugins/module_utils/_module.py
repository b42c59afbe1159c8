# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""KsefModule: the base class of every ksef.credentials module.

It merges the shared connection and auth options into the module's argument spec, checks them before
any API call, registers every runtime secret in `no_log_values`, and opens/closes the KSeF session:

    module = KsefModule(argument_spec=dict(...), supports_check_mode=True)
    try:
        with module.ksef_session() as api:
            tokens = api.list_tokens()
    except KsefError as exc:
        module.fail_from(exc)
    module.exit_json(changed=False, tokens=tokens)   # api_calls is added automatically
"""

from __future__ import annotations

import copy
import os
import sys
import traceback
from contextlib import contextmanager
from datetime import datetime, timezone

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.arg_spec import ModuleArgumentSpecValidator

from ansible_collections.ksef.credentials.plugins.module_utils import _token_auth_end
from ansible_collections.ksef.credentials.plugins.module_utils._api import KsefApi
from ansible_collections.ksef.credentials.plugins.module_utils._auth import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    Authenticator,
    token_reference,
)
from ansible_collections.ksef.credentials.plugins.module_utils._auth_options import (
    AUTH_ARGUMENT_SPEC,
    AUTH_ENVIRONMENT,
    SECRET_AUTH_OPTIONS,
    looks_like_token_value,
    validate_auth,
)
from ansible_collections.ksef.credentials.plugins.module_utils._connection import (
    CONNECTION_ARGUMENT_SPEC,
    CONNECTION_MUTUALLY_EXCLUSIVE,
    CONTEXT_OPTIONS,
    resolve_connection,
    validate_context,
)
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError, KsefError
from ansible_collections.ksef.credentials.plugins.module_utils._http import HTTPX_IMPORT_ERROR, KsefHttp
from ansible_collections.ksef.credentials.plugins.module_utils._numbers import check_params as check_number_params
from ansible_collections.ksef.credentials.plugins.module_utils._ratelimit import create_limiter

# Why the token modules refuse a NipVatUe context: "Token może być generowany wyłącznie w kontekście `Nip` lub
# `InternalId`" (tokeny-ksef.md).
TOKENS_NOT_IN_NIP_VAT_UE = (
    "KSeF creates KSeF tokens only in Nip and InternalId contexts; manage tokens in the context of the Polish "
    "company (context.nip) or of its subunit (context.internal_id)"
)


def ksef_argument_spec():
    """The shared options (a fresh copy), for modules or tests that build their own spec."""
    spec = {}
    spec.update(CONNECTION_ARGUMENT_SPEC)
    spec.update(AUTH_ARGUMENT_SPEC)
    return spec


class KsefModule(AnsibleModule):
    """AnsibleModule with the KSeF connection, context and auth handled once for every module."""

    # Class defaults: AnsibleModule.__init__ may call fail_json before our __init__ body runs.
    _http = None
    _sessions: list = []  # replaced per instance in __init__

    def __init__(self, argument_spec=None, mutually_exclusive=None, **kwargs):
        spec = ksef_argument_spec()
        spec.update(argument_spec or {})
        exclusive = list(CONNECTION_MUTUALLY_EXCLUSIVE) + list(mutually_exclusive or [])
        super().__init__(argument_spec=spec, mutually_exclusive=exclusive, **kwargs)
        self._forget_arguments_on_disk()
        self._http = None
        self._sessions = []
        for name, error in (("httpx", HTTPX_IMPORT_ERROR), ("cryptography", CRYPTOGRAPHY_IMPORT_ERROR)):
            self._fail_when_missing(name, error)
        for option, variable in AUTH_ENVIRONMENT.items():  # hidden whether or not this task logs in with them
            if option in SECRET_AUTH_OPTIONS:
                self.register_secret(os.environ.get(variable))
        try:
            self.ksef_context = validate_context(self.params.get("context"))
            self.ksef_connection = resolve_connection(self.params)
            self.token_auth_end = _token_auth_end.resolve(self.params.get("token_auth_end"))
            self.ksef_auth = validate_auth(self.params.get("auth"), os.environ)
        except KsefConfigError as exc:
            self.fail_from(exc)
        for option in SECRET_AUTH_OPTIONS:  # also what came from a *_FILE variable
            self.register_secret(getattr(self.ksef_auth, option))
        if self.ksef_auth.method == "xades":  # only a XAdES login needs lxml and signxml
            from ansible_collections.ksef.credentials.plugins.module_utils import _xades  # only a XAdES login needs it

            self._fail_when_missing(_xades.XADES_MISSING_LIBRARY, _xades.XADES_IMPORT_ERROR)
            for option in ("private_key", "pkcs12"):
                # A path names where the key is, not the key: masking it would hide a store that is that same file.
                value = getattr(self.ksef_auth, option)
                if value and not _xades.looks_like_content(value):
                    self.no_log_values.discard(value)

    def _load_params(self):
        """The raw arguments, read by AnsibleModule before it converts them: a number option written as text must
        use the ASCII digits 0-9 (Ansible's int() would read "١٢٠" as 120 and fail on "1²" naming no option)."""
        super()._load_params()
        auth = self.params.get("auth")
        if isinstance(auth, dict) and looks_like_token_value(auth.get("ksef_token_reference")):
            # A token pasted where its reference number belongs: hidden before Ansible logs the invocation.
            self.register_secret(auth["ksef_token_reference"])
        try:
            check_number_params(self.argument_spec, self.params)
        except KsefConfigError as exc:
            # Failing before AnsibleModule's own validation: learn the no_log values from it first (on a copy), so
            # the failure's invocation hides every secret of the arguments as usual.
            checked = ModuleArgumentSpecValidator(self.argument_spec).validate(copy.deepcopy(self.params))
            self.no_log_values.update(checked._no_log_values)
            self._set_internal_properties()  # what fail_json needs (check mode, verbosity) from the raw arguments
            self.fail_from(exc)

    def _forget_arguments_on_disk(self):
        """Without pipelining, Ansible copies this module, its arguments included (a login token, a store's
        credentials), to AnsiballZ_<module>.py in its remote temp folder, and removes the folder once the module
        returns. The arguments are read now: remove the file, so a run killed from here on leaves no copy of them.
        With pipelining there is no file; with ANSIBLE_KEEP_REMOTE_FILES it stays, as asked (docs/security.md)."""
        if self._keep_remote_files:
            return
        frame = sys._getframe()  # the wrapper ran this module as __main__: its file is the outermost frame's
        while frame.f_back is not None:
            frame = frame.f_back
        path = frame.f_code.co_filename
        if os.path.basename(path).startswith("AnsiballZ_") and os.path.basename(os.path.dirname(path)).startswith(
            "ansible-tmp-"
        ):
            try:
                os.unlink(path)
            except OSError:  # not ours to remove (another owner after become): Ansible removes it at the end
                pass

    def _fail_when_missing(self, library, error):
        if error is not None:
            self.fail_json(
                msg=missing_required_lib(library),
                exception="".join(traceback.format_exception(type(error), error, error.__traceback__)),
            )

    # secrets

    def register_secret(self, value):
        """Hide `value` from every output of this module run (results, warnings, failure messages)."""
        if value:
            self.no_log_values.add(str(value))

    # the connection

    @property
    def http(self):
        """The KsefHttp client of this run (created on first use, so failed validation makes no calls)."""
        if self._http is None:
            conn = self.ksef_connection
            max_wait = self.params.get("max_retry_wait") or 60
            # Shared with every other task of the run on this (API host, context), see _ratelimit.py.
            # A 429 block and a wait for a free slot are both worth max_retry_wait, not longer (_ratelimit.py).
            limiter = create_limiter(
                conn.base_url,
                str(self.ksef_context),
                self.params.get("rate_limits") or "prd",
                max_block_wait=max_wait,
                max_pacing_wait=max_wait,
            )
            self._http = KsefHttp(
                conn.base_url, verify=conn.verify, timeout=conn.timeout, max_retry_after=max_wait, limiter=limiter
            )
        return self._http

    @property
    def api_calls(self):
        """Requests sent in this run, per "METHOD /template"."""
        return dict(sorted(self._http.calls.items())) if self._http is not None else {}

    def open_session(self, register_tokens=True):
        """Log in as `auth` says and return a KsefApi. Prefer `with module.ksef_session()`.

        `register_tokens=False` leaves the access/refresh tokens out of `no_log_values`, for the session
        module whose job is to return them (it marks its whole result no_log instead).
        """
        on_token = self.register_secret if register_tokens else None
        authenticator = Authenticator(self.http, on_secret=on_token, poll_timeout=self.ksef_auth.poll_timeout)
        if self.ksef_auth.ksef_token:
            self.register_secret(self.ksef_auth.ksef_token)
            self.warn_token_auth_end()
        session = authenticator.authenticate(self.ksef_context, self.ksef_auth)
        self._sessions.append(session)
        return KsefApi(self.http, session, on_secret=self.register_secret)

    @property
    def login_token_reference(self):
        """The reference number of the KSeF token this task's session was opened with (never its value): the token of
        auth.ksef_token, or auth.ksef_token_reference of a session handed over by ksef.credentials.session; None
        for a certificate login, or a handed-over session that does not say."""
        if self.ksef_auth.method == "ksef_token":
            return token_reference(self.ksef_auth.ksef_token)
        return self.ksef_auth.ksef_token_reference

    def keep_open(self, session):
        """Leave `session` open when the module ends (the session module hands it to later tasks)."""
        if session in self._sessions:
            self._sessions.remove(session)

    @contextmanager
    def ksef_session(self, close=None, register_tokens=True):
        """Yield a KsefApi on an authenticated session; close it afterwards if this run opened it.

        `close=True` also closes a reused session (auth.access_token); `close=False` keeps an opened one.
        """
        api = self.open_session(register_tokens=register_tokens)
        try:
            yield api
        finally:
            self._close_session(api.session, close)

    def warn_token_auth_end(self):
        """Once per module run: this run logs in with a KSeF token, or creates or rotates one, and the end of token
        authentication is near or past (_token_auth_end.py)."""
        if getattr(self, "_token_auth_end_warned", False):
            return
        self._token_auth_end_warned = True
        message = _token_auth_end.warning(
            self.token_auth_end,
            datetime.now(timezone.utc),
            "this run logs in with, creates or rotates KSeF tokens",
        )
        if message:
            self.warn(message)

    def _close_session(self, session, close=None):
        should_close = session.opened if close is None else close
        if session in self._sessions:
            self._sessions.remove(session)
        if should_close and not session.closed:
            try:
                # Closing is worth a wait as long as a 429 is (max_retry_wait), not longer: a session left open
                # expires by itself, while a run that sleeps for a free slot looks hung.
                warning = session.close_or_leave()
                if warning:
                    self.warn(warning)
            except KsefError as exc:
                self.warn(
                    f"Could not close the KSeF session {session.reference_number or ''}: {exc}".replace("  ", " ")
                )

    def _close_open_sessions(self):
        # exit_json/fail_json end the process: close what this run opened before the result is written.
        for session in list(self._sessions):
            self._close_session(session)

    def refuse_context_type(self, context_type, why):
        """Fail before any request when the task's context is of `context_type` (an API enum value), where this
        module cannot work: `why` says what KSeF allows instead."""
        if self.ksef_context.type == context_type:
            option = "context." + CONTEXT_OPTIONS[context_type]
            self.fail_json(msg=f"{option} is not supported by this module: {why}", option=option)

    # results

    def fail_from(self, exc, **result):
        """fail_json from a KsefError: the message plus status, code(s), description, details, option."""
        fields = exc.to_result() if isinstance(exc, KsefError) else {}
        fields.update(result)
        self.fail_json(msg=str(exc), **fields)

    def exit_json(self, **kwargs):
        self._close_open_sessions()
        kwargs.setdefault("api_calls", self.api_calls)
        super().exit_json(**kwargs)

    def fail_json(self, msg, **kwargs):
        self._close_open_sessions()
        kwargs.setdefault("api_calls", self.api_calls)
        super().fail_json(msg=msg, **kwargs)
