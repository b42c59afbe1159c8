"""Copy the working tree to build/ansible_collections/ksef/credentials for ansible-test.

ansible-test must run with the collection at `.../ansible_collections/<namespace>/<name>` as the current
directory and resolves symlinks, so the .collections link used by ansible-playbook does not work for it.
The copy skips what is not the collection's content: virtual environments, the collections link,
build output, git metadata, test output and caches. Files deleted from the working tree are deleted
from the copy too; the copy's own tests/output/ stays, because ansible-test keeps the virtual
environment it delegates to there and recreating it costs tens of seconds per run.

The copy gets an empty git repository of its own: ansible-test lists content with `git ls-files` from
the nearest enclosing .git, and the nearest one would otherwise be this repository's, where build/ is
ignored, so ansible-test would see no files at all.

Usage: python scripts/collection_tree.py [DESTINATION_ROOT]   (default: build/)
Prints the path of the copied collection.
"""
from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent

# Top-level entries that are never part of the collection's content.
SKIP_TOP_LEVEL = {".venv", ".collections", "build", ".git", ".ci", ".tox", ".nox", ".ansible"}
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


# Entries of the copy that are not mirrored from the working tree and survive a refresh.
KEEP_IN_COPY = {Path(".git"), Path("tests/output")}


def _is_mirrored(source: Path) -> bool:
    """True when the working-tree path exists and is copied (not filtered out)."""
    return source.exists() and source.name not in _ignore(str(source.parent), [source.name])


def _remove_stale(target: Path) -> None:
    """Delete what the copy holds but the working tree (after filtering) does not."""
    for directory, dir_names, file_names in os.walk(target):
        relative_dir = Path(directory).relative_to(target)
        for name in list(dir_names):
            copied, source = Path(directory) / name, REPO / relative_dir / name
            if relative_dir / name in KEEP_IN_COPY:
                dir_names.remove(name)
            elif not (_is_mirrored(source) and source.is_dir()):
                if copied.is_symlink():
                    copied.unlink()
                else:
                    shutil.rmtree(copied)
                dir_names.remove(name)
        for name in file_names:
            source = REPO / relative_dir / name
            if not (_is_mirrored(source) and not source.is_dir()):
                (Path(directory) / name).unlink()


def copy_collection(destination_root: Path) -> Path:
    target = collection_dir(destination_root)
    if target.exists():
        _remove_stale(target)
    shutil.copytree(REPO, target, ignore=_ignore, symlinks=True, dirs_exist_ok=True)
    if not (target / ".git").exists():
        subprocess.run(["git", "init", "--quiet", str(target)], check=True)
    return target


def main(argv: list[str]) -> int:
    destination_root = Path(argv[0]).resolve() if argv else REPO / "build"
    print(copy_collection(destination_root))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
