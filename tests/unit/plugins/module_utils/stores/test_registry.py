"""STORE_ARGSPEC through a real AnsibleModule, build_stores validation and option naming, reference numbers."""
from __future__ import annotations

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import (
    STORE_ARGSPEC, STORE_TYPE_NAMES, StoreConfigError, StoredValue, build_stores, parse_reference_number, store_types)
from tests.support.ansible_module import make_module


def union_of_the_store_types() -> dict:
    """What each store type accepts, merged: the spec STORE_ARGSPEC (derived from the documentation) must equal."""
    options: dict = {"type": {"type": "str", "required": True, "choices": sorted(STORE_TYPE_NAMES)}}
    for cls in store_types().values():
        for name, spec in cls.argument_spec.items():
            loose = {k: v for k, v in spec.items() if k in ("type", "elements", "no_log", "choices")}
            loose.setdefault("type", "str")
            known = options.setdefault(name, loose)
            if known is loose:
                continue
            known.pop("choices", None)  # shared by several types: each type checks its own choices
            if {known["type"], loose["type"]} == {"str", "path"}:
                known["type"] = "str"  # `path` of a file and of a Vault secret; each type converts its own
            assert known["type"] == loose["type"], name
            known["no_log"] = bool(known.get("no_log") or loose.get("no_log"))
    return options


def test_argspec_is_the_union_of_every_type_with_secrets_no_log():
    options = STORE_ARGSPEC["options"]
    assert STORE_ARGSPEC["type"] == "list" and STORE_ARGSPEC["elements"] == "dict"
    assert options["type"] == {"type": "str", "required": True, "choices": sorted(STORE_TYPE_NAMES)}
    assert sorted(STORE_TYPE_NAMES) == ["aws_secretsmanager", "aws_ssm", "file", "hashicorp_vault"]
    assert options == union_of_the_store_types()
    assert options["token"]["no_log"] and options["secret_id"]["no_log"]
    assert not any("default" in spec or spec.get("required") for name, spec in options.items() if name != "type")


def test_ansible_masks_vault_credentials_given_as_store_options(tmp_path):
    module = make_module([{"type": "hashicorp_vault", "url": "http://127.0.0.1:1", "path": "p",
                           "token": "hvs.root-token-value"},
                          {"type": "hashicorp_vault", "url": "http://127.0.0.1:1", "path": "q",
                           "auth_method": "approle", "role_id": "r", "secret_id": "approle-secret"}])
    assert {"hvs.root-token-value", "approle-secret"} <= module.no_log_values
    stores = build_stores(module, module.params["store"])
    assert [s.label for s in stores] == ["vault:secret/data/p#token", "vault:secret/data/q#token"]


def test_defaults_come_from_the_type_not_the_union(tmp_path):
    module = make_module([{"type": "file", "path": str(tmp_path / "a")},
                          {"type": "hashicorp_vault", "url": "http://127.0.0.1:1", "token": "t", "path": "p"}])
    file_store, vault_store = build_stores(module, module.params["store"])
    assert (file_store.options["format"], file_store.options["mode"], file_store.options["backup"]) == ("raw", "0600", False)
    assert (vault_store.options["mount"], vault_store.options["key"], vault_store.options["cas"]) == ("secret", "token", True)


@pytest.mark.parametrize("entry, option, words", [
    ({"type": "ftp"}, "store[1].type", "must be one of"),
    ({"type": "file"}, "store[1].path", "missing required arguments: path"),
    ({"type": "file", "path": "/tmp/x", "format": "xml"}, "store[1].format", "must be one of: raw, env, json, yaml"),
    ({"type": "file", "path": "/tmp/x", "mode": "rw-------"}, "store[1].mode", "octal"),
    ({"type": "file", "path": "/tmp/x", "mode": 644}, "store[1].mode", "quote it"),  # YAML's unquoted 644
    ({"type": "file", "path": "/tmp/x", "mode": "0644"}, "store[1].mode", "lets the group or others"),
    ({"type": "file", "path": "/tmp/x", "mode": "0604"}, "store[1].mode", "allow_shared_mode: true"),
    ({"type": "file", "path": "/tmp/x", "mode": "0600\n"}, "store[1].mode", "octal"),
    ({"type": "file", "path": "/tmp/x", "format": "env", "key": "KSEF_TOKEN\n"}, "store[1].key", "variable name"),
    ({"type": "file", "path": "/tmp/x", "key": "K"}, "store[1].key", "only used by the env, json and yaml formats"),
    ({"type": "file", "path": "/tmp/x", "format": "env", "key": "NOT-A-NAME"}, "store[1].key", "variable name"),
    ({"type": "file", "path": "/nonexistent-dir/x"}, "store[1].path", "does not exist"),
    ({"type": "file", "path": "/tmp"}, "store[1].path", "is a directory"),
    ({"type": "file", "path": "/tmp/x", "owner": "no-such-user-ksef"}, "store[1].owner", "no such user"),
    ({"type": "file", "path": "/tmp/x", "vault_id": "erp"}, "store[1].vault_id", "needs vault_password_file"),
    ({"type": "file", "path": "/tmp/x", "url": "http://vault"}, "store[1].url", "not an option of store type file"),
    ({"type": "file", "path": "/tmp/x", "backup": "perhaps"}, "store[1].backup", "bool"),
    ("file", "store[1]", "dictionary"),
])
def test_build_stores_names_the_option(tmp_path, entry, option, words):
    first = {"type": "file", "path": str(tmp_path / "ok")}
    with pytest.raises(StoreConfigError) as caught:
        build_stores(make_module([]), [first, entry])
    assert caught.value.option == option
    assert str(caught.value).startswith(option) and words in str(caught.value)


def test_one_file_written_under_two_spellings_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link.token").symlink_to(tmp_path / "x.token")
    for second in ("./x.token", str(tmp_path / "sub" / ".." / "x.token"), "link.token"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(StoreConfigError, match=r"same place as store\[0\]"):
            build_stores(make_module([]), [{"type": "file", "path": "x.token"}, {"type": "file", "path": second}])


def test_two_entries_for_the_same_place_are_refused(tmp_path):
    path = str(tmp_path / "t")
    with pytest.raises(StoreConfigError, match=r"same place as store\[0\]") as caught:
        build_stores(make_module([]), [{"type": "file", "path": path}, {"type": "file", "path": path}])
    assert caught.value.option == "store[1]"


def test_a_wrongly_typed_secret_option_is_reported_without_the_secret():
    module = make_module([])
    with pytest.raises(StoreConfigError) as caught:
        build_stores(module, [{"type": "hashicorp_vault", "url": "http://v", "path": "p",
                               "timeout": "hvs.secret-in-the-wrong-place", "token": "hvs.secret-in-the-wrong-place"}])
    assert caught.value.option == "store[0].timeout"
    assert "hvs.secret-in-the-wrong-place" not in str(caught.value)
    assert "hvs.secret-in-the-wrong-place" in module.no_log_values


def test_reference_number_is_parsed_from_a_token_value():
    ref = "20251010-EC-2F1B5A0000-3C1A8B7F9D-5E"
    assert parse_reference_number(f"{ref}|nip-5265877635|{'a1' * 32}") == ref
    assert parse_reference_number(f"{ref}|internalId-5265877635-00001|{'F0' * 32}\n") == ref
    assert parse_reference_number("not a token") is None
    assert parse_reference_number(f"{ref}|nip-5265877635|short") is None
    assert parse_reference_number(None) is None


def test_stored_value_repr_hides_the_value():
    held = StoredValue(value="super-secret", reference_number="R", version="1")
    assert "super-secret" not in repr(held) and "super-secret" not in str(held)


@pytest.mark.parametrize("first, second", [
    ({"format": "raw"}, {"format": "env", "key": "KSEF_TOKEN"}),
    ({"format": "env", "key": "A"}, {"format": "json", "key": "b"}),
    ({"format": "yaml", "key": "a"}, {"format": "raw"}),
])
def test_one_file_cannot_hold_a_raw_value_or_two_formats(tmp_path, first, second):
    path = str(tmp_path / "shared")
    with pytest.raises(StoreConfigError) as caught:
        build_stores(make_module([]), [{"type": "file", "path": path, **first}, {"type": "file", "path": path, **second}])
    assert caught.value.option == "store[1]" and "clashes with store[0]" in str(caught.value)


def test_several_keys_of_one_env_file_are_fine(tmp_path):
    path = str(tmp_path / "app.env")
    entries = [{"type": "file", "path": path, "format": "env", "key": "A"},
               {"type": "file", "path": path, "format": "env", "key": "B"}]
    stores = build_stores(make_module([]), entries)
    assert len(stores) == 2
