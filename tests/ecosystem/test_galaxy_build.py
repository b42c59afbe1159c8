"""The release tarball from `ansible-galaxy collection build`: what must be in it and what must never be."""
from __future__ import annotations

import fnmatch
import re
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Never shipped: local environments, build and test output, caches, packaging leftovers.
FORBIDDEN_TOP_LEVEL = {".venv", ".collections", "build", ".git", ".ci", ".ansible", ".tox", ".pytest_cache",
                       ".hypothesis"}
FORBIDDEN_ANYWHERE = ["__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", ".hypothesis", ".mypy_cache",
                      ".ruff_cache", "*.tar.gz", "*.retry", "*.log"]
FORBIDDEN_PATHS = ["tests/output", "tests/output/*", "bench/results.json"]
# Names that hold key material or token values.
SECRET_NAMES = ["*.pem", "*.key", "*.crt", "*.p12", "*.pfx", "*.token", "*.env", ".env", "*vault_pass*",
                "*vault-pass*"]
PRIVATE_KEY = re.compile(rb"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----")

REQUIRED = ["MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml", "meta/execution-environment.yml",
            "requirements.txt", "bindep.txt", "docs/examples/demo.yml"]


def members(tarball) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tarball) as archive:
        return {m.name.rstrip("/"): m for m in archive.getmembers()}


def test_tarball_has_no_local_artefacts_caches_or_secrets(collection_tarball):
    names = members(collection_tarball)
    problems = []
    for name in sorted(names):
        parts = name.split("/")
        if parts[0] in FORBIDDEN_TOP_LEVEL:
            problems.append(f"{name}: local environment or build output")
        elif any(fnmatch.fnmatch(part, pattern) for part in parts for pattern in FORBIDDEN_ANYWHERE):
            problems.append(f"{name}: cache or packaging artefact")
        elif any(fnmatch.fnmatch(name, pattern) for pattern in FORBIDDEN_PATHS):
            problems.append(f"{name}: test output")
        elif any(fnmatch.fnmatch(parts[-1], pattern) for pattern in SECRET_NAMES):
            problems.append(f"{name}: looks like key material or a token file")
    assert not problems, "the release tarball contains what it must not:\n" + "\n".join(problems)


def test_tarball_contains_no_private_key(collection_tarball):
    with tarfile.open(collection_tarball) as archive:
        offenders = [m.name for m in archive.getmembers()
                     if m.isfile() and PRIVATE_KEY.search(archive.extractfile(m).read())]
    assert not offenders, f"PEM private keys in the release tarball: {offenders}"


def test_tarball_ships_the_collection_content(collection_tarball):
    names = members(collection_tarball)
    missing = [path for path in REQUIRED if path not in names]
    plugin_files = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "plugins").rglob("*.py")
                          if "__pycache__" not in p.parts)
    missing += [path for path in plugin_files if path not in names]
    assert not missing, f"missing from the release tarball: {missing}"
