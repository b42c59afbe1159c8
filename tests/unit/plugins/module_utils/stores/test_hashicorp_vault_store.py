"""The hashicorp_vault store against the KV v2 test server (tests/support/vault_kv2_server.py) over real HTTP."""
from __future__ import annotations

import json

import httpx
import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._stores import (
    StoreConfigError, StoreConflictError, StoreError, build_stores)
from tests.support.ansible_module import make_module
from tests.support.token_values import meta_for, token_value
from tests.support.vault_kv2_server import CAS_MISMATCH


def vault_store(server, check_mode=False, **options):
    spec = {"type": "hashicorp_vault", "url": server.url, "token": server.root_token, "path": "ksef/erp", **options}
    module = make_module([spec], check_mode=check_mode)
    return build_stores(module, module.params["store"])[0], module


def kv(server, method, path, namespace=None, **kwargs):
    headers = {"X-Vault-Token": server.root_token}
    if namespace:
        headers["X-Vault-Namespace"] = namespace
    return httpx.request(method, f"{server.url}/v1/{path}", headers=headers, timeout=10, **kwargs)


def data_writes(server, path="/v1/secret/data/ksef/erp"):
    return [r.body for r in server.requests if r.method == "POST" and r.path == path]


def test_write_read_and_custom_metadata_without_the_value(vault_server):
    store, module = vault_store(vault_server)
    assert store.label == "vault:secret/data/ksef/erp#token"
    assert store.read() is None
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    held = store.read()
    assert (held.value, held.reference_number, held.version) == (value, ref, "1")
    assert value in module.no_log_values and vault_server.root_token in module.no_log_values
    secret = kv(vault_server, "GET", "secret/data/ksef/erp").json()["data"]
    assert secret["data"] == {"token": value}
    assert secret["metadata"]["custom_metadata"] == {
        "token_reference_number": ref, "token_name": "erp-sender", "token_permissions": "InvoiceRead,InvoiceWrite",
        "token_created": "2025-10-10T08:00:00+00:00", "token_context": "nip-5265877635"}
    # the value crossed the wire only as KV data, with cas=0 because the secret was absent
    carrying = [r for r in vault_server.requests if value in json.dumps(r.body)]
    assert [(r.method, r.path) for r in carrying] == [("POST", "/v1/secret/data/ksef/erp")]
    assert carrying[0].body["options"] == {"cas": 0}


def test_other_keys_of_the_secret_are_kept(vault_server):
    kv(vault_server, "POST", "secret/data/ksef/erp", json={"data": {"db": "hunter2"}}).raise_for_status()
    store, _module = vault_store(vault_server, key="ksef_token")
    assert store.read() is None
    value, ref = token_value()
    store.write(value, meta_for(ref), None)  # expected None: our key was absent, the secret at version 1
    assert kv(vault_server, "GET", "secret/data/ksef/erp").json()["data"]["data"] == {"db": "hunter2", "ksef_token": value}
    store.remove()
    assert kv(vault_server, "GET", "secret/data/ksef/erp").json()["data"]["data"] == {"db": "hunter2"}
    assert "ksef_token_reference_number" not in (
        kv(vault_server, "GET", "secret/metadata/ksef/erp").json()["data"]["custom_metadata"] or {})


def test_second_writer_loses_with_a_conflict(vault_server):
    store, _module = vault_store(vault_server)
    first, first_ref = token_value()
    store.write(first, meta_for(first_ref), None)
    seen = store.read()
    other, _reference = token_value()
    kv(vault_server, "POST", "secret/data/ksef/erp", json={"data": {"token": other}, "options": {"cas": 1}}).raise_for_status()
    mine, mine_ref = token_value()
    with pytest.raises(StoreConflictError) as caught:
        store.write(mine, meta_for(mine_ref), seen.version)
    assert mine not in str(caught.value) and other not in str(caught.value)
    assert store.read().value == other  # the other writer's value survived


def test_a_value_that_appeared_after_the_read_is_a_conflict(vault_server):
    store, _module = vault_store(vault_server)
    other, _reference = token_value()
    kv(vault_server, "POST", "secret/data/ksef/erp", json={"data": {"token": other}}).raise_for_status()
    mine, ref = token_value()
    with pytest.raises(StoreConflictError):
        store.write(mine, meta_for(ref), None)


def test_server_side_cas_is_what_guards_the_write(vault_server):
    """Two writers that both read version 0: the second POST with cas=0 is refused by Vault itself."""
    first = kv(vault_server, "POST", "secret/data/ksef/erp", json={"data": {"token": "a"}, "options": {"cas": 0}})
    second = kv(vault_server, "POST", "secret/data/ksef/erp", json={"data": {"token": "b"}, "options": {"cas": 0}})
    assert first.status_code == 200 and second.status_code == 400
    assert second.json() == {"errors": [CAS_MISMATCH]}


def test_cas_off_overwrites(vault_server):
    store, _module = vault_store(vault_server, cas=False)
    kv(vault_server, "POST", "secret/data/ksef/erp", json={"data": {"token": "someone"}}).raise_for_status()
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    assert store.read().value == value
    assert data_writes(vault_server)[-1]["options"] == {}


def test_restore_puts_back_the_value_and_its_metadata(vault_server):
    store, _module = vault_store(vault_server)
    old, old_ref = token_value()
    store.write(old, meta_for(old_ref), None)
    previous = store.read()
    new, new_ref = token_value()
    store.write(new, meta_for(new_ref), previous.version)
    store.restore(previous)
    held = store.read()
    assert held.value == old and held.version == "3"
    custom = kv(vault_server, "GET", "secret/metadata/ksef/erp").json()["data"]["custom_metadata"]
    assert custom["token_reference_number"] == old_ref


def test_restore_of_nothing_deletes_and_a_later_write_still_uses_cas(vault_server):
    store, _module = vault_store(vault_server)
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    store.restore(None)
    assert store.read() is None
    assert kv(vault_server, "GET", "secret/data/ksef/erp").status_code == 404
    again, again_ref = token_value()
    store.write(again, meta_for(again_ref), None)
    assert store.read().version == "2"
    assert data_writes(vault_server)[-1]["options"] == {"cas": 1}  # taken from the metadata of the deleted version


def test_approle_login(vault_server):
    vault_server.add_approle("role-erp", "s3cret-id-value")
    spec = {"type": "hashicorp_vault", "url": vault_server.url, "path": "ksef/erp", "auth_method": "approle",
            "role_id": "role-erp", "secret_id": "s3cret-id-value"}
    module = make_module([spec])
    assert "s3cret-id-value" in module.no_log_values  # no_log from the argument spec
    store = build_stores(module, module.params["store"])[0]
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    assert store.read().value == value
    login = [r for r in vault_server.requests if r.path == "/v1/auth/approle/login"]
    assert len(login) == 1  # one login per store, the token is reused
    issued = [t for t in vault_server.state.tokens if t != vault_server.root_token]
    assert issued and issued[0] in module.no_log_values


def test_approle_with_a_wrong_secret_id(vault_server):
    vault_server.add_approle("role-erp", "right")
    spec = {"type": "hashicorp_vault", "url": vault_server.url, "path": "ksef/erp", "auth_method": "approle",
            "role_id": "role-erp", "secret_id": "wrong-secret-id"}
    module = make_module([spec])
    store = build_stores(module, module.params["store"])[0]
    with pytest.raises(StoreError) as caught:
        store.read()
    assert "invalid role or secret ID" in str(caught.value) and "wrong-secret-id" not in str(caught.value)


def test_bad_token_is_permission_denied_without_the_token(vault_server):
    store, _module = vault_store(vault_server, token="hvs.not-a-valid-token")
    with pytest.raises(StoreError) as caught:
        store.read()
    assert "403" in str(caught.value) and "permission denied" in str(caught.value)
    assert "hvs.not-a-valid-token" not in str(caught.value)


def test_namespace_keeps_secrets_apart(vault_server):
    store, _module = vault_store(vault_server, namespace="team-a")
    assert store.label == "vault:team-a/secret/data/ksef/erp#token"
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    assert store.read().value == value
    assert {r.namespace for r in vault_server.requests} == {"team-a"}  # every call of the store
    assert kv(vault_server, "GET", "secret/data/ksef/erp").status_code == 404
    assert kv(vault_server, "GET", "secret/data/ksef/erp", namespace="team-a").json()["data"]["data"]["token"] == value


def test_other_mount_and_environment_defaults(vault_server, monkeypatch):
    monkeypatch.setenv("VAULT_ADDR", vault_server.url)
    monkeypatch.setenv("VAULT_TOKEN", vault_server.root_token)
    module = make_module([{"type": "hashicorp_vault", "mount": "kv", "path": "ksef/archiver"}])
    store = build_stores(module, module.params["store"])[0]
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    assert kv(vault_server, "GET", "kv/data/ksef/archiver").json()["data"]["data"]["token"] == value


def test_unreachable_vault(vault_server):
    url = vault_server.url
    vault_server.stop()
    store, _module = vault_store(type("Gone", (), {"url": url, "root_token": "hvs.x"})())
    with pytest.raises(StoreError, match="cannot reach Vault"):
        store.read()


def test_check_mode_refuses_to_write(vault_server):
    store, _module = vault_store(vault_server, check_mode=True)
    value, ref = token_value()
    with pytest.raises(StoreError, match="check mode"):
        store.write(value, meta_for(ref), None)
    assert not [r for r in vault_server.requests if r.method != "GET"]


@pytest.mark.parametrize("spec, option", [
    ({"url": None}, "store[0].url"),
    ({"url": "vault.example:8200"}, "store[0].url"),
    ({"auth_method": "approle", "role_id": "r"}, "store[0].secret_id"),
    ({"ca_path": "/nonexistent/ca.pem"}, "store[0].ca_path"),
    ({"mode": "0600"}, "store[0].mode"),
])
def test_validation_names_the_option(vault_server, monkeypatch, spec, option):
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    full = {"type": "hashicorp_vault", "url": vault_server.url, "token": "t", "path": "ksef/erp", **spec}
    module = make_module([{"type": "file", "path": "/tmp/x"}])
    with pytest.raises(StoreConfigError) as caught:
        build_stores(module, [{"type": "file", "path": "/tmp/x"}, full])
    assert caught.value.option == option.replace("store[0]", "store[1]")


def test_a_ca_bundle_reaches_httpx_as_an_ssl_context_not_a_deprecated_path(tmp_path):
    """httpx deprecates verify=<path>; the store builds the SSL context itself, so no DeprecationWarning."""
    import ssl
    import warnings

    from ksef_emulator.testcerts import generate_certificate

    ca = generate_certificate(tmp_path / "ca", nip="5265877635", kind="seal")
    module = make_module([{"type": "hashicorp_vault", "url": "https://vault.invalid:8200", "token": "t",
                           "path": "ksef/erp", "ca_path": str(ca.cert_path)}])
    store = build_stores(module, module.params["store"])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        client = store._http()  # builds the client; a token login sends nothing
    assert isinstance(client._transport._pool._ssl_context, ssl.SSLContext)
    client.close()
