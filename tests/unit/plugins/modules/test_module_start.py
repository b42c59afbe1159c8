"""What a module process loads at its start, before it reads an option: every module run is a fresh Python process,
so what the code of `tokens` and `credentials` imports and executes at module level is paid by every task of every
host. Checked in a fresh interpreter: the libraries a run may need only for some declarations are not loaded, the
patterns of rare identifiers are not compiled, and no dataclass renders its signature as its docstring."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]

START = """
import dataclasses, json, re, sys
sys.path.insert(0, sys.argv[1])
compiled = []
compile_pattern = re.compile
re.compile = lambda pattern, flags=0: compiled.append(pattern) or compile_pattern(pattern, flags)
import ansible_collections.ksef.credentials.plugins.modules.tokens
import ansible_collections.ksef.credentials.plugins.modules.credentials
from ansible_collections.ksef.credentials.plugins.module_utils import _certificate_bundle
started, own_patterns = sorted(sys.modules), [p for p in compiled if isinstance(p, str)]
# A dataclass without a docstring renders its signature into __doc__ when it is defined: none does, on the start
# path or off it.
import importlib, pkgutil
from ansible_collections.ksef.credentials.plugins import module_utils
for found in pkgutil.walk_packages(module_utils.__path__, module_utils.__name__ + "."):
    importlib.import_module(found.name)
own = {name: module for name, module in sys.modules.items() if name.startswith("ansible_collections.ksef")}
undocumented = [f"{name}.{key}" for name, module in own.items() for key, value in vars(module).items()
                if dataclasses.is_dataclass(value) and value.__module__ == name
                and (value.__doc__ or "").startswith(value.__name__ + "(")]
print(json.dumps({"modules": started, "own": own_patterns,
                  "x509": _certificate_bundle.x509 is not None, "undocumented": undocumented}))
"""


def test_the_start_of_tokens_and_credentials_leaves_out_what_only_some_runs_need():
    started = subprocess.run([sys.executable, "-c", START, str(REPO / ".collections")], capture_output=True,
                             text=True, check=True, timeout=120)
    seen = json.loads(started.stdout)
    modules = set(seen["modules"])
    assert "ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate" in modules  # it did run
    assert seen["x509"]  # cryptography itself is there: reading a certificate needs nothing more
    # Loaded with a certificate's private key or a PKCS#12 file only (SSH keys, ciphers and bcrypt come with it).
    assert not {m for m in modules if m.startswith("cryptography.hazmat.primitives.serialization")}
    assert "bcrypt" not in modules
    # The bytecode cache's loader needs no ABC (importlib.abc loads importlib.resources).
    assert "importlib.abc" not in modules
    # The NipVatUe context and an EU entity's VAT UE number: compiled when such an identifier is checked.
    assert seen["own"] and not [p for p in seen["own"] if "ATU" in p]
    assert seen["undocumented"] == []
