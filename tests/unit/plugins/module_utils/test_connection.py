"""Connection options: NIP/InternalId validation, environments, the plain-http rule, CA paths."""
import json
from pathlib import Path

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._connection import (
    _NIP_VAT_UE_PATTERN, ENVIRONMENTS, KsefContext, is_loopback_host, nip_checksum_ok, resolve_connection,
    validate_context)
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError

_CONTRACT = Path(__file__).parents[4] / "emulator" / "ksef_emulator" / "contract" / "open-api.json"


def _make_nip(first9):
    check = sum(int(d) * w for d, w in zip(first9, (6, 5, 7, 2, 3, 4, 5, 6, 7))) % 11
    return None if check == 10 else first9 + str(check)


@pytest.mark.parametrize("nip", ["5265877635", "1111111111", "7740001454"])
def test_valid_nips(nip):
    assert nip_checksum_ok(nip)
    assert validate_context({"nip": nip}) == KsefContext("Nip", nip)


@pytest.mark.parametrize("nip", ["5265877636", "526587763", "52658776355", "52658-7763", "abcdefghij", ""])
def test_invalid_nips(nip):
    assert not nip_checksum_ok(nip)


def test_check_digit_ten_is_never_valid():
    # 1234567890: 6+10+21+8+15+24+35+48+63 = 230, 230 % 11 = 10 -> no digit can match.
    assert sum(int(d) * w for d, w in zip("123456789", (6, 5, 7, 2, 3, 4, 5, 6, 7))) % 11 == 10
    for last in "0123456789":
        assert not nip_checksum_ok("123456789" + last)


def test_every_generated_nip_round_trips():
    for n in range(100000000, 100000000 + 2000, 7):
        nip = _make_nip(str(n))
        if nip:
            assert nip_checksum_ok(nip)
            assert not nip_checksum_ok(nip[:9] + str((int(nip[9]) + 1) % 10))


def test_bad_checksum_message_names_option_and_fix():
    with pytest.raises(KsefConfigError) as err:
        validate_context({"nip": "5265877636"})
    assert err.value.option == "context.nip"
    assert "context.nip" in str(err.value) and "check digit" in str(err.value)
    assert "set context.nip" in str(err.value)


def test_nip_pattern_of_the_api_is_enforced_too():
    # Valid checksum but starts with 0, which the OpenAPI pattern ^[1-9]... rejects.
    nip = _make_nip("012345678") or _make_nip("012345679")
    with pytest.raises(KsefConfigError, match="first digit"):
        validate_context({"nip": nip})


def test_internal_id():
    assert validate_context({"internal_id": "5265877635-00001"}) == KsefContext("InternalId", "5265877635-00001")
    with pytest.raises(KsefConfigError) as err:
        validate_context({"internal_id": "5265877636-00001"})
    assert err.value.option == "context.internal_id"
    with pytest.raises(KsefConfigError, match="NIP-5digits"):
        validate_context({"internal_id": "5265877635-1"})


@pytest.mark.parametrize("value", [
    "5265877635-DE123456789", "5265877635-ATU12345678", "5265877635-ESA1234567B", "5265877635-FRXY123456789",
    "5265877635-IE1+12345A", "5265877635-XIGD123"])
def test_nip_vat_ue(value):
    assert validate_context({"nip_vat_ue": value}) == KsefContext("NipVatUe", value)
    assert validate_context({"nip_vat_ue": value}).as_api() == {"type": "NipVatUe", "value": value}


@pytest.mark.parametrize("value", [
    "5265877635-DE12345678",     # DE takes 9 digits
    "5265877635-PL1234567890",   # a Polish VAT number is no EU entity's
    "5265877635DE123456789",     # no dash
    "5265877635-de123456789",    # the prefix is upper case
    "5265877635 -DE123456789",
    "5265877635-DE\u066123456789",  # an Arabic-Indic digit, which \\d would take
    "5265877635-DE123456789-1",
])
def test_nip_vat_ue_outside_the_contract_pattern(value):
    with pytest.raises(KsefConfigError, match="VAT UE number") as err:
        validate_context({"nip_vat_ue": value})
    assert err.value.option == "context.nip_vat_ue"
    assert "5265877635-DE123456789" in str(err.value)  # the example of the fix


def test_nip_vat_ue_nip_check_digit():
    with pytest.raises(KsefConfigError, match="check digit") as err:
        validate_context({"nip_vat_ue": "5265877636-DE123456789"})
    assert err.value.option == "context.nip_vat_ue"


def test_nip_vat_ue_pattern_is_the_contracts():
    """The same language as components.schemas.NipVatUe, read with ASCII digits (\\d -> [0-9])."""
    schema = json.loads(_CONTRACT.read_text(encoding="utf-8"))["components"]["schemas"]["NipVatUe"]
    assert schema["pattern"].replace("\\d", "[0-9]").replace("{1}", "") == _NIP_VAT_UE_PATTERN.replace(
        "([0-9]{10})", "[1-9](([0-9][1-9])|([1-9][0-9]))[0-9]{7}")


@pytest.mark.parametrize("context", [{}, None, {"nip": "5265877635", "internal_id": "5265877635-00001"},
                                     {"nip": "5265877635", "nip_vat_ue": "5265877635-DE123456789"}])
def test_exactly_one_identifier(context):
    with pytest.raises(KsefConfigError, match="exactly one") as err:
        validate_context(context)
    assert err.value.option == "context"


def test_context_as_api():
    assert KsefContext("Nip", "5265877635").as_api() == {"type": "Nip", "value": "5265877635"}


def test_environments_and_default():
    assert resolve_connection({}).base_url == ENVIRONMENTS["test"] == "https://api-test.ksef.mf.gov.pl/v2"
    assert resolve_connection({"environment": "demo"}).base_url == "https://api-demo.ksef.mf.gov.pl/v2"
    assert resolve_connection({"environment": "prod"}).base_url == "https://api.ksef.mf.gov.pl/v2"


def test_api_url_and_environment_conflict():
    with pytest.raises(KsefConfigError, match="mutually exclusive"):
        resolve_connection({"environment": "test", "api_url": "https://x.example/v2"})


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/v2", "http://127.8.9.1/v2", "http://[::1]:80/v2",
                                 "http://localhost:1/v2/"])
def test_plain_http_allowed_for_loopback(url):
    assert resolve_connection({"api_url": url}).base_url == url.rstrip("/")


def test_plain_http_refused_elsewhere_unless_allowed():
    with pytest.raises(KsefConfigError, match="allow_insecure_http") as err:
        resolve_connection({"api_url": "http://ksef.internal:8080/v2"})
    assert err.value.option == "api_url"
    settings = resolve_connection({"api_url": "http://ksef.internal:8080/v2", "allow_insecure_http": True})
    assert settings.base_url == "http://ksef.internal:8080/v2"


@pytest.mark.parametrize("url", ["ftp://x/v2", "api-test.ksef.mf.gov.pl/v2", "https:///v2"])
def test_api_url_must_be_absolute_http(url):
    with pytest.raises(KsefConfigError, match="absolute"):
        resolve_connection({"api_url": url})


def test_loopback_detection():
    assert is_loopback_host("127.0.0.1") and is_loopback_host("::1") and is_loopback_host("LOCALHOST")
    assert not is_loopback_host("10.0.0.1") and not is_loopback_host("localhost.example.com")
    assert not is_loopback_host("128.0.0.1")


def test_tls_settings(tmp_path):
    assert resolve_connection({}).verify is True
    assert resolve_connection({"validate_certs": False}).verify is False
    ca = tmp_path / "ca.pem"
    ca.write_text("dummy")
    assert resolve_connection({"ca_path": str(ca)}).verify == str(ca)
    with pytest.raises(KsefConfigError) as err:
        resolve_connection({"ca_path": str(tmp_path / "missing.pem")})
    assert err.value.option == "ca_path"
    with pytest.raises(KsefConfigError) as err:
        resolve_connection({"timeout": 0})
    assert err.value.option == "timeout"


@pytest.mark.parametrize("option, value", [("timeout", 0), ("timeout", 601), ("timeout", -1),
                                           ("max_retry_wait", -1), ("max_retry_wait", 10 ** 9)])
def test_numeric_options_are_bounded_naming_the_option(option, value):
    params = {"api_url": "http://127.0.0.1:8080/v2", option: value}
    with pytest.raises(KsefConfigError) as err:
        resolve_connection(params)
    assert err.value.option == option and "between" in str(err.value)
