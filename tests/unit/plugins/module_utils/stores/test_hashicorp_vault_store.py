"""The hashicorp_vault store against a real OpenBao server (tests/support/openbao.py), through a fault proxy."""
from __future__ import annotations

import json

import httpx
import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import (
    StoreConfigError, StoreConflictError, StoreError, build_stores)
from tests.support.ansible_module import make_module
from tests.support.awx_credentials import inject
from tests.support.token_values import certificate_value, meta_for, token_value


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
    assert second.json() == {"errors": ["check-and-set parameter did not match the current version"]}


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


@pytest.mark.parametrize("mount", ["approle", "ksef-approle"])
def test_approle_login_at_its_mount_point_and_the_login_token_revoked_at_the_end(vault_server, openbao, mount):
    role_id, secret_id = openbao.approle(mount)
    spec = {"type": "hashicorp_vault", "url": vault_server.url, "path": "ksef/erp", "auth_method": "approle",
            "role_id": role_id, "secret_id": secret_id}
    if mount != "approle":
        spec["mount_point"] = mount
    module = make_module([spec])
    assert secret_id in module.no_log_values  # no_log from the argument spec
    store = build_stores(module, module.params["store"])[0]
    before = openbao.live_tokens()
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    assert store.read().value == value
    assert [r.path for r in vault_server.requests].count(f"/v1/auth/{mount}/login") == 1  # one login, reused
    assert openbao.live_tokens() == before + 1
    assert store.close() is None
    assert openbao.live_tokens() == before, "the login token is revoked when the task ends"
    assert vault_server.requests[-1].path == "/v1/auth/token/revoke-self"


def test_jwt_login(vault_server, openbao):
    jwt = openbao.jwt()
    spec = {"type": "hashicorp_vault", "url": vault_server.url, "path": "ksef/erp", "auth_method": "jwt",
            "role_id": "ksef", "jwt": jwt}
    module = make_module([spec])
    store = build_stores(module, module.params["store"])[0]
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    assert openbao.data("ksef/erp") == {"token": value}
    assert jwt in module.no_log_values
    store.close()


def test_jwt_for_another_audience_is_a_local_credentials_problem(vault_server, openbao):
    spec = {"type": "hashicorp_vault", "url": vault_server.url, "path": "ksef/erp", "auth_method": "jwt",
            "role_id": "ksef", "jwt": openbao.jwt(audience="someone-else")}
    module = make_module([spec])
    store = build_stores(module, module.params["store"])[0]
    with pytest.raises(StoreError) as caught:
        store.read()
    assert caught.value.origin == "local" and "local problem (credentials)" in str(caught.value)
    assert "jwt login at auth/jwt was refused" in str(caught.value)


def test_approle_with_a_wrong_secret_id(vault_server, openbao):
    role_id, _secret_id = openbao.approle()
    spec = {"type": "hashicorp_vault", "url": vault_server.url, "path": "ksef/erp", "auth_method": "approle",
            "role_id": role_id, "secret_id": "wrong-secret-id"}
    module = make_module([spec])
    store = build_stores(module, module.params["store"])[0]
    with pytest.raises(StoreError) as caught:
        store.read()
    text = str(caught.value)
    assert "local problem (credentials)" in text and "wrong-secret-id" not in text
    assert "\n" not in text and text.count(store.label) == 1


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


@pytest.mark.parametrize("prefix", ["VAULT", "BAO"])
def test_address_namespace_and_token_from_the_environment(vault_server, monkeypatch, prefix):
    monkeypatch.setenv(f"{prefix}_ADDR", vault_server.url)
    monkeypatch.setenv(f"{prefix}_TOKEN", vault_server.root_token)
    monkeypatch.setenv(f"{prefix}_NAMESPACE", "team-a")
    module = make_module([{"type": "hashicorp_vault", "path": "ksef/archiver"}])
    store = build_stores(module, module.params["store"])[0]
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    assert vault_server.data("ksef/archiver", namespace="team-a") == {"token": value}
    assert vault_server.root_token in module.no_log_values


def test_the_token_file_the_cli_writes(vault_server, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".vault-token").write_text(vault_server.root_token + "\n")
    module = make_module([{"type": "hashicorp_vault", "url": vault_server.url, "path": "ksef/erp"}])
    store = build_stores(module, module.params["store"])[0]
    assert store.read() is None  # authenticated with the file's token
    elsewhere = tmp_path / "token"
    elsewhere.write_text(vault_server.root_token)
    module = make_module([{"type": "hashicorp_vault", "url": vault_server.url, "path": "ksef/erp",
                           "token_file": str(elsewhere)}])
    assert build_stores(module, module.params["store"])[0].read() is None
    (tmp_path / ".vault-token").unlink()
    with pytest.raises(StoreConfigError) as caught:
        build_stores(make_module([]), [{"type": "hashicorp_vault", "url": vault_server.url, "path": "ksef/erp"}])
    assert caught.value.option == "store[0].token" and ".vault-token" in str(caught.value)


def test_the_awx_vault_credential_reaches_the_store_as_files_only(vault_server, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.vault-token to fall back on
    env, _extra = inject("hashicorp_vault_store", {"url": vault_server.url, "token": vault_server.root_token},
                         tmp_path)
    assert vault_server.root_token not in json.dumps(env)  # the job's environment holds the token's path only
    for name, value in env.items():
        if value:
            monkeypatch.setenv(name, value)
    module = make_module([{"type": "hashicorp_vault", "path": "ksef/awx"}])
    store = build_stores(module, module.params["store"])[0]
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    assert vault_server.data("ksef/awx") == {"token": value}
    assert vault_server.root_token in module.no_log_values


def test_a_kv_version_1_mount_is_refused_before_anything_is_read_or_written(vault_server):
    store, _module = vault_store(vault_server, mount="kv1")
    with pytest.raises(StoreConfigError) as caught:
        store.read()
    assert caught.value.option == "store[0].mount" and "KV version 1" in str(caught.value)
    assert "enable-versioning" in str(caught.value)
    assert [r.path for r in vault_server.requests] == ["/v1/sys/internal/ui/mounts/kv1/ksef/erp"]


def test_a_mount_that_does_not_exist_is_a_local_path_problem(vault_server):
    store, _module = vault_store(vault_server, mount="nowhere")
    with pytest.raises(StoreError) as caught:
        store.read()
    assert caught.value.origin == "local" and "local problem (path)" in str(caught.value)


def test_unreachable_vault_is_the_servers_side(vault_server):
    url = vault_server.url
    vault_server.stop()
    store, _module = vault_store(type("Gone", (), {"url": url, "root_token": "hvs.x"})())
    with pytest.raises(StoreError, match="cannot reach Vault") as caught:
        store.read()
    assert caught.value.origin == "server"


def test_plain_http_to_a_remote_vault_is_refused_before_any_connection(monkeypatch):
    """vault.invalid never resolves: the refusal comes from the URL alone (no socket is opened)."""
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("a connection or a name lookup was attempted")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    spec = {"type": "hashicorp_vault", "url": "http://vault.invalid:8200", "token": "t", "path": "ksef/erp"}
    with pytest.raises(StoreConfigError) as caught:
        build_stores(make_module([]), [spec])
    assert caught.value.option == "store[0].url" and "allow_insecure_http" in str(caught.value)
    allowed = build_stores(make_module([]), [dict(spec, allow_insecure_http=True)])
    assert allowed[0].url == "http://vault.invalid:8200"


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
    ({"auth_method": "jwt", "role_id": "r"}, "store[0].jwt"),
    ({"auth_method": "cert"}, "store[0].client_cert"),
    ({"mount_point": "x"}, "store[0].mount_point"),
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
        client = store.vault.client()  # builds the client; a token login sends nothing
    assert isinstance(client._transport._pool._ssl_context, ssl.SSLContext)
    client.close()


# -- what the documented policy allows, and what it does not ---------------------------------------------------


def policy_store(vault_server, openbao, path="ksef/erp", **options):
    """A store that logs in with a token holding only the documented policy (docs/examples/vault/ksef-store.hcl)."""
    token = openbao.token(["ksef-store"])
    return vault_store(vault_server, token=token, path=path, **options)


def test_the_documented_policy_is_enough_for_every_operation(vault_server, openbao):
    store, _module = policy_store(vault_server, openbao)
    store.preflight()
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    store.preflight(removing=True)
    newer, newer_ref = token_value()
    store.write(newer, meta_for(newer_ref), store.read().version)
    assert store.forget(ref) == ["destroyed version 1 of vault:secret/data/ksef/erp#token"]
    store.remove()
    assert store.read() is None


def test_preflight_names_what_the_policy_lacks_before_anything_is_written(vault_server, openbao):
    store, _module = policy_store(vault_server, openbao, path="elsewhere/erp")
    with pytest.raises(StoreError) as caught:
        store.preflight()
    text = str(caught.value)
    assert caught.value.origin == "local" and "local problem (permissions)" in text
    assert "create/read on secret/data/elsewhere/erp" in text and "docs/stores.md#the-vault-policy" in text
    assert not [r for r in vault_server.requests if r.method in ("POST", "PUT") and "/data/" in r.path]


def test_a_refused_write_is_one_line_naming_the_store_once(vault_server, openbao):
    store, _module = policy_store(vault_server, openbao)
    vault_server.faults.refuse = (403, "1 error occurred:\n\t* permission denied\n\n")
    value, ref = token_value()
    with pytest.raises(StoreError) as caught:
        store.write(value, meta_for(ref), None)
    text = str(caught.value)
    assert "\n" not in text and text.count(store.label) == 1 and "permission denied" in text
    assert caught.value.origin == "local"


def test_remove_destroys_the_version_that_held_the_value(vault_server, openbao):
    store, _module = vault_store(vault_server)
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    store.remove()
    versions = openbao.metadata("ksef/erp")["versions"]
    assert versions["1"]["destroyed"] is True
    assert openbao.version_data("ksef/erp", 1) is None


def test_forget_destroys_only_the_versions_holding_the_revoked_token(vault_server, openbao):
    store, _module = vault_store(vault_server, key="ksef_token")
    kv(vault_server, "POST", "secret/data/ksef/erp", json={"data": {"db": "hunter2"}}).raise_for_status()
    old, old_ref = token_value()
    store.write(old, meta_for(old_ref), None)  # version 2
    new, new_ref = token_value()
    store.write(new, meta_for(new_ref), store.read().version)  # version 3
    assert store.forget(old_ref) == ["destroyed version 2 of vault:secret/data/ksef/erp#ksef_token"]
    assert openbao.version_data("ksef/erp", 1) == {"db": "hunter2"}
    assert openbao.version_data("ksef/erp", 2) is None
    assert openbao.version_data("ksef/erp", 3) == {"db": "hunter2", "ksef_token": new}
    assert store.forget(old_ref) == []  # nothing left to destroy


# -- TLS ------------------------------------------------------------------------------------------------------------


def test_tls_with_its_ca_and_a_failure_that_names_its_cause(openbao_tls, no_vault_environment, monkeypatch):
    openbao_tls.reset()
    spec = {"type": "hashicorp_vault", "url": openbao_tls.url, "token": openbao_tls.root_token, "path": "ksef/erp"}
    unverified = build_stores(make_module([]), [spec])[0]
    with pytest.raises(StoreError) as caught:
        unverified.read()
    text = str(caught.value)
    assert caught.value.origin == "local" and "local problem (TLS)" in text
    assert "certificate verification failed" in text and "ca_path" in text
    store = build_stores(make_module([]), [dict(spec, ca_path=str(openbao_tls.ca_path))])[0]
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    assert openbao_tls.data("ksef/erp") == {"token": value}
    monkeypatch.setenv("VAULT_CACERT", str(openbao_tls.ca_path))
    assert build_stores(make_module([]), [spec])[0].read().value == value


def test_cert_login_with_a_tls_client_certificate(openbao_tls, no_vault_environment, monkeypatch):
    monkeypatch.setenv("BAO_CACERT", str(openbao_tls.ca_path))
    spec = {"type": "hashicorp_vault", "url": openbao_tls.url, "path": "ksef/cert", "auth_method": "cert",
            "client_cert": str(openbao_tls.client_cert), "client_key": str(openbao_tls.client_key)}
    module = make_module([spec])
    store = build_stores(module, module.params["store"])[0]
    before = openbao_tls.live_tokens()
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    assert openbao_tls.data("ksef/cert") == {"token": value}
    assert openbao_tls.live_tokens() == before + 1
    assert store.close() is None
    assert openbao_tls.live_tokens() == before


def test_a_certificate_with_its_key_is_kept_and_recognised_by_its_serial(vault_server):
    store, module = vault_store(vault_server, key="bundle")
    bundle, serial = certificate_value()
    store.write(bundle, meta_for(serial, name="automation-login"), None)
    held = store.read()
    assert (held.value, held.reference_number) == (bundle, serial) and bundle in module.no_log_values
    assert kv(vault_server, "GET", "secret/data/ksef/erp").json()["data"]["data"] == {"bundle": bundle}


def test_a_secret_full_of_custom_metadata_is_refused_before_anything_changes(vault_server):
    """Vault allows 64 custom metadata keys per secret and each key of it takes five: the 13th credential in one
    secret is refused by the pre-check (before KSeF issues it), and a write never leaves the value undescribed."""
    held = {}
    for index in range(12):
        store, _module = vault_store(vault_server, key=f"k{index}")
        store.preflight()
        value, ref = token_value()
        store.write(value, meta_for(ref), None)
        held[f"k{index}"] = value
    thirteenth, _module = vault_store(vault_server, key="k12")
    with pytest.raises(StoreError) as refused:
        thirteenth.preflight()
    assert "store[0].path" in str(refused.value) and "64" in str(refused.value)
    value, ref = token_value()
    with pytest.raises(StoreError):
        thirteenth.write(value, meta_for(ref), None)
    assert kv(vault_server, "GET", "secret/data/ksef/erp").json()["data"]["data"] == held
