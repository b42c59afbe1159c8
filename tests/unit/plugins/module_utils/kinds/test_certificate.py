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


def test_a_certificate_issued_for_no_longer_than_renew_before_warns_on_the_run_that_enrolls_it():
    from datetime import datetime, timedelta, timezone

    from ansible_collections.ksef.credentials.plugins.module_utils._kinds import certificate_plan as c

    start = datetime(2026, 12, 4, tzinfo=timezone.utc)
    issued = c.ActualCertificate("1F83BD40E2353DDF", "Active", "Authentication", c.ksef_name("login"), start,
                                 start + timedelta(days=10), start)
    warnings = []
    run = SimpleNamespace(warn=warnings.append)
    plan = SimpleNamespace(declared=c.Declared("login", renew_before=timedelta(days=30)))
    CertificateKind().issued(run, plan, issued)
    (warning,) = warnings
    assert "valid for 10d" in warning and "renew_before 30d" in warning
    CertificateKind().issued(run, SimpleNamespace(declared=c.Declared("login", renew_before=timedelta(days=5))), issued)
    assert len(warnings) == 1
