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
        "~ archive: rotate (age 91d reached rotate_after 90d)",
        "-/+ reader: replace (permissions differ (InvoiceRead -> InvoiceRead,InvoiceWrite) and cannot be changed on "
        "an existing token)",
        "- old-tool: revoke (not declared (exclusive: managed))",
        "Plan: 1 to create, 1 to rotate, 1 to replace, 1 to revoke.",
    ]


def test_nothing_to_change_says_so_and_lists_no_kept_credential():
    cplan = p.plan_context([declared("kept")], [live("K", "kept")], {"kept": [p.Holding("f:k", "K")]}, NOW)
    assert render.lines(cplan) == ["Plan: no changes."]
