# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error hierarchy of the collection. A module turns a KsefError into a failure once
(`KsefModule.fail_from`); nothing else reaches the module boundary.

    KsefError                    message + the structured facts a failed result carries
    ├── KsefConfigError          an option is wrong; `option` names it as data (never parsed out of the text)
    ├── KsefApiError             KSeF answered with an error status or could not be reached
    │   └── KsefAmbiguousError   the request may or may not have taken effect
    ├── KsefAuthError            authentication did not succeed
    ├── KsefTimeoutError         something did not happen within its time limit (activation, a lock)
    ├── StoreError               a store failed (_stores/_base.py; StoreConfigError is also a KsefConfigError)
    └── ApplyError               a change failed; says what was undone (_executor.py)

Every error carries only what is safe to show: never a header, a request body or a secret value.
"""

from __future__ import annotations


class KsefError(Exception):
    """Base error: a human message plus the structured facts a module returns on failure."""

    def __init__(self, message, status=None, codes=None, description=None, details=None, operation=None):
        super().__init__(message)
        self.message = message
        self.status = status  # HTTP status code, or the authentication status code
        self.codes = list(codes or [])  # official KSeF exception codes, e.g. [26001]
        self.description = description
        self.details = list(details or [])
        self.operation = operation  # "METHOD /template", e.g. "POST /tokens"

    @property
    def code(self):
        """The first official exception code, or None."""
        return self.codes[0] if self.codes else None

    def to_result(self):
        """The structured part of a failed module result (the message goes into `msg`)."""
        result = {}
        if self.status is not None:
            result["status"] = self.status
        if self.codes:
            result["code"] = self.code
            result["codes"] = self.codes
        if self.description:
            result["description"] = self.description
        if self.details:
            result["details"] = self.details
        if self.operation:
            result["operation"] = self.operation
        return result

    def __str__(self):
        return self.message


class KsefConfigError(KsefError):
    """An option is wrong; raised before any API call. `option` names it, e.g. `context.nip` or `tokens[3].name`.

    The message says what is wrong and how to fix it; `within()` places the option inside a list entry.
    """

    def __init__(self, option, message):
        KsefError.__init__(self, message)  # not super(): subclasses also derive from StoreError
        self.option = option

    def within(self, where):
        """The same error for an option of the entry `where` (e.g. `tokens[3]`): option and message say so."""
        self.option = "%s.%s" % (where, self.option) if self.option else where
        self.message = "%s: %s" % (where, self.message)
        self.args = (self.message,)
        return self

    def to_result(self):
        return {"option": self.option}


class KsefApiError(KsefError):
    """KSeF answered with an error status (4xx/5xx) or could not be reached.

    `reason_code` is the problem+json `reasonCode` of 401/403 answers (e.g. `missing-permissions`).
    """

    def __init__(
        self,
        message,
        status=None,
        codes=None,
        description=None,
        details=None,
        operation=None,
        reason_code=None,
        retry_after=None,
    ):
        super().__init__(
            message, status=status, codes=codes, description=description, details=details, operation=operation
        )
        self.reason_code = reason_code
        self.retry_after = retry_after

    def to_result(self):
        result = super().to_result()
        if self.reason_code:
            result["reason_code"] = self.reason_code
        return result


class KsefAmbiguousError(KsefApiError):
    """The request may or may not have taken effect (e.g. the connection dropped during POST /tokens).

    The caller must reconcile by reading the state (for example GET /tokens) instead of retrying blindly.
    """


class KsefAuthError(KsefError):
    """Authentication did not succeed (status 4xx/5xx from GET /auth/{referenceNumber}, timeout, expiry)."""


class KsefTimeoutError(KsefError):
    """Something did not happen within its time limit: an activation, a lock held by another run."""


def describe(exc):
    """The cause of a failure for a message: our errors' texts never hold a secret; others get their type."""
    if isinstance(exc, KsefError):
        return str(exc)
    return "%s: %s" % (type(exc).__name__, exc)
