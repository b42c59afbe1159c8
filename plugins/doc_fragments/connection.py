# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # Options shared by every ksef.credentials module: where KSeF is and which context to act in.
    DOCUMENTATION = r"""
options:
  environment:
    description:
      - The public KSeF 2.0 environment to talk to.
      - V(test) is U(https://api-test.ksef.mf.gov.pl/v2), V(demo) is U(https://api-demo.ksef.mf.gov.pl/v2),
        V(prod) is U(https://api.ksef.mf.gov.pl/v2).
      - Used when O(api_url) is not set; defaults to V(test).
      - Mutually exclusive with O(api_url).
    type: str
    choices: [demo, prod, test]
  api_url:
    description:
      - Base URL of a KSeF 2.0 API, including the C(/v2) path, for example the local emulator
        C(http://127.0.0.1:8080/v2).
      - Plain C(http://) is accepted only for loopback hosts (127.0.0.0/8, ::1, localhost) unless
        O(allow_insecure_http=true).
      - Mutually exclusive with O(environment).
    type: str
  validate_certs:
    description:
      - Verify the TLS certificate of the KSeF API. Turn off only for a test endpoint you trust.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file (or a directory of hashed certificates) with the CA certificates to trust instead of the
        system store, for example behind a TLS-inspecting proxy.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP request (connect and read), from 1 to 600.
    type: int
    default: 30
  max_retry_wait:
    description:
      - The longest C(Retry-After) (seconds) the module waits out when KSeF answers HTTP 429.
        A longer block fails the task with the time KSeF asked for. From 0 to 3600.
      - Also the longest wait for a free slot of KSeF's limits (O(rate_limits)). A request whose slot is further away
        is not sent and fails the task at once, naming the operation and the wait. A session close is left to
        expire by itself instead, with a warning.
    type: int
    default: 60
  rate_limits:
    description:
      - Client-side pacing to the documented KSeF request limits, shared by every task of a run on this
        host (a small state file per API host and context under C(~/.ansible/tmp/ksef-ratelimit/),
        E(KSEF_RATELIMIT_DIR) overrides), so a run does not get HTTP 429.
      - V(prd) paces to the production limits (also DEMO's); safe in every environment.
      - V(te) allows ten times more, as the TEST environment does.
      - V(off) sends requests as fast as they come; a 429 still waits out C(Retry-After).
      - Falls back to the E(KSEF_RATE_LIMITS) environment variable.
    type: str
    choices: [prd, te, 'off']
    default: prd
  token_auth_end:
    description:
      - The last day KSeF tokens authenticate in this environment, as C(YYYY-MM-DD).
      - By the regulation in force that is V(2026-12-31); the Ministry proposes keeping tokens with a validity of
        1 to 365 days (CIRFMF/ksef-api#834). Set this when the law or an environment's date changes.
      - A run that logs in with a KSeF token, or creates or rotates one, within 30 days of this date (or after it)
        warns once, naming the date and the migration guide (docs/migration.md);
        M(ksef.credentials.token_info) shows the days left per token as a finding, and
        M(ksef.credentials.permission_info) for the token it logged in with.
      - Unset means the E(KSEF_TOKEN_AUTH_END) environment variable, else V(2026-12-31).
    type: str
  allow_insecure_http:
    description:
      - Allow plain C(http://) in O(api_url) for non-loopback hosts. Tokens would travel unencrypted.
    type: bool
    default: false
  context:
    description:
      - The KSeF context (the company) to act in. Exactly one of O(context.nip), O(context.internal_id) or
        O(context.nip_vat_ue).
      - Checked before any API call (NIP check digit included).
    type: dict
    required: true
    suboptions:
      nip:
        description:
          - 10-digit NIP with a valid check digit, for example C('5265877635'). Quote it in YAML.
        type: str
      internal_id:
        description:
          - Internal identifier C(NIP-5digits), for example C('5265877635-00001').
        type: str
      nip_vat_ue:
        description:
          - The context of an EU entity, C(NIP-VAT UE) (the contract's C(NipVatUe)), for example
            C('5265877635-DE123456789'). An EU administrator grant of the company (NIP) creates it
            (M(ksef.credentials.permissions), kind V(eu_administrator)).
          - The EU administrator logs in to it with its certificate, by fingerprint
            (O(auth.subject_identifier_type=certificate_fingerprint)).
          - KSeF creates tokens only in Nip and InternalId contexts, so the token modules refuse it before any request.
        type: str
notes:
  - Needs the Python libraries C(httpx) and C(cryptography) on the host that runs the module.
  - Transient failures (HTTP 5xx, timeouts, dropped connections) are retried up to 5 times with capped
    exponential backoff and jitter; HTTP 429 waits out C(Retry-After). Creating a token is never repeated
    after the request may have reached KSeF.
  - The module result contains RV(api_calls), the number of requests sent per operation.
"""
