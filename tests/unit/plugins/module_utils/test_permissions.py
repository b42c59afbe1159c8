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
