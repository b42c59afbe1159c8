# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's code compiled once, and kept for the next module runs.

A module runs from the zip AnsiballZ sends, and Python's zipimport keeps no bytecode: every run compiles every
file of the collection it imports, twice (once to learn the file's name while the import spec is built, once to
run it). Importing this module first puts a finder ahead of zipimport for this collection's own modules: it
builds the spec from the zip's table of contents, and loads the code from a bytecode cache checked against the
hash of the source (Python's hash-based .pyc), compiling only what the cache does not hold yet.

The cache is one .pyc per module under ~/.ansible/tmp/ksef-bytecode/ (KSEF_BYTECODE_DIR overrides), used only
when the directory is the user's own and writable by nobody else; a file that does not match the source in the
zip is compiled again and replaced. It is the collection's own cache in Ansible's temporary directory, like the
pacing state, so it is written whatever PYTHONDONTWRITEBYTECODE says (that switch is about Python's __pycache__
next to installed sources).
Any problem with the cache falls back to compiling. Run from source (tests, a checkout) nothing is installed.
"""

from __future__ import annotations

import marshal
import os
import sys
import tempfile
import zipimport
from importlib.machinery import ModuleSpec
from importlib.util import MAGIC_NUMBER, source_hash

_OWN = "ansible_collections.ksef.credentials."
DEFAULT_DIRECTORY = os.path.join("~", ".ansible", "tmp", "ksef-bytecode")
_CHECKED_HASH = (3).to_bytes(4, "little")  # PEP 552 flags: hash-based, checked against the source


def cache_directory(directory: str | None = None) -> str | None:
    """The cache directory, created 0700; None when it is not the user's own or others may write into it."""
    path = os.path.expanduser(directory or os.environ.get("KSEF_BYTECODE_DIR") or DEFAULT_DIRECTORY)
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        status = os.stat(path)
    except OSError:
        return None
    if status.st_uid != os.getuid() or status.st_mode & 0o022:
        return None
    return path


def cached_code(source: bytes, filename: str, cache_file: str | None):
    """The code of `source`: from `cache_file` when it was compiled from this very source, else compiled (and
    written there for the next run)."""
    header = MAGIC_NUMBER + _CHECKED_HASH + source_hash(source)
    if cache_file is not None:
        try:
            with open(cache_file, "rb") as handle:
                data = handle.read()
            if data[: len(header)] == header:
                return marshal.loads(data[len(header) :])
        except (OSError, ValueError, EOFError, TypeError):
            pass  # missing or damaged: compiled again below
    code = compile(source, filename, "exec", dont_inherit=True)
    if cache_file is not None:
        _write(cache_file, header + marshal.dumps(code))
    return code


def _write(path: str, data: bytes) -> None:
    """Replace `path` atomically (0600), so that a concurrent run reads the old file or the new one, never half."""
    try:
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".bytecode-")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass


class CachedZipLoader:
    """Loads a module of this collection from the zip through the bytecode cache; the rest is zipimport's. What the
    import system calls is all it needs: importlib.abc's Loader would load importlib.resources at every start."""

    def __init__(self, importer: zipimport.zipimporter, directory: str | None):
        self._importer = importer
        self._directory = directory

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module) -> None:
        exec(self.get_code(module.__spec__.name), module.__dict__)  # noqa: S102 - the collection's own code

    def get_code(self, fullname: str):
        inner = fullname.replace(".", "/") + ("/__init__.py" if self._importer.is_package(fullname) else ".py")
        cache_file = None
        if self._directory is not None:
            cache_file = os.path.join(self._directory, "%s.%s.pyc" % (fullname, sys.implementation.cache_tag))
        # The file name inside the zip, not the zip's temporary path: stable for the cache and still says where.
        return cached_code(self._importer.get_data(inner), inner, cache_file)

    def get_source(self, fullname: str):
        return self._importer.get_source(fullname)

    def is_package(self, fullname: str) -> bool:
        return self._importer.is_package(fullname)


class ZipSpecFinder:
    """The import spec of a module of this collection inside a zip, without compiling it."""

    def __init__(self, directory: str | None):
        self._directory = directory

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(_OWN) or not path:
            return None
        for entry in path:
            importer = sys.path_importer_cache.get(entry)
            if importer is None:
                try:
                    importer = sys.path_importer_cache[entry] = zipimport.zipimporter(entry)
                except zipimport.ZipImportError:
                    return None  # not inside a zip: the usual finders
            if not isinstance(importer, zipimport.zipimporter):
                return None
            try:
                package = importer.is_package(fullname)  # the table of contents only
            except zipimport.ZipImportError:
                continue
            location = "%s/%s" % (entry, fullname.rpartition(".")[2])
            spec = ModuleSpec(
                fullname,
                CachedZipLoader(importer, self._directory),  # type: ignore[arg-type]  # a loader, without the ABC
                origin=location + ("/__init__.py" if package else ".py"),
                is_package=package,
            )
            if package:
                spec.submodule_search_locations = [location]
            spec.has_location = True  # __file__, as zipimport's own spec sets it
            return spec
        return None


def install() -> None:
    """Put the finder first, once, when this module itself was loaded from a zip."""
    if isinstance(globals().get("__loader__"), zipimport.zipimporter) and not any(
        isinstance(finder, ZipSpecFinder) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, ZipSpecFinder(cache_directory()))


install()
