"""Authentication logic: the auth option rules, key selection, token encryption, the login/poll/redeem
flow, the 21470 retry and refresh. KSeF is a small MockTransport stand-in with a real RSA key."""
import base64
import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from ansible_collections.ksef.credentials.plugins.module_utils._auth import (
    Authenticator,
    KsefSession,
    encrypt_ksef_token,
    jwt_expiry,
    select_token_encryption_certificate,
    verify_ksef_token,
)
from ansible_collections.ksef.credentials.plugins.module_utils._auth_options import validate_auth
from ansible_collections.ksef.credentials.plugins.module_utils._connection import KsefContext
from ansible_collections.ksef.credentials.plugins.module_utils._timestamps import parse_or_none as parse_datetime
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefAuthError, KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._http import KsefHttp

NOW = datetime.now(timezone.utc)
CONTEXT = KsefContext("Nip", "5265877635")
TOKEN = "20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|" + "ab" * 32


def make_key_cert(days_from=-1, days_to=365):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ministerstwo Finansów")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW + timedelta(days=days_from)).not_valid_after(NOW + timedelta(days=days_to))
            .sign(key, hashes.SHA256()))
    return key, base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def jwt(exp):
    def enc(part):
        return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()

    return f"{enc({'alg': 'none'})}.{enc({'exp': exp})}.sig"


def iso(dt):
    return dt.isoformat()


# --- the auth option ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("auth,method", [
    ({"ksef_token": "t"}, "ksef_token"),
    ({"certificate": "c.pem", "private_key": "k.pem"}, "xades"),
    ({"pkcs12": "b.p12", "pkcs12_passphrase": "p"}, "xades"),
    ({"access_token": "a"}, "session"),
    ({"access_token": "a", "refresh_token": "r"}, "session"),
    ({"refresh_token": "r"}, "session"),
])
def test_one_method(auth, method):
    assert validate_auth(dict(auth, subject_identifier_type="certificate_subject", poll_timeout=5)).method == method


@pytest.mark.parametrize("auth,option,words", [
    ({}, "auth", "one way to log in"),
    ({"ksef_token": "t", "certificate": "c"}, None, "auth.ksef_token, auth.certificate"),
    ({"ksef_token": "t", "access_token": "a"}, None, "auth.ksef_token, auth.access_token"),
    ({"certificate": "c"}, "auth.private_key", "auth.private_key is missing"),
    ({"private_key": "k"}, "auth.certificate", "auth.certificate is missing"),
    ({"pkcs12": "b", "certificate": "c"}, "auth.pkcs12", "cannot be combined"),
    ({"pkcs12_passphrase": "p", "certificate": "c", "private_key": "k"}, "auth.pkcs12_passphrase", "auth.pkcs12 is not"),
    ({"ksef_token": "t", "poll_timeout": 0}, "auth.poll_timeout", "between 1 and 3600"),
    ({"ksef_token": "t", "poll_timeout": 10 ** 6}, "auth.poll_timeout", "between 1 and 3600"),
])
def test_conflicts_and_gaps_name_the_options(auth, option, words):
    with pytest.raises(KsefConfigError) as err:
        validate_auth(auth)
    assert words in str(err.value)
    if option:
        assert err.value.option == option


ENVIRONMENT = {"KSEF_TOKEN": TOKEN, "KSEF_CERTIFICATE": "/runner/env/cert.pem", "KSEF_PRIVATE_KEY": "/runner/env/key",
               "KSEF_PRIVATE_KEY_PASSPHRASE": "pass", "KSEF_PKCS12": "/runner/env/b.p12", "KSEF_PKCS12_PASSPHRASE": "p"}


@pytest.mark.parametrize("variables,method", [
    (["KSEF_TOKEN"], "ksef_token"),
    (["KSEF_CERTIFICATE", "KSEF_PRIVATE_KEY"], "xades"),
    (["KSEF_CERTIFICATE", "KSEF_PRIVATE_KEY", "KSEF_PRIVATE_KEY_PASSPHRASE"], "xades"),
    (["KSEF_PKCS12", "KSEF_PKCS12_PASSPHRASE"], "xades"),
])
def test_a_task_without_login_options_logs_in_as_the_environment_says(variables, method):
    environ = {name: ENVIRONMENT[name] for name in variables}
    config = validate_auth({"poll_timeout": 30, "ksef_token": None}, environ)
    assert config.method == method and config.poll_timeout == 30
    if method == "ksef_token":
        assert config.ksef_token == TOKEN
    elif "KSEF_PKCS12" in variables:
        assert (config.pkcs12, config.pkcs12_passphrase) == ("/runner/env/b.p12", "p")
    else:
        assert (config.certificate, config.private_key) == ("/runner/env/cert.pem", "/runner/env/key")


@pytest.mark.parametrize("auth", [{"ksef_token": "from-the-task"}, {"access_token": "a"}, {"pkcs12": "mine.p12"}])
def test_a_login_option_in_the_task_wins_over_the_whole_environment(auth):
    config = validate_auth(auth, ENVIRONMENT)  # every variable set: none of them is mixed in
    assert config.ksef_token == auth.get("ksef_token") and config.certificate is None
    assert config.pkcs12_passphrase is None and config.private_key is None


@pytest.mark.parametrize("variables,option,words", [
    (["KSEF_TOKEN", "KSEF_PKCS12"], "auth", "environment variables KSEF_TOKEN, KSEF_PKCS12 select more than one"),
    (["KSEF_CERTIFICATE"], "KSEF_PRIVATE_KEY", "needs both KSEF_CERTIFICATE and KSEF_PRIVATE_KEY"),
    (["KSEF_PKCS12_PASSPHRASE", "KSEF_CERTIFICATE", "KSEF_PRIVATE_KEY"], "KSEF_PKCS12_PASSPHRASE",
     "KSEF_PKCS12_PASSPHRASE is set but KSEF_PKCS12 is not"),
    ([], "auth", "or, with no auth option set, the environment: KSEF_TOKEN"),
])
def test_a_bad_environment_is_named_by_its_variables(variables, option, words):
    with pytest.raises(KsefConfigError) as err:
        validate_auth({}, {name: ENVIRONMENT[name] for name in variables})
    assert words in str(err.value) and err.value.option == option
    assert TOKEN not in str(err.value)


def test_a_secret_can_come_from_the_file_a_file_variable_names(tmp_path):
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "passphrase").write_text("pass\n")
    config = validate_auth({}, {"KSEF_TOKEN_FILE": str(tmp_path / "token")})
    assert (config.method, config.ksef_token) == ("ksef_token", TOKEN)
    config = validate_auth({}, {"KSEF_CERTIFICATE": "c.pem", "KSEF_PRIVATE_KEY": "k.pem",
                                "KSEF_PRIVATE_KEY_PASSPHRASE_FILE": str(tmp_path / "passphrase")})
    assert config.private_key_passphrase == "pass"


@pytest.mark.parametrize("environ,option,words", [
    ({"KSEF_TOKEN": TOKEN, "KSEF_TOKEN_FILE": "/x"}, "KSEF_TOKEN", "KSEF_TOKEN and KSEF_TOKEN_FILE are both set"),
    ({"KSEF_TOKEN_FILE": "/nonexistent/token"}, "KSEF_TOKEN_FILE", "names /nonexistent/token, which cannot be read"),
    ({"KSEF_PKCS12_PASSPHRASE_FILE": "EMPTY"}, "KSEF_PKCS12_PASSPHRASE_FILE", "which is empty"),
])
def test_a_bad_file_variable_is_named(environ, option, words, tmp_path):
    (tmp_path / "empty").write_text("\n")
    environ = {k: str(tmp_path / "empty") if v == "EMPTY" else v for k, v in environ.items()}
    with pytest.raises(KsefConfigError) as err:
        validate_auth({}, environ)
    assert words in str(err.value) and err.value.option == option and TOKEN not in str(err.value)


def test_auth_config_repr_hides_secrets():
    config = validate_auth({"ksef_token": TOKEN})
    assert TOKEN not in repr(config) and "ksef_token" in repr(config)


# --- keys and encryption -----------------------------------------------------------------------------------

def test_key_selection_prefers_newest_valid_ksef_token_encryption():
    certs = [
        {"publicKeyId": "old", "usage": ["KsefTokenEncryption"], "validFrom": iso(NOW - timedelta(days=300)),
         "validTo": iso(NOW + timedelta(days=30))},
        {"publicKeyId": "new", "usage": ["KsefTokenEncryption"], "validFrom": iso(NOW - timedelta(days=1)),
         "validTo": iso(NOW + timedelta(days=700))},
        {"publicKeyId": "future", "usage": ["KsefTokenEncryption"], "validFrom": iso(NOW + timedelta(days=5)),
         "validTo": iso(NOW + timedelta(days=900))},
        {"publicKeyId": "expired", "usage": ["KsefTokenEncryption"], "validFrom": iso(NOW - timedelta(days=10)),
         "validTo": iso(NOW - timedelta(days=1))},
        {"publicKeyId": "symmetric", "usage": ["SymmetricKeyEncryption"], "validFrom": iso(NOW),
         "validTo": iso(NOW + timedelta(days=900))},
    ]
    assert select_token_encryption_certificate(certs)["publicKeyId"] == "new"
    with pytest.raises(KsefAuthError, match="no KsefTokenEncryption"):
        select_token_encryption_certificate(certs[2:])


def test_encryption_round_trip_rsa_oaep_sha256():
    key, cert = make_key_cert()
    ciphertext = encrypt_ksef_token(cert, TOKEN, 1752236636015)
    plain = key.decrypt(base64.b64decode(ciphertext), padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
    assert plain.decode() == f"{TOKEN}|1752236636015"
    assert encrypt_ksef_token(cert, TOKEN, 1752236636015) != ciphertext  # OAEP is randomised


def test_dates_and_jwt_expiry():
    assert parse_datetime("2025-07-11T12:23:56.0154302+00:00") == datetime(2025, 7, 11, 12, 23, 56, 15430,
                                                                           tzinfo=timezone.utc)
    assert parse_datetime("2025-07-11T12:23:56Z").tzinfo is not None
    assert parse_datetime("nonsense") is None
    assert jwt_expiry(jwt(1747220149)) == 1747220149 and jwt_expiry("opaque") is None


# --- the login flow against a stand-in ---------------------------------------------------------------------

class FakeKsef:
    """Just enough of KSeF for the client flow; statuses[] scripts GET /auth/{ref}."""

    def __init__(self, statuses=(200,), reject_key_once=False, access_ttl=900):
        self.key, self.cert = make_key_cert()
        self.statuses = list(statuses)
        self.reject_key_once = reject_key_once
        self.access_ttl = access_ttl
        self.key_fetches = 0
        self.log = []
        self.decrypted = []
        self.closed_with = []
        self.refreshes = 0

    def certificates(self):
        return [{"certificate": self.cert, "certificateId": "c", "publicKeyId": "K" * 44,
                 "validFrom": iso(NOW - timedelta(days=1)), "validTo": iso(NOW + timedelta(days=365)),
                 "usage": ["KsefTokenEncryption"]}]

    def tokens(self, kind):
        valid_until = datetime.now(timezone.utc) + timedelta(seconds=self.access_ttl)
        return {"token": f"{kind}-{len(self.log)}", "validUntil": iso(valid_until)}

    def __call__(self, request):
        path = request.url.path.removeprefix("/v2")
        self.log.append(f"{request.method} {path}")
        if path == "/security/public-key-certificates":
            self.key_fetches += 1
            return httpx.Response(200, json=self.certificates())
        if path == "/auth/challenge":
            return httpx.Response(200, json={"challenge": "20250514-CR-X", "timestamp": "2025-07-11T12:23:56Z",
                                             "timestampMs": 1752236636015, "clientIp": "127.0.0.1"})
        if path == "/auth/ksef-token":
            body = json.loads(request.content)
            if self.reject_key_once:
                self.reject_key_once = False
                return httpx.Response(400, json={"exception": {"exceptionDetailList": [{
                    "exceptionCode": 21470, "exceptionDescription": "Przesłany identyfikator klucza jest nieznany.",
                    "details": []}]}})
            self.decrypted.append(self.key.decrypt(base64.b64decode(body["encryptedToken"]), padding.OAEP(
                mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)).decode())
            assert body["contextIdentifier"] == {"type": "Nip", "value": "5265877635"}
            return httpx.Response(202, json={"referenceNumber": "20250514-AU-1",
                                             "authenticationToken": self.tokens("authn")})
        if path == "/auth/20250514-AU-1":
            assert request.headers["Authorization"].startswith("Bearer authn-")
            code = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            status = {"code": code, "description": {100: "Uwierzytelnianie w toku", 200: "OK"}.get(
                code, "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu")}
            if code == 450:
                status["details"] = ["Token nieaktywny"]
            return httpx.Response(200, json={"status": status, "authenticationMethod": "Token"})
        if path == "/auth/token/redeem":
            return httpx.Response(200, json={"accessToken": self.tokens("access"), "refreshToken": self.tokens("refresh")})
        if path == "/auth/token/refresh":
            self.refreshes += 1
            return httpx.Response(200, json={"accessToken": self.tokens("access")})
        if path == "/auth/sessions/current" and request.method == "DELETE":
            self.closed_with.append(request.headers["Authorization"])
            return httpx.Response(204)
        return httpx.Response(404)


def http_for(fake):
    return KsefHttp("https://ksef.example/v2", transport=httpx.MockTransport(fake), sleep=lambda s: None)


def test_ksef_token_login_flow():
    fake = FakeKsef(statuses=[100, 100, 200])
    secrets = set()
    sleeps = []
    session = Authenticator(http_for(fake), on_secret=secrets.add, sleep=sleeps.append).login_with_ksef_token(
        CONTEXT, TOKEN)
    assert fake.decrypted == [f"{TOKEN}|1752236636015"]
    assert fake.log == ["GET /security/public-key-certificates", "POST /auth/challenge", "POST /auth/ksef-token",
                        "GET /auth/20250514-AU-1", "GET /auth/20250514-AU-1", "GET /auth/20250514-AU-1",
                        "POST /auth/token/redeem"]
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0]
    assert session.opened and session.reference_number == "20250514-AU-1"
    assert session.access_token.startswith("access-") and session.refresh_token.startswith("refresh-")
    # every secret seen was reported: the KSeF token, the authentication token, access and refresh tokens
    assert {TOKEN, session.access_token, session.refresh_token} <= secrets
    assert any(s.startswith("authn-") for s in secrets)


def test_21470_fetches_keys_again_and_retries_once():
    fake = FakeKsef(reject_key_once=True)
    session = Authenticator(http_for(fake)).login_with_ksef_token(CONTEXT, TOKEN)
    assert fake.key_fetches == 2 and fake.log.count("POST /auth/ksef-token") == 2 and session.access_token


def test_failed_status_surfaces_description_and_details():
    fake = FakeKsef(statuses=[100, 450])
    with pytest.raises(KsefAuthError) as err:
        Authenticator(http_for(fake)).login_with_ksef_token(CONTEXT, TOKEN)
    assert err.value.status == 450 and err.value.details == ["Token nieaktywny"]
    assert "450 Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu (Token nieaktywny)" in str(err.value)
    assert TOKEN not in str(err.value)
    assert "POST /auth/token/redeem" not in fake.log


def test_poll_is_bounded():
    clock = iter(range(0, 1000, 1))
    fake = FakeKsef(statuses=[100])
    auth = Authenticator(http_for(fake), poll_timeout=5, clock=lambda: next(clock))
    with pytest.raises(KsefAuthError, match="still in progress .* after 5s"):
        auth.login_with_ksef_token(CONTEXT, TOKEN)
    assert fake.log.count("GET /auth/20250514-AU-1") <= 6


def test_refresh_when_access_token_is_about_to_expire_and_close():
    fake = FakeKsef()
    now = [1000.0]
    http = http_for(fake)
    session = KsefSession(http, access_token="a1", refresh_token="r1", access_expires=1900.0, clock=lambda: now[0])
    assert session.bearer() == "a1" and fake.refreshes == 0
    now[0] = 1895.0  # within the 10 s margin
    assert session.bearer().startswith("access-") and fake.refreshes == 1
    session.close()
    assert fake.closed_with == [f"Bearer {session.access_token}"] and session.closed
    session.close()  # idempotent
    assert len(fake.closed_with) == 1


def test_reused_access_token_without_refresh_token_fails_clearly_when_expired():
    session = KsefSession(http_for(FakeKsef()), access_token=jwt(1000), clock=lambda: 5000.0)
    assert session.access_expires == 1000
    with pytest.raises(KsefAuthError, match="expired and no refresh token"):
        session.bearer()


def test_verify_ksef_token_logs_in_and_closes():
    fake = FakeKsef()
    verify_ksef_token(http_for(fake), CONTEXT, TOKEN)
    assert fake.log[-2:] == ["POST /auth/token/redeem", "DELETE /auth/sessions/current"]
    fake = FakeKsef(statuses=[450])
    with pytest.raises(KsefAuthError, match="Token nieaktywny"):
        verify_ksef_token(http_for(fake), CONTEXT, TOKEN)


# --- which KSeF token a session was opened with -------------------------------------------------------------

LOGIN_REFERENCE = "20250514-EC-2DFC46C000-3AC6D5877F-A1"


def test_a_token_login_and_a_handed_over_session_carry_the_token_reference_never_the_token():
    session = Authenticator(http_for(FakeKsef())).login_with_ksef_token(CONTEXT, TOKEN)
    assert session.ksef_token_reference == TOKEN.split("|", maxsplit=1)[0]
    handed = session.as_result()
    assert handed["ksef_token_reference"] == TOKEN.split("|", maxsplit=1)[0] and TOKEN.rsplit("|", maxsplit=1)[-1] not in repr(handed)
    config = validate_auth({"access_token": handed["access_token"], "refresh_token": handed["refresh_token"],
                            "ksef_token_reference": handed["ksef_token_reference"]})
    reused = Authenticator(http_for(FakeKsef())).authenticate(CONTEXT, config)
    assert not reused.opened and reused.ksef_token_reference == TOKEN.split("|", maxsplit=1)[0]
    without = Authenticator(http_for(FakeKsef())).authenticate(CONTEXT, validate_auth({"access_token": "a"}))
    assert without.ksef_token_reference is None


@pytest.mark.parametrize("auth, words", [
    ({"ksef_token": TOKEN, "ksef_token_reference": LOGIN_REFERENCE}, "goes with auth.access_token"),
    ({"certificate": "c.pem", "private_key": "k.pem", "ksef_token_reference": LOGIN_REFERENCE},
     "goes with auth.access_token"),
    ({"access_token": "a", "ksef_token_reference": TOKEN}, "not the token itself"),
    ({"access_token": "a", "ksef_token_reference": "20250514-EC-1"}, "36 characters of A-Z, 0-9 and '-'"),
    ({"access_token": "a", "ksef_token_reference": "20250514-EC-2DFC46C000-3AC6D5877F-A\u0661"}, "36 characters"),
])
def test_a_wrong_token_reference_is_named_and_never_shown(auth, words):
    with pytest.raises(KsefConfigError) as err:
        validate_auth(auth)
    assert err.value.option == "auth.ksef_token_reference" and words in str(err.value)
    assert TOKEN.rsplit("|", maxsplit=1)[-1] not in str(err.value) and auth["ksef_token_reference"] not in str(err.value)


def test_a_verification_whose_close_would_wait_past_max_retry_wait_leaves_its_session_to_expire(tmp_path):
    from ansible_collections.ksef.credentials.plugins.module_utils._ratelimit import SharedRateLimiter

    now = [1_700_000_000.0]
    limiter = SharedRateLimiter("https://ksef.example/v2", "Nip:5265877635", directory=str(tmp_path),
                                time_scale=1.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s),
                                max_pacing_wait=60)
    for _close in range(120):  # the production hour of closes in this context, used up
        limiter.acquire("DELETE /auth/sessions/current")
        limiter.completed("DELETE /auth/sessions/current", 204)
    fake = FakeKsef()
    http = KsefHttp("https://ksef.example/v2", transport=httpx.MockTransport(fake), sleep=lambda s: None,
                    limiter=limiter)
    warning = verify_ksef_token(http, CONTEXT, TOKEN)  # the login itself proved the token
    assert fake.closed_with == [] and "DELETE /auth/sessions/current" not in fake.log
    assert warning.startswith("The KSeF session 20250514-AU-1 is left open to expire by itself (KSeF ends it when "
                              "its tokens expire): DELETE /auth/sessions/current would wait ")
    assert "more than max_retry_wait (60s); not sent; lower the pace of runs in this context" in warning
    assert TOKEN.rsplit("|", maxsplit=1)[-1] not in warning and "access-" not in warning and "refresh-" not in warning
    assert verify_ksef_token(http_for(FakeKsef()), CONTEXT, TOKEN) is None  # closed as usual
