#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: session
short_description: Open or close a KSeF 2.0 authentication session
version_added: 0.1.0
description:
  - With O(state=present), logs in to KSeF once (KSeF token or XAdES signature) and returns the access and
    refresh tokens, so that later tasks reuse the session through O(auth.access_token) and
    O(auth.refresh_token) instead of logging in again.
  - With O(state=absent), closes the session given in O(auth.access_token) or O(auth.refresh_token)
    (C(DELETE /auth/sessions/current)); its refresh token stops working, access tokens already issued stay
    valid until they expire.
  - A close that KSeF's limit on closing sessions (120 an hour per context in production) would hold longer than
    O(max_retry_wait) is not sent. The task warns and reports no change, and the session expires by itself.
  - The result holds live credentials. The collection's action plugin marks a result that returns tokens as
    C(no_log), so callbacks, C(-v) output and logs show it censored even without C(no_log=true) on the task; the
    registered variable still carries the tokens for later tasks. Setting C(no_log=true) as well does no harm.
author:
  - ksef.credentials maintainers (@ksef-credentials)
extends_documentation_fragment:
  - ksef.credentials.connection
  - ksef.credentials.auth
options:
  state:
    description:
      - V(present) opens a new session and returns its tokens.
      - V(absent) closes the session whose tokens are given in O(auth).
    type: str
    choices: [absent, present]
    default: present
attributes:
  check_mode:
    support: full
    description: Can run in check_mode and return changed status prediction without modifying target.
    details:
      - O(state=present) logs in also in check mode, because later tasks need a session to read KSeF state.
      - O(state=absent) makes no call in check mode.
  diff_mode:
    support: none
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
requirements:
  - httpx
  - cryptography
  - lxml and signxml for XAdES login
seealso:
  - name: KSeF 2.0 authentication
    description: The official description of the login flow.
    link: https://github.com/CIRFMF/ksef-docs/blob/main/uwierzytelnianie.md
"""

EXAMPLES = r"""
- name: Log in once with a KSeF token
  ksef.credentials.session:
    environment: test
    context:
      nip: "5265877635"
    auth:
      ksef_token: "{{ vault_ksef_admin_token }}"
  register: ksef
  no_log: true

- name: Reuse the session in later tasks (refreshed automatically when the access token expires)
  ksef.credentials.token:
    environment: test
    context:
      nip: "5265877635"
    auth:
      access_token: "{{ ksef.access_token }}"
      refresh_token: "{{ ksef.refresh_token }}"
      ksef_token_reference: "{{ ksef.ksef_token_reference }}"
    name: erp-invoices
    permissions: [InvoiceRead, InvoiceWrite]

- name: Log in with a certificate (XAdES signature)
  ksef.credentials.session:
    api_url: http://127.0.0.1:8080/v2
    context:
      nip: "5265877635"
    auth:
      certificate: /etc/ksef/admin.crt
      private_key: /etc/ksef/admin.key
      private_key_passphrase: "{{ vault_key_passphrase }}"
  register: ksef
  no_log: true

- name: Close the session at the end of the play
  ksef.credentials.session:
    environment: test
    context:
      nip: "5265877635"
    auth:
      access_token: "{{ ksef.access_token }}"
      refresh_token: "{{ ksef.refresh_token }}"
    state: absent
"""

RETURN = r"""
access_token:
  description: The access token (JWT). A secret; keep the task C(no_log).
  returned: state is present
  type: str
access_token_valid_until:
  description: When the access token expires (UTC, ISO 8601).
  returned: state is present
  type: str
  sample: "2026-01-01T12:15:00Z"
refresh_token:
  description: The refresh token; valid for up to 7 days. A secret; keep the task C(no_log).
  returned: state is present
  type: str
refresh_token_valid_until:
  description: When the refresh token expires (UTC, ISO 8601).
  returned: state is present
  type: str
reference_number:
  description: Reference number of the authentication session (as listed by C(GET /auth/sessions)).
  returned: state is present
  type: str
  sample: 20250514-AU-2DFC46C000-3AC6D5877F-D4
ksef_token_reference:
  description:
    - Reference number of the KSeF token the session was opened with (never the token itself); null after a
      certificate login.
    - Hand it over with the tokens as O(auth.ksef_token_reference), so later tasks know which token they are logged
      in with (M(ksef.credentials.token_info) marks it).
  returned: state is present
  type: str
  sample: 20250514-EC-2DFC46C000-3AC6D5877F-A1
api_url:
  description: The base URL the session belongs to.
  returned: always
  type: str
api_calls:
  description: Requests sent to KSeF in this run, per operation.
  returned: always
  type: dict
  sample: {"POST /auth/challenge": 1, "POST /auth/ksef-token": 1}
"""

# First: the code below is compiled once and kept for the next runs (AnsiballZ imports it from a zip).
from ansible_collections.ksef.credentials.plugins.module_utils import _bytecode  # noqa: F401  # pylint: disable=unused-import
from ansible_collections.ksef.credentials.plugins.module_utils._auth import KsefSession
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefApiError, KsefError
from ansible_collections.ksef.credentials.plugins.module_utils._module import KsefModule


def open_session(module):
    if module.ksef_auth.method == "session":
        module.fail_json(
            msg="state=present logs in: set auth.ksef_token or a certificate (auth.certificate/"
            "auth.private_key or auth.pkcs12), not auth.access_token",
            option="auth",
        )
    # The tokens are this module's output: registering them as no_log values would mask them in it.
    # The task itself must be no_log (see DOCUMENTATION).
    api = module.open_session(register_tokens=False)
    module.keep_open(api.session)
    module.exit_json(changed=True, api_url=module.ksef_connection.base_url, **api.session.as_result())


def close_session(module):
    auth = module.ksef_auth
    if auth.method != "session":
        module.fail_json(
            msg="state=absent closes an existing session: set auth.access_token and/or auth.refresh_token",
            option="auth",
        )
    if module.check_mode:
        module.exit_json(changed=True, api_url=module.ksef_connection.base_url)
    session = KsefSession(module.http, access_token=auth.access_token, refresh_token=auth.refresh_token)
    try:
        warning = session.close_or_leave()
    except KsefApiError as exc:
        if exc.status in (401, 403):
            # Already closed, expired or never valid: nothing left to close.
            module.exit_json(
                changed=False,
                api_url=module.ksef_connection.base_url,
                msg=f"The session was already closed or its tokens expired ({exc.status})",
            )
        raise
    if warning:  # KSeF's limit on closing sessions would hold it longer than max_retry_wait: it expires by itself
        module.warn(warning)
        module.exit_json(changed=False, api_url=module.ksef_connection.base_url)
    module.exit_json(changed=True, api_url=module.ksef_connection.base_url)


def main():
    module = KsefModule(
        argument_spec=dict(state=dict(type="str", choices=["absent", "present"], default="present")),
        supports_check_mode=True,
    )
    try:
        if module.params["state"] == "present":
            open_session(module)
        else:
            close_session(module)
    except KsefError as exc:
        module.fail_from(exc)


if __name__ == "__main__":
    main()
