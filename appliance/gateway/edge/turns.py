"""Turns through the gateway's own stages: at most ``limit`` requests of a worker work
through authentication, parsing, retrieval and the "begin" commit at once; the others wait
for their turn, in arrival order, on a future that costs no CPU.

Why: every admitted request is a coroutine that takes its share of the event loop at each
await. With hundreds of them (a burst of staff at 9:00, or an overload not yet detected),
each step of each request waits for all the others, and so does the first step of a new
arrival: the loop's lateness then delays the very refusal meant to protect it, and
requests trickle into the shedder late and out of order, so a burst looks like growth.
A request waiting for its turn is counted by the shedder from its arrival, so this moves
the queue, it does not hide it: the queueing-delay rule (:mod:`.shedding`) still sees the
whole wait.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Turns:
    """A FIFO gate of ``limit`` turns (0: no limit). :meth:`take` waits for one;
    :meth:`give` returns it, handing it straight to the longest waiter."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.working = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """Requests waiting for a turn now."""
        return len(self._waiting)

    async def take(self) -> None:
        """Wait for a turn. Cancelled while waiting, the request holds none; cancelled as
        its turn arrived, it passes the turn on."""
        if not self.limit or (self.working < self.limit and not self._waiting):
            self.working += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.give()
            else:
                self._waiting.remove(turn)
            raise

    def give(self) -> None:
        """The holder left the stages: the longest waiter gets its turn."""
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.working -= 1
