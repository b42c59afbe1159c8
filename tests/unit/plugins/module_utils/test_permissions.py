"""Permission names: official spelling, snake_case, order, duplicates, unknown names."""
import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _permissions as permissions


def test_official_and_snake_case_normalise_to_the_canonical_order():
    assert permissions.normalise(["invoice_write", "InvoiceRead", "credentials-manage"]) == (
        "InvoiceRead", "InvoiceWrite", "CredentialsManage")


def test_every_official_name_has_a_snake_case_form():
    snake = ["invoice_read", "invoice_write", "credentials_read", "credentials_manage", "subunit_manage",
             "enforcement_operations", "introspection"]
    assert permissions.normalise(snake) == permissions.OFFICIAL


def test_duplicates_and_spellings_collapse():
    assert permissions.normalise(["InvoiceRead", "invoice_read", "INVOICEREAD"]) == ("InvoiceRead",)


def test_single_string_and_empty():
    assert permissions.normalise("invoice_read") == ("InvoiceRead",)
    assert permissions.normalise(None) == ()
    assert permissions.normalise([]) == ()


def test_unknown_names_are_listed_with_the_allowed_ones():
    with pytest.raises(permissions.UnknownPermissionError) as err:
        permissions.normalise(["InvoiceRead", "invoices_read", "admin"])
    text = str(err.value)
    assert "'invoices_read'" in text and "'admin'" in text and "CredentialsManage" in text


def test_canonical_sorts_api_output_and_keeps_unknown_future_names():
    assert permissions.canonical(["InvoiceWrite", "InvoiceRead"]) == ("InvoiceRead", "InvoiceWrite")
    assert permissions.canonical(["Zeta", "InvoiceRead"]) == ("InvoiceRead", "Zeta")
    assert permissions.canonical(None) == ()


@pytest.mark.parametrize("names, schema", [
    (permissions.PERSON, "PersonPermissionType"),
    (permissions.ENTITY, "EntityPermissionType"),
    (permissions.INDIRECT, "IndirectPermissionType"),
    (permissions.AUTHORIZATION, "EntityAuthorizationPermissionType"),
    (permissions.EU_ADMINISTRATOR, "EuEntityPermissionsQueryPermissionType"),
])
def test_the_permission_types_of_grants_are_those_of_the_contract_in_its_order(names, schema):
    from ksef_emulator.contract import contract

    assert names == tuple(contract()["components"]["schemas"][schema]["enum"])


def test_a_grant_kind_accepts_only_its_own_permission_types_and_names_them_when_refusing():
    assert permissions.normalise(["invoice_read", "InvoiceWrite"], permissions.ENTITY) == ("InvoiceWrite", "InvoiceRead")
    with pytest.raises(permissions.UnknownPermissionError, match=r"'CredentialsManage'.*allowed: InvoiceWrite, InvoiceRead"):
        permissions.normalise(["CredentialsManage"], permissions.ENTITY)
