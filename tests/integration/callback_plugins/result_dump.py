# Test-only callback: appends every task result as one JSON line to $KSEF_TEST_RESULTS_FILE,
# so integration tests can assert on what modules returned (and the canary test can scan it).
from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: result_dump
type: aggregate
short_description: write task results as JSON lines (tests only)
description: Appends each task result to the file named by KSEF_TEST_RESULTS_FILE.
options: {}
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "result_dump"
    CALLBACK_NEEDS_ENABLED = True

    def _dump(self, result, status):
        path = os.environ.get("KSEF_TEST_RESULTS_FILE")
        if not path:
            return
        record = {
            "host": result._host.get_name(),
            "task": result._task.get_name(),
            "action": result._task.action,
            "status": status,
            "result": self._clean(result._result),
        }
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str) + "\n")

    @staticmethod
    def _clean(res):
        return {k: v for k, v in dict(res).items() if not k.startswith("_ansible_") or k == "_ansible_no_log"}

    def v2_runner_on_ok(self, result):
        self._dump(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._dump(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._dump(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._dump(result, "unreachable")
