"""The AWS stores against a real moto_server process over HTTP (boto3 -> endpoint_url)."""
from __future__ import annotations

import json
import sys

import boto3
import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import (
    StoreConfigError, StoreConflictError, StoreError, build_stores)
from tests.support.ansible_module import make_module
from tests.support.awx_credentials import inject
from tests.support.token_values import certificate_value, meta_for, token_value

REGION = "eu-central-1"


def aws_store(endpoint, type_name, check_mode=False, **options):
    module = make_module([{"type": type_name, "endpoint_url": endpoint, "region": REGION, **options}],
                         check_mode=check_mode)
    return build_stores(module, module.params["store"])[0], module


def sm(endpoint):
    return boto3.client("secretsmanager", endpoint_url=endpoint, region_name=REGION)


def ssm(endpoint):
    return boto3.client("ssm", endpoint_url=endpoint, region_name=REGION)


def stages(endpoint, name) -> dict:
    versions = sm(endpoint).list_secret_version_ids(SecretId=name)["Versions"]
    return {stage: v["VersionId"] for v in versions for stage in v.get("VersionStages", [])}


# -- Secrets Manager -------------------------------------------------------------------------------

def test_secretsmanager_creates_and_rotates_keeping_awsprevious(aws_endpoint):
    store, module = aws_store(aws_endpoint, "aws_secretsmanager", name="ksef/erp", tags={"team": "finance"})
    assert store.label == "aws_secretsmanager:ksef/erp"
    assert store.read() is None
    old, old_ref = token_value()
    store.write(old, meta_for(old_ref), None)
    first = store.read()
    assert (first.value, first.reference_number) == (old, old_ref) and first.version
    assert old in module.no_log_values
    described = sm(aws_endpoint).describe_secret(SecretId="ksef/erp")
    assert {"Key": "team", "Value": "finance"} in described["Tags"]

    new, new_ref = token_value()
    store.write(new, meta_for(new_ref), first.version)
    second = store.read()
    assert second.value == new and second.version != first.version
    # the previous token stays reachable during the grace period
    assert stages(aws_endpoint, "ksef/erp") == {"AWSCURRENT": second.version, "AWSPREVIOUS": first.version}
    previous = sm(aws_endpoint).get_secret_value(SecretId="ksef/erp", VersionStage="AWSPREVIOUS")
    assert previous["SecretString"] == old


def test_secretsmanager_restore_moves_awscurrent_back(aws_endpoint):
    store, _module = aws_store(aws_endpoint, "aws_secretsmanager", name="ksef/erp")
    old, old_ref = token_value()
    store.write(old, meta_for(old_ref), None)
    before = store.read()
    new, new_ref = token_value()
    store.write(new, meta_for(new_ref), before.version)
    after = store.read()
    store.restore(before)
    assert store.read().value == old
    assert stages(aws_endpoint, "ksef/erp") == {"AWSCURRENT": before.version, "AWSPREVIOUS": after.version}


def test_secretsmanager_write_is_idempotent_per_reference_number(aws_endpoint):
    store, _module = aws_store(aws_endpoint, "aws_secretsmanager", name="ksef/erp")
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    first = store.read()
    store.write(value, meta_for(ref), first.version)  # a replay of the same write
    assert store.read().version == first.version
    assert len(sm(aws_endpoint).list_secret_version_ids(SecretId="ksef/erp")["Versions"]) == 1


def test_secretsmanager_conflict_when_awscurrent_moved(aws_endpoint):
    store, _module = aws_store(aws_endpoint, "aws_secretsmanager", name="ksef/erp")
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    seen = store.read()
    other, _reference = token_value()
    sm(aws_endpoint).put_secret_value(SecretId="ksef/erp", SecretString=other)
    mine, mine_ref = token_value()
    with pytest.raises(StoreConflictError) as caught:
        store.write(mine, meta_for(mine_ref), seen.version)
    assert mine not in str(caught.value) and other not in str(caught.value)
    assert store.read().value == other


def test_secretsmanager_json_key_keeps_other_keys(aws_endpoint):
    sm(aws_endpoint).create_secret(Name="erp/config", SecretString=json.dumps({"db": "hunter2"}))
    store, _module = aws_store(aws_endpoint, "aws_secretsmanager", name="erp/config", key="ksef_token")
    assert store.label == "aws_secretsmanager:erp/config#ksef_token"
    assert store.read() is None
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    current = sm(aws_endpoint).get_secret_value(SecretId="erp/config")["SecretString"]
    assert json.loads(current) == {"db": "hunter2", "ksef_token": value}
    store.remove()
    assert json.loads(sm(aws_endpoint).get_secret_value(SecretId="erp/config")["SecretString"]) == {"db": "hunter2"}


def test_secretsmanager_key_on_a_plain_string_secret_is_an_error(aws_endpoint):
    sm(aws_endpoint).create_secret(Name="plain", SecretString="not json")
    store, _module = aws_store(aws_endpoint, "aws_secretsmanager", name="plain", key="token")
    with pytest.raises(StoreError, match="not a JSON object"):
        store.read()


def test_secretsmanager_remove_then_write_again(aws_endpoint):
    store, _module = aws_store(aws_endpoint, "aws_secretsmanager", name="ksef/erp", recovery_window_days=7)
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    store.remove()
    assert store.read() is None
    assert sm(aws_endpoint).describe_secret(SecretId="ksef/erp").get("DeletedDate")  # recoverable for 7 days
    again, again_ref = token_value()
    store.write(again, meta_for(again_ref), None)  # restores the secret from its scheduled deletion
    assert store.read().value == again


def test_secretsmanager_restore_of_nothing_deletes_at_once(aws_endpoint):
    store, _module = aws_store(aws_endpoint, "aws_secretsmanager", name="ksef/erp", recovery_window_days=0)
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    store.restore(None)
    with pytest.raises(sm(aws_endpoint).exceptions.ResourceNotFoundException):
        sm(aws_endpoint).describe_secret(SecretId="ksef/erp")


# -- SSM Parameter Store ---------------------------------------------------------------------------

def test_ssm_securestring_round_trip_and_tags(aws_endpoint):
    store, module = aws_store(aws_endpoint, "aws_ssm", name="/ksef/erp/token", tags={"team": "finance"})
    assert store.label == "aws_ssm:/ksef/erp/token" and store.read() is None
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    held = store.read()
    assert (held.value, held.reference_number, held.version) == (value, ref, "1")
    parameter = ssm(aws_endpoint).get_parameter(Name="/ksef/erp/token")["Parameter"]
    assert parameter["Type"] == "SecureString" and parameter["Value"] != value  # encrypted without decryption
    tags = ssm(aws_endpoint).list_tags_for_resource(ResourceType="Parameter", ResourceId="/ksef/erp/token")
    assert {"Key": "team", "Value": "finance"} in tags["TagList"]
    new, new_ref = token_value()
    store.write(new, meta_for(new_ref), held.version)
    assert store.read().version == "2"


def test_ssm_version_conflict(aws_endpoint):
    store, _module = aws_store(aws_endpoint, "aws_ssm", name="/ksef/erp/token")
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    seen = store.read()
    other, _reference = token_value()
    ssm(aws_endpoint).put_parameter(Name="/ksef/erp/token", Value=other, Type="SecureString", Overwrite=True)
    mine, mine_ref = token_value()
    with pytest.raises(StoreConflictError) as caught:
        store.write(mine, meta_for(mine_ref), seen.version)
    assert "version 2, expected 1" in str(caught.value) and mine not in str(caught.value)
    # a parameter that appeared after an empty read is a conflict too
    fresh, _module = aws_store(aws_endpoint, "aws_ssm", name="/ksef/new")
    ssm(aws_endpoint).put_parameter(Name="/ksef/new", Value=other, Type="SecureString")
    with pytest.raises(StoreConflictError):
        fresh.write(mine, meta_for(mine_ref), None)


def test_ssm_refuses_a_plain_string_parameter(aws_endpoint):
    ssm(aws_endpoint).put_parameter(Name="/ksef/plain", Value="x", Type="String")
    store, _module = aws_store(aws_endpoint, "aws_ssm", name="/ksef/plain")
    value, ref = token_value()
    with pytest.raises(StoreError, match="SecureString"):
        store.write(value, meta_for(ref), "1")


def test_ssm_restore_and_remove(aws_endpoint):
    store, _module = aws_store(aws_endpoint, "aws_ssm", name="/ksef/erp/token")
    old, old_ref = token_value()
    store.write(old, meta_for(old_ref), None)
    previous = store.read()
    new, new_ref = token_value()
    store.write(new, meta_for(new_ref), previous.version)
    store.restore(previous)
    assert store.read().value == old
    store.restore(None)
    assert store.read() is None
    store.remove()  # nothing there: still fine


def test_aws_check_mode_refuses(aws_endpoint):
    store, _module = aws_store(aws_endpoint, "aws_ssm", check_mode=True, name="/ksef/erp/token")
    value, ref = token_value()
    with pytest.raises(StoreError, match="check mode"):
        store.write(value, meta_for(ref), None)
    assert store.read() is None


def test_aws_unreachable_endpoint_is_the_servers_side(aws_endpoint):
    store, _module = aws_store("http://127.0.0.1:9", "aws_secretsmanager", name="ksef/erp")
    with pytest.raises(StoreError, match="cannot reach AWS") as caught:
        store.read()
    assert caught.value.origin == "server" and "server's answer" in str(caught.value)


def test_missing_credentials_are_a_local_problem_not_aws_refusing(aws_endpoint, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store, _module = aws_store(aws_endpoint, "aws_ssm", name="/ksef/erp/token")
    with pytest.raises(StoreError) as caught:
        store.read()
    text = str(caught.value)
    assert caught.value.origin == "local" and "local problem (credentials)" in text and "refused" not in text
    assert "access_key" in text


def test_credentials_as_options_and_kept_out_of_every_message(aws_endpoint, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    store, module = aws_store(aws_endpoint, "aws_secretsmanager", name="ksef/opts", access_key="AKIAEXAMPLEOPTION",
                              secret_key="secret-key-canary", session_token="session-token-canary")
    assert {"secret-key-canary", "session-token-canary"} <= module.no_log_values
    store.preflight()  # STS GetCallerIdentity and DescribeSecret (absent is fine)
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    check = boto3.client("secretsmanager", endpoint_url=aws_endpoint, region_name=REGION,
                         aws_access_key_id="testing", aws_secret_access_key="testing")
    assert check.get_secret_value(SecretId="ksef/opts")["SecretString"] == value


def test_forget_takes_awsprevious_off_the_revoked_value(aws_endpoint):
    store, _module = aws_store(aws_endpoint, "aws_secretsmanager", name="ksef/erp")
    old, old_ref = token_value()
    store.write(old, meta_for(old_ref), None)
    new, new_ref = token_value()
    store.write(new, meta_for(new_ref), store.read().version)
    assert "AWSPREVIOUS" in stages(aws_endpoint, "ksef/erp")
    assert store.forget(new_ref) == []  # the current value is never touched by forget
    cleaned = store.forget(old_ref)
    assert len(cleaned) == 1 and "took AWSPREVIOUS off version" in cleaned[0]
    assert "AWSPREVIOUS" not in stages(aws_endpoint, "ksef/erp") and store.read().value == new
    assert store.forget(old_ref) == []


# -- configuration ---------------------------------------------------------------------------------

def test_missing_boto3_uses_ansibles_standard_message(aws_endpoint, monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # what Python does for a library that is not installed
    module = make_module([])
    with pytest.raises(StoreConfigError) as caught:
        build_stores(module, [{"type": "aws_ssm", "name": "/ksef/erp/token", "region": REGION}])
    assert caught.value.option == "store[0].type"
    assert "Failed to import the required Python library (boto3)" in str(caught.value)


@pytest.mark.parametrize("spec, option", [
    ({"type": "aws_ssm", "name": "/a"}, "store[0].region"),
    ({"type": "aws_ssm", "name": "/a", "region": REGION, "profile": "no-such-profile"}, "store[0].profile"),
    ({"type": "aws_ssm", "region": REGION}, "store[0].name"),
    ({"type": "aws_secretsmanager", "name": "a", "region": REGION, "recovery_window_days": 3},
     "store[0].recovery_window_days"),
    ({"type": "aws_secretsmanager", "name": "a", "region": REGION, "endpoint_url": "localhost:4566"},
     "store[0].endpoint_url"),
    ({"type": "aws_secretsmanager", "name": "a", "region": REGION, "path": "/x"}, "store[0].path"),
    ({"type": "aws_ssm", "name": "/a", "region": REGION, "access_key": "AKIA"}, "store[0].secret_key"),
    ({"type": "aws_ssm", "name": "/a", "region": REGION, "session_token": "t"}, "store[0].access_key"),
    ({"type": "aws_ssm", "name": "/a", "region": REGION, "access_key": "AKIA", "secret_key": "s", "profile": "p"},
     "store[0].profile"),
    ({"type": "aws_ssm", "name": "/a", "region": REGION, "aws_ca_bundle": "/nonexistent/ca.pem"},
     "store[0].aws_ca_bundle"),
])
def test_validation_names_the_option(aws_endpoint, monkeypatch, spec, option):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    with pytest.raises(StoreConfigError) as caught:
        build_stores(make_module([]), [spec])
    assert caught.value.option == option


# -- the documented IAM policy, on a moto_server that enforces IAM --------------------------------------------------


@pytest.mark.parametrize("type_name, name", [("aws_secretsmanager", "ksef/iam"), ("aws_ssm", "/ksef/iam/token")])
def test_the_documented_iam_policy_is_enough_and_no_policy_fails_the_preflight(aws_iam, monkeypatch, type_name, name):
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    store, _module = aws_store(aws_iam["endpoint"], type_name, name=name, **aws_iam["allowed"])
    store.preflight()
    old, old_ref = token_value()
    store.write(old, meta_for(old_ref), None)
    new, new_ref = token_value()
    store.write(new, meta_for(new_ref), store.read().version)
    store.forget(old_ref)
    store.restore(None)
    assert store.read() is None
    denied, _module = aws_store(aws_iam["endpoint"], type_name, name=name, **aws_iam["nobody"])
    with pytest.raises(StoreError) as caught:
        denied.preflight()
    assert caught.value.origin == "local" and "local problem (permissions)" in str(caught.value)
    assert "docs/stores.md#the-aws-iam-policy" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("type_name,name", [("aws_secretsmanager", "ksef/login"), ("aws_ssm", "/ksef/login")])
def test_a_certificate_with_its_rsa_key_fits_and_is_recognised_by_its_serial(aws_endpoint, type_name, name):
    store, _module = aws_store(aws_endpoint, type_name, name=name)
    bundle, serial = certificate_value("rsa")
    assert len(bundle) < 4096  # a standard SSM parameter holds 4 KB
    store.write(bundle, meta_for(serial, name="automation-login"), None)
    held = store.read()
    assert (held.value, held.reference_number) == (bundle, serial)


# -- the AWX credential type (extensions/awx/credential_types/aws_store.yml) --------------------------------------

def test_the_awx_aws_credential_reaches_the_store_through_a_credentials_file_alone(
        aws_endpoint, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                 "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # Without the credential: no key anywhere, and the store says so before writing.
    store, _module = aws_store(aws_endpoint, "aws_secretsmanager", name="ksef/awx")
    with pytest.raises(StoreError, match="no usable AWS credentials"):
        store.read()

    env, extra_vars = inject("aws_store", {"access_key": "AKIAAWXTEST", "secret_key": "awx-secret-key",
                                           "region": REGION}, tmp_path)
    assert extra_vars == {} and set(env) == {"AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION"}
    assert "awx-secret-key" not in json.dumps(env)  # the job's environment holds a path, not the key
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    module = make_module([{"type": "aws_secretsmanager", "endpoint_url": aws_endpoint, "name": "ksef/awx"}])
    store = build_stores(module, module.params["store"])[0]
    value, reference = token_value()
    store.write(value, meta_for(reference), None)
    assert store.read().value == value
