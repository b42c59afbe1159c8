# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The journal of operations in flight, for kinds whose issues and revokes KSeF finishes later (`Kind.journaled`).

KSeF answers a permission grant or revoke with the reference of an operation that may stay at status 100 for
hours, and lists nothing of it until it ends: a run that stops waiting cannot tell from KSeF that it already asked.
The journal remembers each operation from the moment KSeF accepted it until it ended, so the next run waits for it
(resumes) instead of sending it again. One JSON file per owner and kind, no secret in it:

    {"20261204-PO-...": {"name": "erp-operator", "action": "create", "started": "2026-12-04T12:00:00+00:00"}}

The certificate kind keeps its enrollments in one too (`_kinds/certificate.py`, kind `certificates-enrolled`): an
enrollment from the moment KSeF accepted it, then the serial number of the certificate it issued until that one is
revoked, so that a run knows which of the subject's certificates this context's runs made.

It lives in `~/.ansible/ksef-credentials/journal/` (KSEF_JOURNAL_DIR, or the `journal_dir` of a run, changes it):
keep it where the next run of the same owner finds it (on AWX, a persistent path).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefError, KsefTimeoutError

DEFAULT_DIRECTORY = os.path.join("~", ".ansible", "ksef-credentials", "journal")


class Journal:
    """The operations in flight of one owner (a context, or a subject) and one kind."""

    def __init__(self, owner: str, kind: str, directory: str | None = None, clock=lambda: datetime.now(timezone.utc)):
        directory = os.path.expanduser(directory or os.environ.get("KSEF_JOURNAL_DIR") or DEFAULT_DIRECTORY)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "-", "%s-%s" % (owner, kind))
        self.path = os.path.join(directory, safe + ".json")
        self._clock = clock

    def in_flight(self) -> dict:
        """reference -> {name, action, started} of every operation not known to have ended."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                entries = json.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise KsefError("the journal of operations in flight %s cannot be read: %s" % (self.path, exc)) from None
        return entries if isinstance(entries, dict) else {}

    def started(self, name: str, reference: str, action: str, target: str | None = None) -> None:
        """KSeF accepted an operation (`target`: the live object a revoke is about): remembered before the run
        waits for it."""
        entry = {"name": name, "action": action, "started": self._clock().isoformat()}
        if target is not None:
            entry["target"] = target
        with self._changing() as entries:
            entries[reference] = entry

    def ended(self, results: dict) -> None:
        """Forget the operations that ended (reference -> the live object, None, or the error it ended with); an
        operation that only outlived the wait (KsefTimeoutError) stays, for the next run to resume."""
        finished = [ref for ref, outcome in results.items() if not isinstance(outcome, KsefTimeoutError)]
        if not finished or not os.path.exists(self.path):
            return
        with self._changing() as entries:
            for ref in finished:
                entries.pop(ref, None)

    @contextmanager
    def _changing(self):
        """The entries, changed under a lock on the journal and written back atomically (0600)."""
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            entries = self.in_flight()
            yield entries
            handle, temporary = tempfile.mkstemp(dir=directory, prefix=".journal-")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    json.dump(entries, out, indent=1, sort_keys=True)
                os.replace(temporary, self.path)
            except BaseException:
                if os.path.exists(temporary):
                    os.unlink(temporary)
                raise
        finally:
            os.close(fd)


class NoJournal:
    """What a kind whose operations end at once keeps: nothing."""

    def in_flight(self) -> dict:
        return {}

    def started(self, name: str, reference: str, action: str, target: str | None = None) -> None:
        pass

    def ended(self, results: dict) -> None:
        pass
