"""Property: every string option of the Vault and AWS stores is refused before any request, by an error that names
the option, or is accepted and works - a path, a parameter or secret name and a key through a real write and read
(OpenBao, moto), a mount or namespace as a well-formed name. The strings are the hostile ones of
tests/unit/plugins/module_utils/test_string_options_property.py plus URL syntax (`?`, `#`, `%`, `..`)."""
from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import StoreConfigError, build_stores
from tests.support.ansible_module import make_module
from tests.support.token_values import meta_for, token_value

hostile = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=30).map(lambda s: s + "\n"),
    st.sampled_from(["ksef/erp", "ksef/erp\n", "ksef/erp\x00", "ksef/../sys/policy", "../erp", "ksef/./erp",
                     "ksef/erp?version=1", "ksef/erp#x", "ksef/%2e%2e/erp", "/ksef/erp", "ksef/erp/", "ksef//erp",
                     "ksef erp", "zażółć/gęślą", "a" * 5000, "", " ", "ksef/erp\t", "aws/erp", "ssm-erp", "token",
                     "ksef\u2028erp", "k" * 300]),
    st.from_regex(r"\A[a-z0-9_-]{1,20}(/[a-z0-9_.-]{1,20}){0,3}\Z"),
)
# Every example talks to a real server: make test draws 20 per property, make test-soak (KSEF_SOAK=1) 200.
SETTINGS = settings(max_examples=200 if os.environ.get("KSEF_SOAK") else 20, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
# What a mount or namespace that is accepted looks like: path segments, nothing a URL would read otherwise.
SEGMENTS = re.compile(r"[A-Za-z0-9_@+=,.:~-]+(/[A-Za-z0-9_@+=,.:~-]+)*")


def build(spec: dict):
    module = make_module([spec])
    return build_stores(module, module.params["store"])[0]


def built_or_refused(spec: dict, *options: str):
    """The store of `spec`, or None when it is refused by an error naming one of `options` (store[0].x)."""
    try:
        return build(spec)
    except StoreConfigError as exc:
        assert exc.option in ["store[0].%s" % option for option in options], exc.option
        return None


def round_trips(store) -> None:
    previous = store.read()
    value, ref = token_value()
    store.write(value, meta_for(ref), previous.version if previous else None)
    held = store.read()
    assert held is not None and (held.value, held.reference_number) == (value, ref), store.label
    store.remove()
    assert store.read() is None


@SETTINGS
@given(path=hostile, key=hostile)
def test_a_vault_path_and_key_are_refused_naming_them_or_round_trip(vault_server, path, key):
    spec = {"type": "hashicorp_vault", "url": vault_server.url, "token": vault_server.root_token, "path": path,
            "key": key}
    store = built_or_refused(spec, "path", "key")
    if store is None:
        return
    round_trips(store)
    # The value went where the path says, and nowhere else: the KV v2 data path of that very secret.
    assert all(r.path.startswith("/v1/secret/") for r in vault_server.requests if r.method in ("POST", "DELETE"))


@SETTINGS
@given(name=hostile, option=st.sampled_from(["mount", "namespace"]))
def test_a_vault_mount_or_namespace_is_refused_naming_it_or_well_formed(vault_server, name, option):
    spec = {"type": "hashicorp_vault", "url": vault_server.url, "token": vault_server.root_token, "path": "ksef/erp",
            option: name}
    store = built_or_refused(spec, option)
    if store is None:
        return
    if not name.strip("/"):  # empty: the default (mount secret, no namespace)
        assert store.label.startswith("vault:secret/"), store.label
        return
    assert SEGMENTS.fullmatch(name.strip("/")) and ".." not in name.split("/"), name


@SETTINGS
@given(name=hostile, key=st.one_of(st.none(), hostile), kind=st.sampled_from(["aws_secretsmanager", "aws_ssm"]))
def test_an_aws_name_and_key_are_refused_naming_them_or_round_trip(aws_endpoint, name, key, kind):
    spec = {"type": kind, "endpoint_url": aws_endpoint, "region": "eu-central-1", "name": name,
            "recovery_window_days": 0} if kind == "aws_secretsmanager" else {
        "type": kind, "endpoint_url": aws_endpoint, "region": "eu-central-1", "name": name}
    if key is not None:
        spec["key"] = key
    store = built_or_refused(spec, "name", "key")
    if store is None:
        return
    round_trips(store)


@SETTINGS
@given(text=hostile, option=st.sampled_from(["mount_point", "role_id", "secret_id"]))
def test_vault_login_strings_are_refused_naming_them_or_reach_the_server_unchanged(vault_server, text, option):
    spec = {"type": "hashicorp_vault", "url": vault_server.url, "path": "ksef/erp", "auth_method": "approle",
            "role_id": "role", "secret_id": "secret", option: text}
    try:
        store = build(spec)
    except StoreConfigError as exc:
        assert exc.option == "store[0].%s" % option, exc.option
        if option != "mount_point":
            assert text not in str(exc) or not text.strip(), "a secret is never shown"
        return
    # Accepted: the login reaches the server as given, and fails there as a login (no such role), never as a
    # broken request.
    try:
        store.read()
    except StoreConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the assertion names what it was
        assert type(exc).__name__ == "StoreError", repr(exc)


@SETTINGS
@given(text=hostile, option=st.sampled_from(["region", "profile", "kms_key_id"]))
def test_aws_strings_are_refused_naming_them_or_work(aws_endpoint, text, option):
    spec = {"type": "aws_secretsmanager", "endpoint_url": aws_endpoint, "region": "eu-central-1",
            "name": "ksef/property", "recovery_window_days": 0, option: text}
    store = built_or_refused(spec, option)
    if store is None:
        return
    try:
        round_trips(store)
    except Exception as exc:  # noqa: BLE001 - an accepted KMS key id may be unknown to the server: its own answer
        assert option == "kms_key_id" and type(exc).__name__ == "StoreError", repr(exc)
