"""The file store on the real filesystem: formats, atomic replace, mode/owner/group, backup, ansible-vault."""
from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import (
    StoreConfigError, StoreError, build_stores)
from tests.support.ansible_module import make_module
from tests.support.token_values import meta_for, token_value


def _ansible_vault_program() -> str:
    """ansible-vault of this interpreter's ansible-core: next to sys.executable in a virtual environment,
    otherwise on PATH (ansible-test units puts its own ansible programs there)."""
    beside = Path(sys.executable).parent / "ansible-vault"
    found = str(beside) if beside.exists() else shutil.which("ansible-vault")
    assert found, "ansible-vault is neither next to %s nor on PATH" % sys.executable
    return found


ANSIBLE_VAULT = _ansible_vault_program()


def file_store(**options):
    """A file store built through a real AnsibleModule and build_stores, as the token module does."""
    module = make_module([{"type": "file", **options}])
    return build_stores(module, module.params["store"])[0], module


def leftovers(directory: Path, name: str) -> list[str]:
    """Temp files of a write left in the directory (the lock file stays by design)."""
    return [p.name for p in directory.iterdir() if p.name.startswith(f".{name}.") and p.name != f".{name}.lock"]


@pytest.mark.parametrize("fmt", ["raw", "env", "json", "yaml"])
def test_every_format_round_trips_and_registers_the_secret(tmp_path, fmt):
    store, module = file_store(path=str(tmp_path / "erp.token"), format=fmt)
    assert store.read() is None
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    held = store.read()
    assert held.value == value and held.reference_number == ref and held.version is None
    assert value in module.no_log_values
    assert value not in store.label and value not in repr(held)
    assert stat.S_IMODE(os.stat(tmp_path / "erp.token").st_mode) == 0o600
    assert leftovers(tmp_path, "erp.token") == []
    text = (tmp_path / "erp.token").read_text()
    expected = {"raw": f"{value}\n", "env": f"KSEF_TOKEN={value}\n",
                "json": json.dumps({"token": value}, indent=2) + "\n", "yaml": yaml.safe_dump({"token": value})}
    assert text == expected[fmt]


def test_env_keeps_other_lines_quotes_and_export(tmp_path):
    path = tmp_path / "app.env"
    path.write_text("# app settings\nexport DB_URL=postgres://db\nKSEF_TOKEN='old'\nLOG=debug\n")
    store, _module = file_store(path=str(path), format="env")
    assert store.read().value == "old"
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    assert path.read_text() == f"# app settings\nexport DB_URL=postgres://db\nKSEF_TOKEN='{value}'\nLOG=debug\n"
    other, _module = file_store(path=str(path), format="env", key="DB_URL")
    assert other.read().value == "postgres://db"


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_json_and_yaml_keep_other_keys(tmp_path, fmt):
    path = tmp_path / f"conf.{fmt}"
    original = {"endpoint": "https://ksef.example", "retries": 3, "nested": {"a": [1, 2]}}
    path.write_text(json.dumps(original) if fmt == "json" else yaml.safe_dump(original))
    store, _module = file_store(path=str(path), format=fmt, key="ksef_token")
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    data = json.loads(path.read_text()) if fmt == "json" else yaml.safe_load(path.read_text())
    assert data == {**original, "ksef_token": value}
    store.remove()
    data = json.loads(path.read_text()) if fmt == "json" else yaml.safe_load(path.read_text())
    assert data == original


def test_two_tokens_share_one_env_file(tmp_path):
    path = tmp_path / "shared.env"
    first, _module = file_store(path=str(path), format="env", key="KSEF_TOKEN_A")
    second, _module = file_store(path=str(path), format="env", key="KSEF_TOKEN_B")
    value_a, ref_a = token_value()
    value_b, ref_b = token_value()
    first.write(value_a, meta_for(ref_a), None)
    second.write(value_b, meta_for(ref_b), None)
    assert first.read().value == value_a and second.read().value == value_b
    assert first.label != second.label


def test_mode_owner_group(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("changing the owner needs root")
    user = pwd.getpwnam("nobody")
    group = grp.getgrgid(user.pw_gid)
    store, _module = file_store(path=str(tmp_path / "t"), mode="0640", allow_shared_mode=True, owner="nobody", group=group.gr_name)
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    st = os.stat(tmp_path / "t")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, user.pw_uid, group.gr_gid)
    # the same value again fixes drifted attributes without rewriting the content
    os.chmod(tmp_path / "t", 0o644)
    inode = st.st_ino
    store.write(value, meta_for(ref), None)
    st = os.stat(tmp_path / "t")
    assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_ino == inode


def test_backup_is_a_0600_copy_of_the_previous_file(tmp_path):
    path = tmp_path / "erp.token"
    store, _module = file_store(path=str(path), backup=True)
    old, old_ref = token_value()
    new, new_ref = token_value()
    store.write(old, meta_for(old_ref), None)
    assert store.backup_file is None  # nothing to back up yet
    store.write(new, meta_for(new_ref), None)
    backup = Path(store.backup_file)
    assert backup.parent == tmp_path and backup.name.startswith("erp.token.") and backup.name.endswith("~")
    assert backup.read_text() == f"{old}\n"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert path.read_text() == f"{new}\n"


def test_write_goes_through_a_symlink(tmp_path):
    real = tmp_path / "real.token"
    link = tmp_path / "link.token"
    link.symlink_to(real)
    store, _module = file_store(path=str(link))
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    assert link.is_symlink() and real.read_text() == f"{value}\n"


def test_a_failed_replace_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "erp.token"
    store, _module = file_store(path=str(path))
    old, old_ref = token_value()
    store.write(old, meta_for(old_ref), None)

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    new, new_ref = token_value()
    with pytest.raises(StoreError) as caught:
        store.write(new, meta_for(new_ref), None)
    assert "No space left on device" in str(caught.value) and new not in str(caught.value)
    assert path.read_text() == f"{old}\n" and leftovers(tmp_path, "erp.token") == []


def test_restore_and_remove(tmp_path):
    path = tmp_path / "erp.token"
    store, _module = file_store(path=str(path))
    old, old_ref = token_value()
    store.write(old, meta_for(old_ref), None)
    previous = store.read()
    new, new_ref = token_value()
    store.write(new, meta_for(new_ref), None)
    store.restore(previous)
    assert store.read().value == old
    store.restore(None)  # the store held nothing before: the file goes
    assert not path.exists()
    store.remove()  # removing what is not there is fine
    assert not path.exists()


def test_check_mode_refuses_every_mutation(tmp_path):
    module = make_module([{"type": "file", "path": str(tmp_path / "t")}], check_mode=True)
    store = build_stores(module, module.params["store"])[0]
    value, ref = token_value()
    for call in (lambda: store.write(value, meta_for(ref), None), lambda: store.restore(None), store.remove):
        with pytest.raises(StoreError, match="check mode"):
            call()
    assert not (tmp_path / "t").exists()


def test_invalid_json_is_reported_without_its_content(tmp_path):
    path = tmp_path / "conf.json"
    value, ref = token_value()
    path.write_text('{"token": "' + value + '", broken')
    store, _module = file_store(path=str(path), format="json")
    with pytest.raises(StoreError) as caught:
        store.read()
    assert "not valid json" in str(caught.value) and value not in str(caught.value)


# -- ansible-vault ---------------------------------------------------------------------------------

def vault_password(tmp_path, password="correct horse battery staple") -> Path:
    path = tmp_path / "vault.pass"
    path.write_text(password + "\n")
    return path


@pytest.mark.parametrize("fmt", ["raw", "yaml"])
def test_vault_encrypted_file_opens_with_ansible_vault_view(tmp_path, fmt):
    password_file = vault_password(tmp_path)
    path = tmp_path / "erp.vault"
    store, module = file_store(path=str(path), format=fmt, vault_password_file=str(password_file))
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    raw = path.read_bytes()
    assert raw.startswith(b"$ANSIBLE_VAULT;1.1;AES256") and value.encode() not in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    view = subprocess.run([str(ANSIBLE_VAULT), "view", "--vault-password-file", str(password_file), str(path)],
                          capture_output=True, text=True, check=True)
    assert view.stdout == (f"{value}\n" if fmt == "raw" else yaml.safe_dump({"token": value}))
    assert store.read().value == value
    assert b"correct horse battery staple" not in raw


@pytest.mark.parametrize("setting", [{"ANSIBLE_DEBUG": "1"}, {"ANSIBLE_VERBOSITY": "4"}, {"ANSIBLE_DEBUG": "true"}])
def test_ansible_debug_and_verbosity_change_no_stored_byte(tmp_path, monkeypatch, setting):
    """With ANSIBLE_DEBUG=1 ansible-vault prints debug lines to stdout, where the ciphertext is read: the child
    runs quiet, so the file is a clean vault file; a rotation over it keeps the old value readable until then."""
    password_file = vault_password(tmp_path)
    path = tmp_path / "erp.vault"
    store, _module = file_store(path=str(path), vault_password_file=str(password_file))
    first, ref = token_value()
    store.write(first, meta_for(ref), None)
    for name, value in setting.items():
        monkeypatch.setenv(name, value)
    second, ref2 = token_value()
    store.write(second, meta_for(ref2), store.read().version)
    raw = path.read_bytes()
    assert raw.startswith(b"$ANSIBLE_VAULT;1.1;AES256\n") and b"starting run" not in raw
    assert set(raw.splitlines()[1].decode()) <= set("0123456789abcdef")
    assert store.read().value == second


def test_output_that_is_not_a_vault_file_is_never_written(tmp_path, monkeypatch):
    """Whatever ansible-vault prints, only a well-formed vault file replaces the target."""
    from ansible_collections.ksef.credentials.plugins.module_utils._stores import _ansible_vault

    password_file = vault_password(tmp_path)
    path = tmp_path / "erp.vault"
    store, _module = file_store(path=str(path), vault_password_file=str(password_file))
    first, ref = token_value()
    store.write(first, meta_for(ref), None)
    before = path.read_bytes()
    real_run = _ansible_vault.AnsibleVault._run
    monkeypatch.setattr(_ansible_vault.AnsibleVault, "_run", lambda self, action, data: (
        b" 4242 1.0: starting run\n" + real_run(self, action, data) if action == "encrypt" else real_run(self, action, data)))
    second, ref2 = token_value()
    with pytest.raises(StoreError, match="not a vault file|other than a vault file"):
        store.write(second, meta_for(ref2), store.read().version)
    assert path.read_bytes() == before


def test_vault_id_labels_the_file_and_ansible_vault_reads_it(tmp_path):
    password_file = vault_password(tmp_path)
    path = tmp_path / "erp.vault"
    store, _module = file_store(path=str(path), vault_password_file=str(password_file), vault_id="erp")
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    assert path.read_bytes().startswith(b"$ANSIBLE_VAULT;1.2;AES256;erp")
    view = subprocess.run([str(ANSIBLE_VAULT), "view", "--vault-id", f"erp@{password_file}", str(path)],
                          capture_output=True, text=True, check=True)
    assert view.stdout == f"{value}\n"


def test_a_file_encrypted_by_ansible_vault_is_read_and_other_keys_kept(tmp_path):
    password_file = vault_password(tmp_path)
    path = tmp_path / "secrets.yml"
    path.write_text("db_password: hunter2\n")
    subprocess.run([str(ANSIBLE_VAULT), "encrypt", "--vault-password-file", str(password_file), str(path)],
                   check=True, capture_output=True)
    store, module = file_store(path=str(path), format="yaml", key="ksef_token", vault_password_file=str(password_file))
    assert store.read() is None
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    view = subprocess.run([str(ANSIBLE_VAULT), "view", "--vault-password-file", str(password_file), str(path)],
                          capture_output=True, text=True, check=True)
    assert yaml.safe_load(view.stdout) == {"db_password": "hunter2", "ksef_token": value}


def test_wrong_vault_password_is_a_clear_error(tmp_path):
    path = tmp_path / "erp.vault"
    store, _module = file_store(path=str(path), vault_password_file=str(vault_password(tmp_path)))
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    other, _module = file_store(path=str(path), vault_password_file=str(vault_password(wrong, "not the password")))
    with pytest.raises(StoreError) as caught:
        other.read()
    message = str(caught.value)
    assert "wrong vault password" in message and "store[0].vault_password_file" in message
    assert "not the password" not in message and value not in message


def test_encrypted_file_without_a_vault_password_names_the_option(tmp_path):
    path = tmp_path / "erp.vault"
    store, _module = file_store(path=str(path), vault_password_file=str(vault_password(tmp_path)))
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    plain, _module = file_store(path=str(path))
    with pytest.raises(StoreError, match=r"store\[0\]\.vault_password_file"):
        plain.read()


def test_missing_vault_password_file_is_a_config_error(tmp_path):
    with pytest.raises(StoreConfigError) as caught:
        file_store(path=str(tmp_path / "t"), vault_password_file=str(tmp_path / "nope"))
    assert caught.value.option == "store[0].vault_password_file"


# -- a certificate with its key: pem and pkcs12 ---------------------------------------------------------------


def _bundle() -> str:
    import base64
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    from ansible_collections.ksef.credentials.plugins.module_utils import _certificate_bundle

    key = _certificate_bundle.generate_key("ec", 256)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "login")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(0x1234567890ABCDEF).not_valid_before(dt.datetime(2026, 1, 1))
            .not_valid_after(dt.datetime(2028, 1, 1)).sign(key, hashes.SHA256()))
    der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return _certificate_bundle.compose(der, key)


@pytest.mark.parametrize("fmt,extra", [("pem", {}), ("pkcs12", {"passphrase": "p12-pass"})])
def test_certificate_formats_keep_the_bundle_in_a_0600_file(tmp_path, fmt, extra):
    value = _bundle()
    store, module = file_store(path=str(tmp_path / f"login.{fmt}"), format=fmt, **extra)
    store.write(value, meta_for("1234567890ABCDEF"), None)
    held = store.read()
    assert held.value.strip() == value and held.reference_number == "1234567890ABCDEF"
    assert stat.S_IMODE((tmp_path / f"login.{fmt}").stat().st_mode) == 0o600
    if fmt == "pem":
        assert (tmp_path / "login.pem").read_text() == value + "\n"
    else:
        assert b"PRIVATE KEY" not in (tmp_path / "login.pkcs12").read_bytes()  # encrypted with the passphrase
        assert "p12-pass" in module.no_log_values


@pytest.mark.parametrize("options,option", [
    ({"format": "pkcs12"}, "passphrase"),
    ({"format": "pem", "passphrase": "x"}, "passphrase"),
    ({"format": "pkcs12", "passphrase": "x", "vault_password_file": "/etc/hostname"}, "vault_password_file"),
    ({"format": "pem", "key": "login"}, "key"),
])
def test_certificate_format_options_are_checked(tmp_path, options, option):
    with pytest.raises(StoreConfigError) as caught:
        file_store(path=str(tmp_path / "x"), **options)
    assert caught.value.option == f"store[0].{option}"


def test_a_write_holds_the_files_lock_and_gives_up_with_a_clear_error_while_another_writer_holds_it(
        tmp_path, monkeypatch):
    import fcntl

    from ansible_collections.ksef.credentials.plugins.module_utils._stores import file as file_store_module

    path = tmp_path / "shared.yml"
    path.write_text("other: kept\n")
    store, _module = file_store(path=str(path), format="yaml", key="erp")
    lock = tmp_path / ".shared.yml.lock"
    monkeypatch.setattr(file_store_module, "LOCK_TIMEOUT", 0.3)
    with open(lock, "a") as held:  # another writer of the file, in the middle of its read-modify-write
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        value, ref = token_value()
        with pytest.raises(StoreError) as caught:
            store.write(value, meta_for(ref), None)
        assert f"another writer has held the lock {lock} for more than 0.3 s; retry later" in str(caught.value)
        assert path.read_text() == "other: kept\n"
    store.write(value, meta_for(ref), None)  # the lock is free again
    assert yaml.safe_load(path.read_text()) == {"other": "kept", "erp": value}


def test_a_writer_that_ignores_the_lock_and_replaces_the_file_is_caught_before_the_lock_is_let_go(tmp_path):
    path = tmp_path / "shared.env"
    store, _module = file_store(path=str(path), format="env", key="ERP")
    replace = store._replace

    def replaced_by_another_writer(data: bytes) -> None:
        replace(data)
        (tmp_path / "other").write_text("OTHER=1\n")
        os.replace(tmp_path / "other", path)  # e.g. an editor or an older version of this store

    store._replace = replaced_by_another_writer
    value, ref = token_value()
    with pytest.raises(StoreError) as caught:
        store.write(value, meta_for(ref), None)
    assert "another writer replaced the file while this write held its lock" in str(caught.value)
    assert value.split("|")[-1] not in str(caught.value)
    assert stat.S_IMODE(os.stat(tmp_path / ".shared.env.lock").st_mode) == 0o600  # created by the store


def test_a_missing_directory_only_warns_in_check_mode_and_the_store_holds_nothing(tmp_path):
    """A first --check before the folders exist still shows the plan; a real run refuses before any request."""
    missing = tmp_path / "not-yet" / "erp.token"
    module = make_module([{"type": "file", "path": str(missing)}], check_mode=True)
    module.warnings = []
    module.warn = module.warnings.append
    (store,) = build_stores(module, module.params["store"])
    assert store.read() is None
    store.preflight()
    assert any("does not exist yet" in w for w in module.warnings)
    assert not (tmp_path / "not-yet").exists()
    with pytest.raises(Exception, match="does not exist; create it first"):
        file_store(path=str(missing))
