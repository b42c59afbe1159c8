# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A per-token local lock, so two runs on one host never plan and apply the same token at once.

An advisory `fcntl.flock` on `~/.ansible/tmp/ksef-locks/<context>-<name>.lock`: the kernel drops it when
the process ends, so a killed run never leaves a stale lock behind. Runs on other hosts are kept apart
by the stores' compare-and-set instead (see docs/rotation.md).
"""

from __future__ import annotations

import fcntl
import os
import re
from contextlib import contextmanager

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefTimeoutError
from ansible_collections.ksef.credentials.plugins.module_utils._poll import Poller

DEFAULT_DIRECTORY = os.path.join("~", ".ansible", "tmp", "ksef-locks")


class LockTimeoutError(KsefTimeoutError):
    """Another run held the lock for longer than the timeout."""

    def __init__(self, path: str, timeout: float):
        super().__init__(
            "another run is working on this credential (lock %s held for more than %ss); retry later" % (path, timeout)
        )
        self.path = path


def lock_path(context: str, name: str, directory: str | None = None) -> str:
    directory = os.path.expanduser(directory or os.environ.get("KSEF_LOCK_DIR") or DEFAULT_DIRECTORY)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", "%s-%s" % (context, name))
    return os.path.join(directory, safe + ".lock")


@contextmanager
def file_lock(path: str, timeout: float, poll: float = 0.1):
    """Hold an exclusive flock on the file at `path` (created 0600 when missing); LockTimeoutError after `timeout`
    seconds of waiting. OSError when the file cannot be opened."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        poller = Poller(timeout, first=poll, factor=1.0, cap=poll)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not poller.wait():
                    raise LockTimeoutError(path, timeout) from None
        try:
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def token_lock(context: str, name: str, timeout: float = 60.0, directory: str | None = None, poll: float = 0.1):
    """Hold the lock of (context, name); LockTimeoutError after `timeout` seconds of waiting."""
    path = lock_path(context, name, directory)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with file_lock(path, timeout, poll):
        yield path
