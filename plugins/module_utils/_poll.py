# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one polling helper: ask, wait a growing delay, ask again, until done or the deadline.

Used for the authentication status, the activation of new credentials, permission operations (a slower schedule:
`OPERATIONS`) and locks. Injectable sleep and
monotonic clocks keep tests free of wall-clock luck.
"""

from __future__ import annotations

import time

# A permission operation takes seconds to minutes at KSeF and its status endpoint allows 120 reads an hour per
# context: ask after 1 s, then 2, 4, 8, 16, 32, and then once a minute (5 reads for an operation of 15 s, about 60
# an hour for one that takes hours; the rounds also wait for room in the endpoint's windows, grant.wait_operations).
OPERATIONS = {"first": 1.0, "factor": 2.0, "cap": 60.0}


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

    def wait(self, at_least: float = 0.0) -> bool:
        """Sleep before the next round, `at_least` seconds (the requests of that round must fit KSeF's limits);
        False (without sleeping) when that round would pass the deadline."""
        delay = max(self._delay, at_least)
        if self._monotonic() + delay > self._deadline:
            return False
        self._sleep(delay)
        self._delay = min(self._delay * self._factor, self._cap)
        return True

    def remaining(self) -> float:
        """Seconds left until the deadline."""
        return max(0.0, self._deadline - self._monotonic())
