# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # How every ksef.credentials module logs in to KSeF.
    DOCUMENTATION = r"""
options:
  auth:
    description:
      - How to log in to KSeF. Set exactly one method.
      - A KSeF token, O(auth.ksef_token).
      - A certificate for a XAdES signature, O(auth.certificate) with O(auth.private_key), or O(auth.pkcs12).
      - An existing session, O(auth.access_token) optionally with O(auth.refresh_token), for example
        returned by M(ksef.credentials.session).
      - A session the module opens itself is closed (C(DELETE /auth/sessions/current)) when the module ends,
        also on failure. A reused session is left open.
      - Every secret here is hidden from output (C(no_log)).
      - When the task sets none of the login options (O(auth.ksef_token), O(auth.certificate), O(auth.private_key),
        O(auth.pkcs12), O(auth.access_token), O(auth.refresh_token)), or leaves out O(auth) altogether, the login
        comes from the environment, as an AWX or Automation Platform credential injects it (see the collection's
        docs/awx.md) - E(KSEF_TOKEN); or E(KSEF_CERTIFICATE) with E(KSEF_PRIVATE_KEY) and optionally
        E(KSEF_PRIVATE_KEY_PASSPHRASE); or E(KSEF_PKCS12) with optionally E(KSEF_PKCS12_PASSPHRASE). A login
        option in the task always wins over the environment as a whole; the two are never mixed.
    type: dict
    suboptions:
      ksef_token:
        description:
          - A KSeF token with the permissions the task needs. Encrypted with the current KSeF public key
            (RSA-OAEP SHA-256) before it is sent.
          - Falls back to E(KSEF_TOKEN) when no login option is set (see O(auth)).
        type: str
      certificate:
        description:
          - Certificate for XAdES login, as a PEM file path or PEM content.
          - Needs O(auth.private_key).
          - Falls back to E(KSEF_CERTIFICATE) when no login option is set (see O(auth)).
        type: str
      private_key:
        description:
          - Private key of O(auth.certificate), as a PEM file path or PEM content.
          - Falls back to E(KSEF_PRIVATE_KEY) when no login option is set (see O(auth)).
        type: str
      private_key_passphrase:
        description:
          - Passphrase of an encrypted O(auth.private_key).
          - Falls back to E(KSEF_PRIVATE_KEY_PASSPHRASE) when no login option is set (see O(auth)).
        type: str
      pkcs12:
        description:
          - A PKCS#12 bundle (certificate and key) for XAdES login, as a file path.
          - Mutually exclusive with O(auth.certificate) and O(auth.private_key).
          - Falls back to E(KSEF_PKCS12) when no login option is set (see O(auth)).
        type: str
      pkcs12_passphrase:
        description:
          - Passphrase of O(auth.pkcs12).
          - Falls back to E(KSEF_PKCS12_PASSPHRASE) when no login option is set (see O(auth)).
        type: str
      subject_identifier_type:
        description:
          - How KSeF identifies the signer of a XAdES login; V(certificate_subject) reads the NIP or PESEL
            from the certificate, V(certificate_fingerprint) uses its SHA-256 fingerprint.
        type: str
        choices: [certificate_fingerprint, certificate_subject]
        default: certificate_subject
      on_behalf:
        description:
          - The XAdES login acts for a context other than its own NIP, with permissions granted to it there (an
            accounting office's seal acting for its clients, a representative).
          - When V(false), a certificate whose subject carries a NIP other than the context's (or the NIP of
            O(context.internal_id)) fails before any request, because KSeF would answer 415. Certificates with a
            PESEL and logins by fingerprint are never checked.
        type: bool
        default: false
      access_token:
        description:
          - An access token of an existing KSeF session (for example RV(ksef.credentials.session#module:access_token)).
          - Refreshed with O(auth.refresh_token) when it has expired or KSeF refuses it.
        type: str
      refresh_token:
        description:
          - The refresh token of the same session.
        type: str
      ksef_token_reference:
        description:
          - With O(auth.access_token), the reference number of the KSeF token the session was opened with
            (RV(ksef.credentials.session#module:ksef_token_reference)). Not a secret; never the token itself.
          - Lets the task treat that token as the one it logged in with, as it does with O(auth.ksef_token), so
            M(ksef.credentials.token_info) marks its V(token_auth_end) finding with C(this run logged in with it), and
            the lockout guard of M(ksef.credentials.permissions) protects the C(CredentialsManage) of its author.
          - Refused with any other way to log in, and when it is not a 36-character reference number.
        type: str
      poll_timeout:
        description:
          - Seconds to wait for KSeF to finish an authentication (status code 100). Certificate status checks
            (OCSP/CRL) on DEMO/PRD can take a while. From 1 to 3600.
        type: int
        default: 120
"""
