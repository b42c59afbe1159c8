"""The steps every value kind shares: what becomes of the live credentials other than the one a name keeps."""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import certificate_plan, token_plan

NOW = datetime(2025, 10, 1, 12, 0, tzinfo=timezone.utc)
M, H = timedelta(minutes=1), timedelta(hours=1)


@dataclass(frozen=True)
class Live:
    reference_number: str
    created: datetime
    status: str = p.ACTIVE


def lost_and_reissued(words, *live):
    """No store holds any of `live` (newest first): the run issues a successor of the newest."""
    issue = p.first_issue(list(live), "erp", ("file:/s0",), words, p.ROTATE)
    return issue, live


@pytest.mark.parametrize("words", [token_plan.WORDING, certificate_plan.WORDING], ids=["token", "certificate"])
def test_the_credential_a_run_reissues_is_superseded_in_that_run_however_young(words):
    issue, live = lost_and_reissued(words, Live("A", NOW - 2 * M))
    assert issue.reference_number == "A" and "store drift" in issue.reason
    [step] = p.previous_steps(list(live), None, issue, NOW, timedelta(0), p.ORPHAN_MARGIN, words)
    assert (step.action, step.reference_number) == (p.REVOKE, "A")
    assert step.reason == "no store holds its %s; superseded by the new %s" % (words.value, words.noun)

    [step] = p.previous_steps(list(live), None, issue, NOW, H, p.ORPHAN_MARGIN, words)
    assert (step.action, step.reference_number, step.until) == (p.RETAIN, "A", (NOW + H).isoformat())
    assert step.reason == "%s lost from the stores; kept until %s (revoke_previous_after 1h)" % (
        words.value, (NOW + H).isoformat())


def test_a_young_credential_the_issue_does_not_name_is_still_left_to_a_change_in_progress():
    # A Pending one is not what the run reissues (only an Active one is): it may be another host's creation.
    pending = Live("P", NOW - 2 * M, status=p.PENDING)
    issue = p.first_issue([], "erp", ("file:/s0",), token_plan.WORDING, p.ROTATE)
    [step] = p.previous_steps([pending], None, issue, NOW, timedelta(0), p.ORPHAN_MARGIN, token_plan.WORDING)
    assert (step.action, step.reference_number) == (p.RETAIN, "P") and "in progress" in step.reason
