# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one polling helper: ask, wait a growing delay, ask again, until done or the deadline.

Used for the authentication status, the activation of new credentials and locks. Injectable sleep and
monotonic clocks keep tests free of wall-clock luck.
"""

from __future__ import annotations

import time


class Poller:
    """Delays of `first` seconds growing by `factor` up to `cap`, within `timeout` seconds.

    poller = Poller(timeout)
    while not done():
        if not poller.wait():
            raise ...  # the next round would pass the deadline
    """

    def __init__(
        self,
        timeout: float,
        first: float = 0.2,
        factor: float = 1.5,
        cap: float = 2.0,
        sleep=time.sleep,
        monotonic=time.monotonic,
    ):
        self.timeout = timeout
        self._delay = first
        self._factor = factor
        self._cap = cap
        self._sleep = sleep
        self._monotonic = monotonic
        self._deadline = monotonic() + timeout

    def wait(self) -> bool:
        """Sleep before the next round; False (without sleeping) when that round would pass the deadline."""
        if self._monotonic() + self._delay > self._deadline:
            return False
        self._sleep(self._delay)
        self._delay = min(self._delay * self._factor, self._cap)
        return True
