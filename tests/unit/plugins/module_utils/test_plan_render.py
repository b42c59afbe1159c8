"""The plan for people: one line per change with the credential's name and the reason, then a summary."""
from datetime import datetime, timedelta, timezone

from ansible_collections.ksef.credentials.plugins.module_utils import _identity
from ansible_collections.ksef.credentials.plugins.module_utils import _plan_render as render
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import token_plan as p

NOW = datetime(2025, 10, 1, 12, 0, tzinfo=timezone.utc)
D = timedelta(days=1)
RW = ("InvoiceRead", "InvoiceWrite")


def live(ref, name, perms=RW, age=D):
    return p.ActualToken(ref, "Active", tuple(perms), _identity.compose(name, name + " text"), NOW - age)


def declared(name, **kw):
    kw.setdefault("description", name + " text")
    kw.setdefault("permissions", RW)
    return p.Declared(name=name, **kw)


def test_each_change_is_one_line_naming_the_credential_and_the_summary_counts_them():
    tokens = [live("A", "archive", age=91 * D), live("R", "reader", perms=("InvoiceRead",)), live("K", "kept"),
              live("O", "old-tool")]
    cplan = p.plan_context(
        [declared("erp-sender"), declared("archive", rotate_after=90 * D), declared("reader"), declared("kept")],
        tokens, {"erp-sender": [], "archive": [p.Holding("f:a", "A")], "reader": [p.Holding("f:r", "R")],
                 "kept": [p.Holding("f:k", "K")]}, NOW, exclusive="managed")
    assert render.lines(cplan) == [
        "+ erp-sender: create (no active token named 'erp-sender')",
        "~ archive: rotate (age 91d reached rotate_after 90d); the old one, A, is revoked in this run once the new "
        "one is stored",
        "-/+ reader: replace (permissions differ (InvoiceRead -> InvoiceRead,InvoiceWrite) and cannot be changed on "
        "an existing token); the old one, R, is revoked in this run once the new one is stored",
        "- old-tool: revoke (not declared (exclusive: managed))",
        "Plan: 1 to create, 1 to rotate, 1 to replace, 1 to revoke. Old ones: 2 revoked in this run.",
    ]


def test_nothing_to_change_says_so_and_lists_no_kept_credential():
    cplan = p.plan_context([declared("kept")], [live("K", "kept")], {"kept": [p.Holding("f:k", "K")]}, NOW)
    assert render.lines(cplan) == ["Plan: no changes."]


def test_a_rotation_with_a_grace_period_says_until_when_the_old_one_stays_valid():
    cplan = p.plan_context(
        [declared("archive", rotate_after=90 * D, revoke_previous_after=D), declared("reader", revoke_previous_after=D)],
        [live("A", "archive", age=91 * D), live("R", "reader", perms=("InvoiceRead",))],
        {"archive": [p.Holding("f:a", "A")], "reader": [p.Holding("f:r", "R")]}, NOW)
    until = (NOW + D).isoformat()
    assert render.lines(cplan) == [
        "~ archive: rotate (age 91d reached rotate_after 90d); the old one, A, stays valid until %s, then the first "
        "run after that revokes it" % until,
        "-/+ reader: replace (permissions differ (InvoiceRead -> InvoiceRead,InvoiceWrite) and cannot be changed on "
        "an existing token); the old one, R, stays valid until %s, then the first run after that revokes it" % until,
        "Plan: 1 to rotate, 1 to replace. Old ones: 2 kept until %s." % until,
    ]


def test_a_certificate_renewal_says_when_the_old_certificate_is_revoked():
    from ansible_collections.ksef.credentials.plugins.module_utils._kinds import certificate_plan as c

    def certificate(serial, left):
        return c.ActualCertificate(serial, "Active", "Authentication", c.ksef_name("login"), NOW - 700 * D, NOW + left,
                                   NOW - 700 * D)

    due = c.plan_subject([c.Declared("login")], [certificate("S", 10 * D)], {"login": [p.Holding("f:s", "S")]}, NOW)
    assert render.lines(due)[0].endswith("; the old one, S, is revoked in this run once the new one is stored")
    graced = c.plan_subject([c.Declared("login", revoke_previous_after=2 * D)], [certificate("S", 10 * D)],
                            {"login": [p.Holding("f:s", "S")]}, NOW)
    assert render.lines(graced)[0].endswith("; the old one, S, stays valid until %s, then the first run after that "
                                            "revokes it" % (NOW + 2 * D).isoformat())
    assert render.lines(graced)[-1] == "Plan: 1 to renew. Old ones: 1 kept until %s." % (NOW + 2 * D).isoformat()


def test_a_grant_plan_names_unmanaged_rows_shows_retained_ones_and_the_tokens_a_revoke_breaks():
    from ansible_collections.ksef.credentials.plugins.module_utils._kinds import grant_plan as g

    here = ("Nip", "5265877635")
    operator = g.declare({"name": "erp", "kind": "person", "description": "ERP operator",
                          "subject": {"pesel": "90010112349", "first_name": "Jan", "last_name": "Kowalski"},
                          "permissions": ["InvoiceRead"]})
    write = g.GrantRow("W", "person", "InvoiceWrite", "Pesel", "90010112349", operator.full_description,
                       details=operator.details, author=("Nip", here[1]), context=here)
    web = g.GrantRow("U", "person", "InvoiceRead", "Pesel", "44051401458", "Made in the web app", context=here)
    admin = g.GrantRow("M", "person", "CredentialsManage", "Pesel", "44051401458", "The only administrator",
                       context=here)
    cplan = g.plan_context([operator], [write, web, admin], exclusive="all", context=here)
    token = {"referenceNumber": "T1", "description": "ERP sender [ksef.credentials:erp-sender]",
             "authorIdentifier": {"type": "Pesel", "value": "90010112349"}, "requestedPermissions": ["InvoiceWrite"]}
    g.dependencies(cplan, [write, web, admin], [token])
    lines = render.lines(cplan)
    assert "- erp: revoke (InvoiceWrite no longer declared); KSeF then revokes the managed tokens: erp-sender" in lines
    assert "- unmanaged person InvoiceRead of Pesel:44051401458 (U): revoke (not declared (exclusive: all))" in lines
    assert any(line.startswith("= unmanaged person CredentialsManage of Pesel:44051401458 (M): retain (lockout guard:")
               for line in lines)
    assert lines[-1] == "Plan: 1 to create, 2 to revoke. 1 retained."
    kept = g.plan_context([operator], [], context=here)
    assert render.summary(kept).startswith("Plan: 1 to create.")
    held = g.plan_context([], [admin], exclusive="all", context=here)
    assert render.summary(held) == "Plan: no changes."  # exclusive: all touches only the declared kinds
