"""What a run reports: findings of any kind in the result and in the diff."""
from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._executor import Done
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import certificate_drift
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate import CertificateKind
from ansible_collections.ksef.credentials.plugins.module_utils._results import Report, diff, result


def test_a_finding_without_a_name_is_shown_by_its_identifier_in_the_diff_and_the_result():
    finding = certificate_drift.Finding(certificate_drift.REVOKED_STORED, "stored but revoked", None, "1F83BD40E2353DDF")
    report = Report([], p.ContextPlan(declared={}), Done(), check_mode=True, drift=[finding])
    assert "! revoked_stored 1F83BD40E2353DDF: stored but revoked" in diff(report)["prepared"]
    (found,) = result(report, CertificateKind())["drift"]
    assert found == {"kind": "revoked_stored", "severity": "error", "name": None, "serial_number": "1F83BD40E2353DDF",
                     "reference": "1F83BD40E2353DDF", "store": None, "message": "stored but revoked"}


def test_drift_lines_come_before_the_summary_line_and_the_kinds_notes_after_it():
    finding = certificate_drift.Finding(certificate_drift.REVOKED_STORED, "stored but revoked", None, "1F83BD40E2353DDF")
    cplan = p.ContextPlan(declared={}, notes=["Calls: none"])
    report = Report([], cplan, Done(), check_mode=True, drift=[finding])
    assert diff(report)["prepared"].splitlines() == [
        "! revoked_stored 1F83BD40E2353DDF: stored but revoked", "Plan: no changes.", "Calls: none"]


def test_a_credential_whose_issue_failed_has_no_status_and_one_in_check_mode_has_the_predicted_one():
    from ansible_collections.ksef.credentials.plugins.module_utils._executor import ApplyError
    from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token import TOKEN

    declared = TOKEN.declare({"name": "erp", "permissions": ["InvoiceRead"], "state": "present"})
    cplan = p.ContextPlan(declared={"erp": p.Plan(declared, [p.Step(p.CREATE, "missing")])})
    failed = Done(failures={"erp": ApplyError("KSeF answered 400", [])})
    entry = result(Report([], cplan, failed, check_mode=False), TOKEN)["tokens"]["erp"]
    assert entry["failed"] is True and entry["status"] is None and entry["reference_number"] is None
    predicted = result(Report([], cplan, Done(), check_mode=True), TOKEN)["tokens"]["erp"]
    assert predicted["status"] == "Active" and "failed" not in predicted
