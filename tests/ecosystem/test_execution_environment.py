"""Execution environments (AWX / Automation Platform): ansible-builder finds every dependency of the collection.

Two views of meta/execution-environment.yml:
- as a dependency of someone's EE: `ansible-builder introspect` on the collection installed from the tarball
  (the step that runs inside the image build) reports requirements.txt and bindep.txt;
- as an EE definition: `ansible-builder create` with it (next to the files it names, as in the collection
  root) generates a build context that carries those requirements and the declared base image.
"""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# ansible-builder drops these from a collection's requirements on purpose: ansible-core brings them.
PROVIDED_BY_ANSIBLE_CORE = {"pyyaml"}


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[\s<>=!~;\[]", line, maxsplit=1)[0].lower())
    return names


def bindep_names(path: Path) -> set[str]:
    return {line.split()[0] for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")}


def test_metadata_is_version_3_and_names_files_that_exist():
    meta = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    assert meta["version"] == 3
    assert meta["images"]["base_image"]["name"]
    # ansible-builder resolves these against the installed collection's root, not against meta/.
    for key in ("python", "system"):
        assert (REPO / meta["dependencies"][key]).is_file(), f"dependencies.{key}: {meta['dependencies'][key]}"


def test_introspect_of_the_installed_collection_reports_its_requirements(installed_collections, run_tool, tmp_path):
    pip_out, bindep_out = tmp_path / "pip.txt", tmp_path / "bindep.txt"
    run_tool([str(VENV_BIN / "ansible-builder"), "introspect", "--write-pip", str(pip_out),
              "--write-bindep", str(bindep_out), str(installed_collections)], cwd=tmp_path)
    expected_python = requirement_names(REPO / "requirements.txt")
    assert {"httpx", "cryptography", "lxml", "signxml", "pyyaml"} <= expected_python
    assert expected_python - PROVIDED_BY_ANSIBLE_CORE <= requirement_names(pip_out), pip_out.read_text()
    assert bindep_names(REPO / "bindep.txt") <= bindep_names(bindep_out), bindep_out.read_text()
    assert "ksef.credentials" in pip_out.read_text()  # each line names the collection that asked for it


def test_ansible_builder_create_generates_a_context_with_the_dependencies(run_tool, tmp_path):
    definition_dir = tmp_path / "definition"
    definition_dir.mkdir()
    shutil.copy(REPO / "meta" / "execution-environment.yml", definition_dir / "execution-environment.yml")
    meta = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    for key in ("python", "system"):
        shutil.copy(REPO / meta["dependencies"][key], definition_dir / meta["dependencies"][key])
    context = tmp_path / "context"

    run_tool([str(VENV_BIN / "ansible-builder"), "create", "--file", str(definition_dir / "execution-environment.yml"),
              "--context", str(context), "--output-filename", "Containerfile"], cwd=definition_dir)

    build = context / "_build"
    assert requirement_names(build / "requirements.txt") == requirement_names(REPO / "requirements.txt")
    assert bindep_names(build / "bindep.txt") == bindep_names(REPO / "bindep.txt")
    containerfile = (context / "Containerfile").read_text()
    assert f"ARG EE_BASE_IMAGE=\"{meta['images']['base_image']['name']}\"" in containerfile
    assert "requirements.txt" in containerfile and "bindep.txt" in containerfile
    assert "ansible-core" in containerfile
