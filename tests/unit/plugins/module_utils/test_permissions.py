"""Permission names: official spelling, snake_case, order, duplicates, unknown names."""
import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _permissions as permissions
from ksef_emulator.contract import contract


def test_official_and_snake_case_normalise_to_the_canonical_order():
    assert permissions.normalise(["invoice_write", "InvoiceRead", "credentials-manage"]) == (
        "InvoiceRead", "InvoiceWrite", "CredentialsManage")


def test_every_official_name_has_a_snake_case_form():
    snake = ["invoice_read", "invoice_write", "credentials_read", "credentials_manage", "subunit_manage",
             "enforcement_operations", "introspection", "collective_identifier_manage"]
    assert permissions.normalise(snake) == permissions.OFFICIAL
    assert permissions.normalise(["CollectiveIdentifierManage", "collective-identifier-manage"]) == (
        "CollectiveIdentifierManage",)


@pytest.mark.parametrize("schema", sorted(permissions.CONTRACT_ENUMS))
def test_each_permission_enum_equals_the_contracts(schema):
    """The enum as the emulator's bundled contract (with the newer changes it applies) defines it, in its order."""
    enum = contract()["components"]["schemas"][schema]["enum"]
    assert permissions.CONTRACT_ENUMS[schema] == tuple(enum), (
        f"{schema}: the collection has {permissions.CONTRACT_ENUMS[schema]}, the contract {tuple(enum)}")


def test_every_permission_enum_of_the_collection_is_compared_with_the_contract():
    """A tuple of permission names added to _permissions must be listed in CONTRACT_ENUMS (and so compared)."""
    assert "TokenPermissionType" in permissions.CONTRACT_ENUMS
    enums = {name for name, value in vars(permissions).items()
             if isinstance(value, tuple) and value and all(isinstance(v, str) and v[:1].isupper() for v in value)}
    listed = {name for name, value in vars(permissions).items()
              if any(value is mirrored for mirrored in permissions.CONTRACT_ENUMS.values())}
    assert enums == listed, f"permission enums not in CONTRACT_ENUMS: {sorted(enums - listed)}"


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


def test_a_grant_kind_accepts_only_its_own_permission_types_and_names_them_when_refusing():
    assert permissions.normalise(["invoice_read", "InvoiceWrite"], permissions.ENTITY) == ("InvoiceWrite", "InvoiceRead")
    with pytest.raises(permissions.UnknownPermissionError, match=r"'CredentialsManage'.*allowed: InvoiceWrite, InvoiceRead, CollectiveIdentifierManage"):
        permissions.normalise(["CredentialsManage"], permissions.ENTITY)
