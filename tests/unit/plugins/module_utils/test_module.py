"""KsefModule: merged argument spec, validation before any call, secrets in no_log_values, the session
always closed, fail_from. Runs the real AnsibleModule in-process; KSeF is a MockTransport stand-in."""
import base64
import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefApiError
from ansible_collections.ksef.credentials.plugins.module_utils._http import KsefHttp
from ansible_collections.ksef.credentials.plugins.module_utils._module import TOKENS_NOT_IN_NIP_VAT_UE, KsefModule
from tests.support.ansible_module import patch_module_args

TOKEN = "20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|" + "cd" * 32
BASE_ARGS = {"api_url": "http://127.0.0.1:9/v2", "context": {"nip": "5265877635"}, "auth": {"ksef_token": TOKEN}}


def run(args, body, capsys, spec=None, transport=None):
    """Build a KsefModule with `args`, run body(module); return the JSON the module printed."""
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module = KsefModule(argument_spec=spec or {}, supports_check_mode=True)
            if transport is not None:
                module._http = KsefHttp(module.ksef_connection.base_url, transport=transport, sleep=lambda s: None)
            body(module)
    return json.loads(capsys.readouterr().out)


class Login:
    """Login endpoints plus GET /tokens (optionally failing) and DELETE /auth/sessions/current."""

    def __init__(self, tokens_status=200):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MF")])
        now = datetime.now(timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(1).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=9))
                .sign(key, hashes.SHA256()))
        self.cert = {"certificate": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),
                     "publicKeyId": "K" * 44, "usage": ["KsefTokenEncryption"],
                     "validFrom": (now - timedelta(days=1)).isoformat(), "validTo": (now + timedelta(days=9)).isoformat()}
        self.tokens_status = tokens_status
        self.log = []

    def __call__(self, request):
        path = request.url.path.removeprefix("/v2")
        self.log.append(f"{request.method} {path}")
        later = (datetime.now(timezone.utc) + timedelta(minutes=15)).isoformat()
        answers = {
            "/security/public-key-certificates": (200, [self.cert]),
            "/auth/challenge": (200, {"challenge": "CR-1", "timestampMs": 1, "timestamp": later}),
            "/auth/ksef-token": (202, {"referenceNumber": "AU-1", "authenticationToken": {"token": "authn-secret",
                                                                                          "validUntil": later}}),
            "/auth/AU-1": (200, {"status": {"code": 200, "description": "OK"}}),
            "/auth/token/redeem": (200, {"accessToken": {"token": "access-secret", "validUntil": later},
                                         "refreshToken": {"token": "refresh-secret", "validUntil": later}}),
            "/auth/sessions/current": (204, None),
        }
        if path == "/tokens":
            if self.tokens_status != 200:
                return httpx.Response(self.tokens_status, json={"exception": {"exceptionDetailList": [
                    {"exceptionCode": 21405, "exceptionDescription": "Błąd walidacji danych wejściowych.",
                     "details": ["bad filter"]}]}})
            return httpx.Response(200, json={"tokens": [{"referenceNumber": "T-1"}]})
        status, body = answers[path]
        return httpx.Response(status, json=body) if body is not None else httpx.Response(status)


def test_shared_options_are_merged_with_the_module_spec(capsys):
    def body(module):
        assert module.params["name"] == "erp" and module.params["timeout"] == 30
        assert module.ksef_context.as_api() == {"type": "Nip", "value": "5265877635"}
        assert module.ksef_connection.base_url == "http://127.0.0.1:9/v2"
        assert module.ksef_auth.method == "ksef_token"
        assert TOKEN in module.no_log_values
        module.exit_json(changed=False)

    out = run(dict(BASE_ARGS, name="erp"), body, capsys, spec=dict(name=dict(type="str", required=True)))
    assert out["api_calls"] == {} and not out.get("failed")


def test_the_environment_login_is_used_without_auth_and_its_secrets_are_hidden(capsys, monkeypatch):
    monkeypatch.setenv("KSEF_TOKEN", TOKEN)
    monkeypatch.setenv("KSEF_PRIVATE_KEY_PASSPHRASE", "unused-passphrase")

    def body(module):
        assert module.ksef_auth.method == "ksef_token" and module.ksef_auth.ksef_token == TOKEN
        assert {TOKEN, "unused-passphrase"} <= module.no_log_values
        module.exit_json(changed=False, echo=f"{TOKEN} unused-passphrase")

    out = run({k: v for k, v in BASE_ARGS.items() if k != "auth"}, body, capsys)
    assert TOKEN not in json.dumps(out) and "unused-passphrase" not in json.dumps(out)


def test_a_token_read_from_a_file_variable_is_hidden(capsys, monkeypatch, tmp_path):
    (tmp_path / "token").write_text(TOKEN)
    monkeypatch.setenv("KSEF_TOKEN_FILE", str(tmp_path / "token"))

    def body(module):
        assert module.ksef_auth.ksef_token == TOKEN and TOKEN in module.no_log_values
        module.exit_json(changed=False, echo=TOKEN)

    out = run({k: v for k, v in BASE_ARGS.items() if k != "auth"}, body, capsys)
    assert TOKEN not in json.dumps(out)


@pytest.mark.parametrize("change,option,words", [
    ({"context": {"nip": "5265877636"}}, "context.nip", "check digit"),
    ({"context": {"internal_id": "123"}}, "context.internal_id", "NIP-5digits"),
    ({"context": {"nip_vat_ue": "5265877635-DE1"}}, "context.nip_vat_ue", "VAT UE number"),
    ({"auth": {"ksef_token": TOKEN, "certificate": "/x.pem"}}, "auth.certificate", "more than one way"),
    ({"auth": {}}, "auth", "one way to log in"),
    ({"api_url": "http://ksef.example.com/v2"}, "api_url", "allow_insecure_http"),
])
def test_bad_options_fail_before_any_call(change, option, words, capsys):
    def body(module):
        raise AssertionError("validation should have failed")

    out = run(dict(BASE_ARGS, **change), body, capsys)
    assert out["failed"] and out["option"] == option and words in out["msg"]
    assert out["api_calls"] == {}
    assert TOKEN not in json.dumps(out)


def test_a_module_refuses_a_context_type_it_cannot_work_in_before_any_call(capsys):
    def body(module):
        module.refuse_context_type("NipVatUe", TOKENS_NOT_IN_NIP_VAT_UE)
        raise AssertionError("the NipVatUe context should have been refused")

    out = run(dict(BASE_ARGS, context={"nip_vat_ue": "5265877635-DE123456789"}), body, capsys)
    assert out["failed"] and out["option"] == "context.nip_vat_ue" and out["api_calls"] == {}
    assert out["msg"].startswith("context.nip_vat_ue is not supported by this module: KSeF creates KSeF tokens only")


def test_a_refused_context_type_leaves_other_contexts_alone(capsys):
    def body(module):
        module.refuse_context_type("NipVatUe", TOKENS_NOT_IN_NIP_VAT_UE)
        module.exit_json(changed=False, context=str(module.ksef_context))

    out = run(BASE_ARGS, body, capsys)
    assert not out.get("failed") and out["context"] == "Nip:5265877635"


def test_environment_and_api_url_are_mutually_exclusive(capsys):
    out = run(dict(BASE_ARGS, environment="test"), lambda m: None, capsys)
    assert out["failed"] and "mutually exclusive" in out["msg"] and "environment" in out["msg"]


def test_session_is_closed_and_secrets_masked_on_success(capsys):
    fake = Login()

    def body(module):
        with module.ksef_session() as api:
            tokens = api.list_tokens()
            assert {"access-secret", "refresh-secret", "authn-secret"} <= module.no_log_values
        module.exit_json(changed=False, tokens=tokens, leaked="access-secret")

    out = run(BASE_ARGS, body, capsys, transport=httpx.MockTransport(fake))
    assert fake.log[-1] == "DELETE /auth/sessions/current"
    assert out["api_calls"]["DELETE /auth/sessions/current"] == 1 and out["api_calls"]["GET /tokens"] == 1
    assert "access-secret" not in json.dumps(out)  # anything equal to a secret is masked


def test_session_is_closed_when_the_work_raises_and_fail_from_reports_codes(capsys):
    fake = Login(tokens_status=400)

    def body(module):
        try:
            with module.ksef_session() as api:
                api.list_tokens()
        except KsefApiError as exc:
            module.fail_from(exc)

    out = run(BASE_ARGS, body, capsys, transport=httpx.MockTransport(fake))
    assert fake.log[-1] == "DELETE /auth/sessions/current"
    assert out["failed"] and out["code"] == 21405 and out["status"] == 400 and out["details"] == ["bad filter"]
    assert out["msg"].startswith("KSeF refused GET /tokens: 21405")


def test_exit_inside_the_with_block_closes_before_the_result_is_written(capsys):
    fake = Login()

    def body(module):
        with module.ksef_session() as api:
            module.exit_json(changed=False, n=len(api.list_tokens()))

    out = run(BASE_ARGS, body, capsys, transport=httpx.MockTransport(fake))
    assert fake.log.count("DELETE /auth/sessions/current") == 1
    assert out["api_calls"]["DELETE /auth/sessions/current"] == 1


def test_reused_session_is_not_closed_unless_asked(capsys):
    fake = Login()
    args = dict(BASE_ARGS, auth={"access_token": "access-given", "refresh_token": "refresh-given"})

    def body(module):
        assert {"access-given", "refresh-given"} <= module.no_log_values
        with module.ksef_session() as api:
            api.list_tokens()
        module.exit_json(changed=False)

    run(args, body, capsys, transport=httpx.MockTransport(fake))
    assert fake.log == ["GET /tokens"]

    fake = Login()

    def close_body(module):
        with module.ksef_session(close=True) as api:
            api.list_tokens()
        module.exit_json(changed=False)

    run(args, close_body, capsys, transport=httpx.MockTransport(fake))
    assert fake.log == ["GET /tokens", "DELETE /auth/sessions/current"]


def test_xades_login_without_signxml_fails_with_missing_required_lib(capsys, monkeypatch):
    from ansible_collections.ksef.credentials.plugins.module_utils import _xades
    monkeypatch.setattr(_xades, "XADES_IMPORT_ERROR", ImportError("No module named 'signxml'", name="signxml"))
    monkeypatch.setattr(_xades, "XADES_MISSING_LIBRARY", "signxml")
    xades = dict(BASE_ARGS, auth={"certificate": "/etc/ksef/cert.pem", "private_key": "/etc/ksef/key.pem"})
    out = run(xades, lambda module: module.exit_json(changed=False), capsys)
    assert out["failed"] and "Failed to import the required Python library (signxml)" in out["msg"]
    # A KSeF-token login does not need signxml.
    out = run(BASE_ARGS, lambda module: module.exit_json(changed=False), capsys)
    assert not out.get("failed")


def test_the_login_token_reference_of_a_token_login_and_of_a_handed_over_session(capsys):
    seen = []
    run(BASE_ARGS, lambda module: seen.append(module.login_token_reference) or module.exit_json(changed=False), capsys)
    handed = {"access_token": "access-secret", "ksef_token_reference": TOKEN.split("|", maxsplit=1)[0]}
    run(dict(BASE_ARGS, auth=handed), lambda module: seen.append(module.login_token_reference)
        or module.exit_json(changed=False), capsys)
    run(dict(BASE_ARGS, auth={"access_token": "access-secret"}), lambda module: seen.append(
        module.login_token_reference) or module.exit_json(changed=False), capsys)
    assert seen == [TOKEN.split("|", maxsplit=1)[0], TOKEN.split("|", maxsplit=1)[0], None]


def test_a_token_pasted_as_the_login_token_reference_is_refused_and_hidden(capsys):
    def body(module):
        raise AssertionError("validation should have failed")

    out = run(dict(BASE_ARGS, auth={"access_token": "access-secret", "ksef_token_reference": TOKEN}), body, capsys)
    assert out["failed"] and out["option"] == "auth.ksef_token_reference" and "not the token itself" in out["msg"]
    assert TOKEN not in json.dumps(out) and TOKEN.rsplit("|", maxsplit=1)[-1] not in json.dumps(out)
