"""KsefError and its kinds: what a failed module result carries."""
from ansible_collections.ksef.credentials.plugins.module_utils._errors import (
    KsefAmbiguousError, KsefApiError, KsefAuthError, KsefConfigError, KsefError)


def test_api_error_result_carries_status_codes_details_and_reason():
    err = KsefApiError("KSeF refused POST /tokens: 26001 ...", status=400, codes=[26001, 21405],
                       description="Nie można nadać tokenowi uprawnień których nie posiadasz.",
                       details=["missing: CredentialsManage"], operation="POST /tokens", reason_code=None)
    assert err.code == 26001
    assert err.to_result() == {
        "status": 400, "code": 26001, "codes": [26001, 21405],
        "description": "Nie można nadać tokenowi uprawnień których nie posiadasz.",
        "details": ["missing: CredentialsManage"], "operation": "POST /tokens"}
    assert str(err).startswith("KSeF refused POST /tokens")


def test_reason_code_is_returned_for_problem_details():
    err = KsefApiError("forbidden", status=403, reason_code="missing-permissions")
    assert err.to_result() == {"status": 403, "reason_code": "missing-permissions"}
    assert err.code is None


def test_config_error_names_the_option_only():
    err = KsefConfigError("context.nip", "context.nip '123' must be exactly 10 digits")
    assert err.option == "context.nip"
    assert err.to_result() == {"option": "context.nip"}


def test_kinds_share_the_base_so_modules_catch_one_type():
    assert issubclass(KsefAmbiguousError, KsefApiError)
    for kind in (KsefApiError, KsefAuthError, KsefConfigError, KsefAmbiguousError):
        assert issubclass(kind, KsefError)
    auth = KsefAuthError("failed", status=450, details=["Nieprawidłowy token"])
    assert auth.to_result() == {"status": 450, "details": ["Nieprawidłowy token"]}
