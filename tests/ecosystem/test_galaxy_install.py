"""The collection installed from its release tarball works like any Galaxy collection.

Nothing here sees the working tree: ANSIBLE_COLLECTIONS_PATH points only at the directory that
`ansible-galaxy collection install` filled, and sys.path scanning for collections is off.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if not p.stem.startswith("_"))


def installed_env(tool_env, installed_collections: Path, tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\ncollections_scan_sys_path = False\n")
    return tool_env(ANSIBLE_CONFIG=str(config), ANSIBLE_COLLECTIONS_PATH=str(installed_collections))


def test_every_module_is_listed_and_documented_from_the_installed_copy(installed_collections, tool_env, run_tool,
                                                                       tmp_path):
    assert MODULES, "plugins/modules/ has no modules"
    env = installed_env(tool_env, installed_collections, tmp_path)
    listed = json.loads(run_tool([str(VENV_BIN / "ansible-doc"), "-t", "module", "-l", "ksef.credentials", "-j"],
                                 cwd=tmp_path, env=env).stdout)
    assert sorted(listed) == [f"ksef.credentials.{name}" for name in MODULES]

    docs = json.loads(run_tool([str(VENV_BIN / "ansible-doc"), "-t", "module", "-j",
                                *[f"ksef.credentials.{name}" for name in MODULES]], cwd=tmp_path, env=env).stdout)
    installed_root = installed_collections / "ansible_collections" / "ksef" / "credentials"
    for name in MODULES:
        entry = docs[f"ksef.credentials.{name}"]
        doc = entry["doc"]
        assert Path(doc["filename"]).resolve().is_relative_to(installed_root.resolve()), doc["filename"]
        assert doc.get("short_description"), f"{name}: no short_description"
        assert doc.get("options"), f"{name}: no options documented"
        assert entry.get("examples"), f"{name}: no EXAMPLES"
        assert entry.get("return") is not None, f"{name}: no RETURN"


@pytest.mark.integration
@pytest.mark.xfail(not (REPO / "plugins" / "modules" / "token.py").exists(), strict=False,
                   reason="the demo needs plugins/modules/token.py")
def test_demo_playbook_runs_from_the_installed_copy(installed_collections, emulator_factory, run_playbook, tool_env,
                                                    tmp_path):
    from ksef_emulator import testcerts  # the emulator package; only this test needs it

    emulator = emulator_factory("--activation-delay", "0.3")
    nip = testcerts.random_nip()
    cert = testcerts.generate_certificate(tmp_path / "cert", nip=nip, kind="person")
    secrets = tmp_path / "secrets"
    demo = installed_collections / "ansible_collections" / "ksef" / "credentials" / "docs" / "examples" / "demo.yml"
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\ncollections_scan_sys_path = False\n")
    env = {"ANSIBLE_CONFIG": str(config), "ANSIBLE_COLLECTIONS_PATH": str(installed_collections)}
    extra_vars = {"ksef_api_url": emulator.api_url, "ksef_nip": nip, "ksef_certificate": str(cert.cert_path),
                  "ksef_private_key": str(cert.key_path), "ksef_output_dir": str(secrets)}

    first = run_playbook(demo, extra_vars, env=env)
    assert first.recap_changed >= 3, first.stdout
    # Next to each file, the lock its writers take turns with (docs/stores.md).
    assert sorted(p.name for p in secrets.iterdir()) == [
        ".accounting-reader.token.lock", ".audit-reader.json.lock", ".erp-invoice-sender.env.lock",
        "accounting-reader.token", "audit-reader.json", "erp-invoice-sender.env"]
    second = run_playbook(demo, extra_vars, env=env)
    assert second.recap_changed == 0, second.stdout
