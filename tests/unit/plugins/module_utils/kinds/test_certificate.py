"""The certificate kind's login checks (_kinds/certificate.py): made before any request."""
from types import SimpleNamespace

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._auth_options import AuthConfig
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate import CertificateKind


def module(**auth):
    return SimpleNamespace(ksef_auth=AuthConfig(**auth), ksef_context="Nip:7010001454")


def test_a_login_on_behalf_of_another_context_cannot_declare_certificates():
    with pytest.raises(KsefConfigError) as refused:
        CertificateKind().check_auth(module(method="xades", certificate="c", private_key="k", on_behalf=True))
    assert refused.value.option == "auth.on_behalf"
    message = str(refused.value)
    assert "belong to the subject that logs in, not to the context Nip:7010001454" in message
    assert "auth.on_behalf: false" in message and "docs/role-company.md" in message


def test_a_ksef_token_login_cannot_declare_certificates_and_a_signature_of_its_own_context_can():
    with pytest.raises(KsefConfigError) as refused:
        CertificateKind().check_auth(module(method="ksef_token", ksef_token="t"))
    assert refused.value.option == "auth.ksef_token"
    assert CertificateKind().check_auth(module(method="xades", certificate="c", private_key="k")) is None
