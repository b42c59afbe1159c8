# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find KSeF credentials committed in plain text: KSeF token values, KSeF access/refresh tokens, private keys.

The pre-commit hook (`.pre-commit-hooks.yaml`, id `ksef-committed-secret`) runs this file on the staged files; the
ansible-lint rule (extensions/ansible_lint/ksef_committed_secret.py) runs `scan()` on every file it lints.
Standard library only, so both run anywhere. A finding names the file, the line and the kind of secret, never the
secret. Content encrypted with ansible-vault (`$ANSIBLE_VAULT;` files and `!vault` values) is hex and never matches.
A line that carries `ksef-secret-scan: ignore` is skipped (a documented example, say).
"""

from __future__ import annotations

import base64
import bisect
import binascii
import json
import re
import sys
from dataclasses import dataclass

IGNORE_MARK = "ksef-secret-scan: ignore"

# A KSeF token value: `{reference number}|{context type}-{context value}|{64 hex}` (open-api.json, POST /tokens).
_KSEF_TOKEN = re.compile(
    r"\b\d{8}-EC-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2}\|[A-Za-z]+-[0-9A-Za-z-]{1,64}\|[0-9a-fA-F]{64}\b"
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.(eyJ[A-Za-z0-9_-]{8,})\.[A-Za-z0-9_-]{8,}")
# Claims of the JWTs KSeF issues (access, refresh and operation tokens).
_KSEF_JWT_CLAIMS = ("token-type", "context-identifier-type", "operation-reference-number")
# Split so that this file does not look like a key itself.
_PEM_BEGIN = re.compile("-----" + r"BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?)PRIVATE KEY" + "-----")
_PEM_ENCRYPTED_HEADER = re.compile(r"^\s*Proc-Type:\s*4,ENCRYPTED", re.MULTILINE)


@dataclass(frozen=True)
class Finding:
    line: int
    kind: str
    message: str


def _ksef_jwt(payload: str) -> bool:
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return False
    return isinstance(claims, dict) and any(name in claims for name in _KSEF_JWT_CLAIMS)


def _plain_private_key(text: str, match: re.Match) -> bool:
    if match.group(1) == "ENCRYPTED ":
        return False
    # A traditional OpenSSL key encrypted with a passphrase says so in the lines after BEGIN.
    return not _PEM_ENCRYPTED_HEADER.search(text, match.end(), match.end() + 200)


def scan(text: str) -> list[Finding]:
    """Every plain-text KSeF credential in `text`, in line order."""
    findings = []
    line_of = _LineIndex(text)
    for match in _KSEF_TOKEN.finditer(text):
        findings.append(Finding(line_of(match.start()), "ksef-token", "a KSeF token value"))
    for match in _JWT.finditer(text):
        if _ksef_jwt(match.group(1)):
            findings.append(Finding(line_of(match.start()), "ksef-jwt", "a KSeF access, refresh or operation token"))
    for match in _PEM_BEGIN.finditer(text):
        if _plain_private_key(text, match):
            findings.append(Finding(line_of(match.start()), "private-key", "an unencrypted private key"))
    lines = text.splitlines()
    return sorted(
        (f for f in findings if IGNORE_MARK not in lines[f.line - 1]),
        key=lambda f: (f.line, f.kind),
    )


class _LineIndex:
    """1-based line number of a character offset."""

    def __init__(self, text: str):
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def __call__(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)


ADVICE = (
    "encrypt it (ansible-vault encrypt_string) or keep it in a secret store and read it at run time; "
    "then revoke it, since it is in the history (docs/security.md)"
)


def main(paths: list[str]) -> int:
    failed = 0
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError as exc:
            print(f"{path}: cannot read ({exc.strerror})", file=sys.stderr)
            failed = 1
            continue
        for finding in scan(text):
            print(f"{path}:{finding.line}: [{finding.kind}] {finding.message} in plain text; {ADVICE}")
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
