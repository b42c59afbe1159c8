"""Store tests: real files, a real Vault KV v2 test server over HTTP, a real moto_server over HTTP."""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[5]
if str(REPO) not in sys.path:  # `tests.support` must import however pytest was started
    sys.path.insert(0, str(REPO))

from tests.support.fixtures import aws_endpoint, moto_server, vault_server  # noqa: E402,F401
