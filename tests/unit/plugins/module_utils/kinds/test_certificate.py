"""The certificate kind's login checks (_kinds/certificate.py): made before any request."""
from types import SimpleNamespace

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils._auth_options import AuthConfig
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate import CertificateKind


def module(params=None, **auth):
    return SimpleNamespace(ksef_auth=AuthConfig(**auth), ksef_context="Nip:7010001454", params=params or {})


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


def test_the_on_behalf_guard_says_what_the_docs_quote_and_names_the_exclusive_that_triggered_it():
    login = dict(method="xades", certificate="c", private_key="k", on_behalf=True)
    declared = module({"certificates": [{"name": "x"}], "certificates_exclusive": "managed"}, **login)
    with pytest.raises(KsefConfigError) as refused:
        CertificateKind().check_auth(declared)
    assert str(refused.value).startswith("auth.on_behalf: certificates are refused with auth.on_behalf: true: KSeF")
    assert "declare only tokens here" in str(refused.value)
    for params, option in (({"certificates": [], "certificates_exclusive": "managed"}, "certificates_exclusive"),
                           ({"certificates": [], "exclusive": "managed"}, "exclusive")):
        with pytest.raises(KsefConfigError) as refused:
            CertificateKind().check_auth(module(params, **login))
        assert refused.value.option == option
        assert str(refused.value).startswith("%s: managed: certificates are refused with auth.on_behalf" % option)
        assert "set %s (ksef_certificates_exclusive) to false here" % option in str(refused.value)
        assert "declare only tokens" not in str(refused.value)


class EnrollmentsApi:
    """KSeF's answers about earlier enrollments: done (serial S1), in progress, unavailable now, and unknown."""

    def __init__(self):
        self.revoked = []

    def query_certificates(self, name, status):
        return []

    def certificate_enrollment(self, reference):
        from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefApiError

        if reference == "R-done":
            return {"status": {"code": 200}, "certificateSerialNumber": "S1"}
        if reference == "R-waiting":
            return {"status": {"code": 100}}
        raise KsefApiError("unavailable" if reference == "R-later" else "not found",
                           status=503 if reference == "R-later" else 400)

    def revoke_certificate(self, serial, reason):
        self.revoked.append(serial)


def test_the_certificates_enrolled_from_this_controller_are_this_hosts_until_revoked(tmp_path):
    """An enrollment a run left behind (it died before storing) is resolved to its serial number and owned; check
    mode (no change) writes nothing, the next change writes the outcome down, and a revoke forgets the serial."""
    from ansible_collections.ksef.credentials.plugins.module_utils._journal import Journal
    from ansible_collections.ksef.credentials.plugins.module_utils._kinds import certificate

    options = SimpleNamespace(exclusive="managed", journal_dir=str(tmp_path))
    journal = Journal("Nip:7010001454", certificate.ENROLLED, str(tmp_path))
    for reference in ("R-done", "R-waiting", "R-later", "R-unknown"):
        journal.started("login", reference, certificate.ENROLLING)
    journal.started("login", "S0", certificate.ENROLLED_ACTION, target="R-earlier")
    before = journal.in_flight()

    kind, api = CertificateKind(), EnrollmentsApi()
    kind.check_auth(module(method="xades", certificate="c", private_key="k"))
    kind.read_live(api, [], options)
    assert kind._owned == {"S0", "S1"}
    assert journal.in_flight() == before  # reading (check mode too) changes nothing

    kind.revoke(api, "S0")
    assert api.revoked == ["S0"]
    after = journal.in_flight()
    assert sorted(after) == ["R-later", "R-waiting", "S1"]  # KSeF could not answer for R-later: asked again
    assert after["S1"]["action"] == certificate.ENROLLED_ACTION and after["S1"]["target"] == "R-done"
