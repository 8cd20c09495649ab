"""Failed key attempts per source address, counted in one gateway worker's memory.

A fixed window per address: after ``limit`` failures within ``window_s`` the address gets
429 until the window ends. Each worker counts its own, so a guesser spread over N workers
gets at most N times the limit; that is enough, since a key has 256 random bits and the
limit exists to keep a scanner from costing database reads. The map is bounded: beyond
``max_addresses`` the oldest windows are dropped.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class FailureLimiter:
    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window_s = window_s
        self._max = max_addresses
        self._clock = clock
        # address -> (window start, failures in it)
        self._windows: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def retry_after(self, address: str) -> float:
        """Seconds until ``address`` may try again; 0 when it may now."""
        window = self._windows.get(address)
        if window is None or self._limit <= 0:
            return 0.0
        started, failures = window
        left = started + self._window_s - self._clock()
        if left <= 0:
            del self._windows[address]
            return 0.0
        return left if failures >= self._limit else 0.0

    def failed(self, address: str) -> None:
        now = self._clock()
        started, failures = self._windows.get(address, (now, 0))
        if now - started >= self._window_s:
            started, failures = now, 0
        self._windows[address] = (started, failures + 1)
        self._windows.move_to_end(address)
        while len(self._windows) > self._max:
            self._windows.popitem(last=False)
