# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-lint rule `ksef-committed-secret`: a KSeF credential in plain text in a playbook, inventory or vars file.

Use it with `rulesdir` in `.ansible-lint` (docs/security.md). The checks are those of the pre-commit hook, loaded
from extensions/secret_scan so both give the same answer.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from ansiblelint.rules import AnsibleLintRule

_SCANNER = Path(__file__).resolve().parent.parent / "secret_scan" / "ksef_secret_scan.py"
_spec = importlib.util.spec_from_file_location("ksef_secret_scan", _SCANNER)
if _spec is None or _spec.loader is None:
    raise ImportError(f"cannot load {_SCANNER}")
ksef_secret_scan = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("ksef_secret_scan", ksef_secret_scan)  # dataclasses look their module up
_spec.loader.exec_module(ksef_secret_scan)


class KsefCommittedSecretRule(AnsibleLintRule):
    """KSeF credentials must not be committed in plain text."""

    id = "ksef-committed-secret"
    description = (
        "A KSeF token value, a KSeF access or refresh token, or an unencrypted private key in plain text lets anyone "
        "who reads the repository issue and read invoices in the company's name. "
        + ksef_secret_scan.ADVICE.capitalize()
        + "."
    )
    severity = "VERY_HIGH"
    tags = ["security"]
    version_changed = "1.0.0"

    def matchlines(self, file):
        # Not the base class's line matcher: it would put the offending line (the secret) into the report.
        if not str(file.base_kind).startswith("text/"):
            return []
        return [
            self.create_matcherror(message=f"{finding.message} in plain text", lineno=finding.line, filename=file)
            for finding in ksef_secret_scan.scan(file.content)
        ]
