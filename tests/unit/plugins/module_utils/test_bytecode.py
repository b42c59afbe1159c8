"""The bytecode cache of the collection's code run from AnsiballZ's zip: compiled once, read back while the
source is the same, compiled again when it changed or the cache is damaged, never used from a directory others
may write into; and a real zip imported in a fresh interpreter the way AnsiballZ does it."""
from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _bytecode

REPO = Path(__file__).resolve().parents[4]
PACKAGE = "ansible_collections/ksef/credentials/plugins/module_utils"


def test_code_is_compiled_once_then_read_from_the_cache(tmp_path, monkeypatch):
    cache = str(tmp_path / "m.pyc")
    first = _bytecode.cached_code(b"VALUE = 6 * 7\n", "m.py", cache)
    monkeypatch.setattr(builtins, "compile", lambda *a, **k: pytest.fail("compiled again"))
    again = _bytecode.cached_code(b"VALUE = 6 * 7\n", "m.py", cache)
    namespace: dict = {}
    exec(again, namespace)
    assert namespace["VALUE"] == 42 and again.co_filename == first.co_filename == "m.py"
    assert oct(os.stat(cache).st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("damage", [b"", b"garbage", None])
def test_a_changed_source_or_a_damaged_file_is_compiled_again_and_replaced(tmp_path, damage):
    cache = tmp_path / "m.pyc"
    _bytecode.cached_code(b"VALUE = 1\n", "m.py", str(cache))
    if damage is not None:  # None: the file is intact, the source below is another one
        cache.write_bytes(damage)
    namespace: dict = {}
    exec(_bytecode.cached_code(b"VALUE = 2\n", "m.py", str(cache)), namespace)
    assert namespace["VALUE"] == 2
    namespace.clear()
    exec(_bytecode.cached_code(b"VALUE = 2\n", "m.py", str(cache)), namespace)
    assert namespace["VALUE"] == 2


def test_a_directory_others_may_write_into_is_not_used(tmp_path):
    directory = tmp_path / "cache"
    assert _bytecode.cache_directory(str(directory)) == str(directory)
    assert oct(directory.stat().st_mode & 0o777) == "0o700"
    directory.chmod(0o777)
    assert _bytecode.cache_directory(str(directory)) is None
    (tmp_path / "file").write_text("")
    assert _bytecode.cache_directory(str(tmp_path / "file" / "cache")) is None  # cannot be created
    # No cache: the code is compiled and nothing is written.
    namespace: dict = {}
    exec(_bytecode.cached_code(b"VALUE = 3\n", "m.py", None), namespace)
    assert namespace["VALUE"] == 3


IMPORTER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.ksef.credentials.plugins.module_utils import _bytecode
from ansible_collections.ksef.credentials.plugins.module_utils._sample import sub
from ansible_collections.ksef.credentials.plugins.module_utils._sample.sub import answer, where
loader = type(sys.modules["ansible_collections.ksef.credentials.plugins.module_utils._sample.sub"].__loader__)
print(json.dumps({"answer": answer(), "where": where(), "file": sub.__file__, "loader": loader.__name__}))
"""


def test_a_zip_like_ansiballz_loads_the_collection_through_the_cache(tmp_path):
    """_bytecode imported from a zip installs the finder: the package and module below it come from the cache
    (written on the first run, unchanged by the second), with their __file__ inside the zip."""
    payload = tmp_path / "payload.zip"
    with zipfile.ZipFile(payload, "w") as zipped:
        for package in ("ansible_collections", "ansible_collections/ksef", "ansible_collections/ksef/credentials",
                        "ansible_collections/ksef/credentials/plugins", PACKAGE, PACKAGE + "/_sample"):
            zipped.writestr(package + "/__init__.py", "")
        zipped.write(REPO / "plugins" / "module_utils" / "_bytecode.py", PACKAGE + "/_bytecode.py")
        zipped.writestr(PACKAGE + "/_sample/sub.py", "def answer():\n    return 42\n\n"
                                                     "def where():\n    return where.__code__.co_filename\n")
    cache = tmp_path / "cache"
    env = dict(os.environ, KSEF_BYTECODE_DIR=str(cache), PYTHONDONTWRITEBYTECODE="1")
    runs = []
    for _attempt in range(2):
        done = subprocess.run([sys.executable, "-c", IMPORTER, str(payload)], env=env, capture_output=True,
                              text=True, check=True, cwd=tmp_path)
        runs.append((json.loads(done.stdout), {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}))
    (first, written), (second, kept) = runs
    sub = "%s/_sample/sub.py" % PACKAGE
    assert first == second == {"answer": 42, "where": sub, "file": "%s/%s" % (payload, sub),
                               "loader": "CachedZipLoader"}
    tag = sys.implementation.cache_tag
    assert sorted(written) == sorted("ansible_collections.ksef.credentials.plugins.module_utils.%s.%s.pyc" % (name, tag)
                                     for name in ("_sample", "_sample.sub"))
    assert kept == written  # the second run read them, it wrote nothing
