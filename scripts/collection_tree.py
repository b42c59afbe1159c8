"""Copy the working tree to build/ansible_collections/ksef/credentials for ansible-test.

ansible-test must run with the collection at `.../ansible_collections/<namespace>/<name>` as the current
directory and resolves symlinks, so the .collections link used by ansible-playbook does not work for it.
The copy skips what is not the collection's content: virtual environments, the collections link,
build output, git metadata, test output and caches. It is recreated from scratch on each run so
files deleted from the working tree do not linger in it.

The copy gets an empty git repository of its own: ansible-test lists content with `git ls-files` from
the nearest enclosing .git, and the nearest one would otherwise be this repository's, where build/ is
ignored, so ansible-test would see no files at all.

Usage: python scripts/collection_tree.py [DESTINATION_ROOT]   (default: build/)
Prints the path of the copied collection.
"""
from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent

# Top-level entries that are never part of the collection's content.
SKIP_TOP_LEVEL = {".venv", ".collections", "build", ".git", ".ci", ".tox", ".ansible"}
# Paths relative to the repository root.
SKIP_RELATIVE = {"tests/output", "bench/results.json"}
# Names skipped at any depth: caches, packaging metadata, built artefacts.
SKIP_ANY_DEPTH = ["__pycache__", "*.pyc", ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache",
                  "*.egg-info", "*.tar.gz", ".DS_Store"]


def collection_dir(destination_root: Path) -> Path:
    meta = yaml.safe_load((REPO / "galaxy.yml").read_text())
    return destination_root / "ansible_collections" / meta["namespace"] / meta["name"]


def _ignore(directory: str, names: list[str]) -> set[str]:
    relative_dir = Path(directory).resolve().relative_to(REPO)
    ignored = set()
    for name in names:
        relative = (relative_dir / name).as_posix()
        if relative_dir == Path(".") and name in SKIP_TOP_LEVEL:
            ignored.add(name)
        elif relative in SKIP_RELATIVE or any(fnmatch.fnmatch(name, pattern) for pattern in SKIP_ANY_DEPTH):
            ignored.add(name)
    return ignored


def copy_collection(destination_root: Path) -> Path:
    target = collection_dir(destination_root)
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO, target, ignore=_ignore, symlinks=True)
    subprocess.run(["git", "init", "--quiet", str(target)], check=True)
    return target


def main(argv: list[str]) -> int:
    destination_root = Path(argv[0]).resolve() if argv else REPO / "build"
    print(copy_collection(destination_root))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
