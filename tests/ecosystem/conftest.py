"""Fixtures for the ecosystem checks: the collection built by ansible-galaxy and installed from the tarball."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def _tool_env(**extra: str) -> dict[str, str]:
    """Environment for ansible tools that sees only what a test points it at, never the working tree."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               NO_COLOR="1", ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False")
    env.update(extra)
    return env


def _run_tool(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600,
              expect_rc: int | None = 0) -> subprocess.CompletedProcess:
    """Run a command and fail the test with its full output when the exit code is not `expect_rc`."""
    proc = subprocess.run(cmd, cwd=cwd, env=env or _tool_env(), capture_output=True, text=True, timeout=timeout,
                          check=False)
    if expect_rc is not None and proc.returncode != expect_rc:
        pytest.fail(f"{' '.join(cmd)} exited with {proc.returncode} (expected {expect_rc})\n"
                    f"--- stdout ---\n{proc.stdout[-20000:]}\n--- stderr ---\n{proc.stderr[-8000:]}", pytrace=False)
    return proc


@pytest.fixture(scope="session")
def tool_env():
    """`tool_env(**extra)`: an environment for ansible tools without the developer's ANSIBLE_* settings."""
    return _tool_env


@pytest.fixture(scope="session")
def run_tool():
    """`run_tool(cmd, cwd=, env=, timeout=, expect_rc=0)`: run a command, fail with its output on a bad exit code."""
    return _run_tool


@pytest.fixture(scope="session")
def collection_tarball(tmp_path_factory) -> Path:
    """`ansible-galaxy collection build` of the working tree, into a fresh directory."""
    out = tmp_path_factory.mktemp("galaxy-build")
    # An empty ANSIBLE_CONFIG file keeps the repository's ansible.cfg out of the build.
    config = out / "empty-ansible.cfg"
    config.write_text("")
    _run_tool([str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(REPO)],
              cwd=out, env=_tool_env(ANSIBLE_CONFIG=str(config)))
    tarballs = sorted(out.glob("*.tar.gz"))
    assert len(tarballs) == 1, f"expected one tarball in {out}, found {tarballs}"
    return tarballs[0]


@pytest.fixture(scope="session")
def installed_collections(collection_tarball, tmp_path_factory) -> Path:
    """An empty collections path with only the tarball installed into it (the COLLECTIONS_PATH root)."""
    root = tmp_path_factory.mktemp("galaxy-install")
    config = root / "empty-ansible.cfg"
    config.write_text("")
    install_dir = root / "collections"
    _run_tool([str(VENV_BIN / "ansible-galaxy"), "collection", "install", "--offline", str(collection_tarball),
              "-p", str(install_dir)], cwd=root, env=_tool_env(ANSIBLE_CONFIG=str(config)))
    assert (install_dir / "ansible_collections" / "ksef" / "credentials" / "MANIFEST.json").is_file()
    return install_dir
