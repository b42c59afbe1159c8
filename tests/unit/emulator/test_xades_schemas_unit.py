"""Every XML schema the XAdES check uses is built when ksef_emulator.xades is imported, not by a first request.

libxml2 is not thread-safe while it builds a schema; built lazily, parallel first requests could break it for the
life of the process. A fresh interpreter shows what importing the module alone has built.
"""
from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json
from signxml import XMLVerifier
from signxml.xades import XAdESVerifier
assert "_schemas" not in XMLVerifier.__dict__ and "_schemas" not in XAdESVerifier.__dict__
from ksef_emulator import xades
print(json.dumps({"auth": sorted(xades._SCHEMAS), "xmldsig": len(XMLVerifier.__dict__.get("_schemas", [])),
                  "xades": len(XAdESVerifier.__dict__.get("_schemas", []))}))
"""


def test_importing_the_module_builds_every_schema_before_any_request():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    built = json.loads(done.stdout)
    assert built["auth"] == ["2.0", "2.1"]
    assert built["xmldsig"] >= 1 and built["xades"] >= 1
