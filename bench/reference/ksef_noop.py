# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A reference for `make bench`, not part of the collection's interface: the least a module can do for a
no-op of one company. It sends the same seven requests as `ksef.credentials.tokens` (public keys,
challenge, ksef-token, status, redeem, one page of tokens, close) and reads the declared token files, with
no validation, pacing, locking, retries or plan.

`http` picks the client: `httpx` (the collection's, with the same optional imports kept out: its
command-line client and httpcore's async backends) or `http.client` (the standard library; plain HTTP
only). The bench copies this file into a throw-away collection, so both lines of its table show what the
work itself costs with each client, next to Ansible's floor and the role.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from urllib.parse import urlencode, urlsplit

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: ksef_noop
short_description: Reference no-op for make bench
description: The seven requests of a no-op of one company, with no engine around them.
options:
  api_url: {type: str, required: true, description: The emulator's API URL (http only).}
  context: {type: dict, required: true, description: The context, as C(nip).}
  auth: {type: dict, required: true, description: The login, as C(ksef_token).}
  tokens: {type: list, elements: dict, required: true, description: The declared tokens (file stores).}
  http: {type: str, choices: [httpx, http.client], default: httpx, description: The HTTP client.}
author: ksef.credentials contributors
"""


class StdlibClient:
    """One keep-alive connection of http.client, shaped like the few httpx calls used below."""

    def __init__(self, api_url):
        import http.client

        parts = urlsplit(api_url)
        self._prefix = parts.path.rstrip("/")
        self._connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)

    def request(self, method, path, json_body=None, headers=None, params=None):
        headers = dict(headers or {}, Accept="application/json")
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        query = "?" + urlencode(params) if params else ""
        self._connection.request(method, self._prefix + path + query, body=body, headers=headers)
        response = self._connection.getresponse()
        payload = response.read()
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}")
        return json.loads(payload) if payload else {}


class HttpxClient:
    def __init__(self, api_url):
        for name in ("httpx._main", "trio", "anyio"):
            sys.modules.setdefault(name, None)  # type: ignore[arg-type]
        import httpx

        self._client = httpx.Client(base_url=api_url, timeout=30, verify=False)

    def request(self, method, path, json_body=None, headers=None, params=None):
        response = self._client.request(method, path, json=json_body, headers=headers, params=params)
        response.raise_for_status()
        return response.json() if response.content else {}


def encrypt(certificate_b64, token, timestamp_ms):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = x509.load_der_x509_certificate(base64.b64decode(certificate_b64)).public_key()
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return base64.b64encode(key.encrypt(f"{token}|{timestamp_ms}".encode(), oaep)).decode()  # type: ignore[union-attr]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            api_url=dict(type="str", required=True),
            context=dict(type="dict", required=True),
            auth=dict(type="dict", required=True, no_log=True),
            tokens=dict(type="list", elements="dict", required=True),
            http=dict(type="str", choices=["httpx", "http.client"], default="httpx"),
        )
    )
    params = module.params
    client = (HttpxClient if params["http"] == "httpx" else StdlibClient)(params["api_url"])
    certificates = client.request("GET", "/security/public-key-certificates")
    certificate = max(
        (c for c in certificates if "KsefTokenEncryption" in c.get("usage", [])), key=lambda c: c["validFrom"]
    )
    challenge = client.request("POST", "/auth/challenge")
    init = client.request(
        "POST",
        "/auth/ksef-token",
        json_body={
            "challenge": challenge["challenge"],
            "contextIdentifier": {"type": "Nip", "value": params["context"]["nip"]},
            "encryptedToken": encrypt(
                certificate["certificate"], params["auth"]["ksef_token"], challenge["timestampMs"]
            ),
            "publicKeyId": certificate.get("publicKeyId"),
        },
    )
    bearer = {"Authorization": "Bearer " + init["authenticationToken"]["token"]}
    while client.request("GET", "/auth/" + init["referenceNumber"], headers=bearer)["status"]["code"] != 200:
        time.sleep(0.2)
    redeemed = client.request("POST", "/auth/token/redeem", headers=bearer)
    bearer = {"Authorization": "Bearer " + redeemed["accessToken"]["token"]}
    live = client.request("GET", "/tokens", headers=bearer, params={"pageSize": 100})["tokens"]
    stored = 0
    for token in params["tokens"]:
        for store in token.get("store") or []:
            try:
                with open(store["path"], encoding="utf-8") as handle:
                    stored += bool(handle.read())
            except OSError:
                pass
    client.request("DELETE", "/auth/sessions/current", headers=bearer)
    module.exit_json(changed=False, live=len(live), stored=stored)


if __name__ == "__main__":
    main()
