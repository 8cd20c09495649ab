"""Per-user admission: a concurrent-request cap and a daily token quota (429 + Retry-After).

The concurrency cap holds across every worker and gateway on one database: each admitted
chat leases one of the user's slots through a :class:`SlotStore`, in production
:class:`~appliance.gateway.quota.slots.SlotLeases` (a table in PostgreSQL; its docstring
says how, what it costs and how it fails). :class:`LocalSlots` counts in this process
only, for tests and tools without a database.

The daily quota needs no table of its own: the audit log already records every finished
chat with its token counts, so a user's usage today is the sum of their ``chat.end``
tokens since local midnight. That sum is read at a user's first request of the day and
then kept in memory, incremented as this process's chats finish, and re-read from the
database every ``resync_s`` seconds. With several workers (or gateways) each process sees
the others' usage only at its next re-read, so a user can overshoot the quota by at most
what the other processes served in one resync interval, plus the answers already in
flight when the quota ran out: a bounded error that never locks anyone out wrongly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from appliance.errors import RateLimited

# (subject, start of the local day) -> tokens that subject's chats used since then.
UsageLoader = Callable[[str, datetime], Awaitable[int]]


def start_of_day(now: datetime | None = None) -> datetime:
    """Local midnight, timezone-aware: quotas follow the appliance's own calendar day."""
    current = (now or datetime.now()).astimezone()
    return current.replace(hour=0, minute=0, second=0, microsecond=0)


def seconds_until_tomorrow() -> int:
    now = datetime.now().astimezone()
    tomorrow = start_of_day(now) + timedelta(days=1)
    return max(1, int((tomorrow - now).total_seconds()) + 1)


class SlotStore(Protocol):
    """Where concurrency slots are leased: ``claim`` returns a lease, or None when the
    subject holds ``limit`` already; ``release`` gives one back and must not block."""

    async def claim(self, subject: str, limit: int) -> object | None: ...

    def release(self, lease: object) -> None: ...

    async def settle(self) -> bool:
        """Wait for releases still on their way; True if there were any."""
        ...


class LocalSlots:
    """Slots counted in this process only (tests, tools without a database)."""

    def __init__(self) -> None:
        self._active: dict[str, int] = {}

    async def claim(self, subject: str, limit: int) -> object | None:
        active = self._active.get(subject, 0)
        if active >= limit:
            return None
        self._active[subject] = active + 1
        return subject

    def release(self, lease: object) -> None:
        subject = str(lease)
        active = self._active.get(subject, 1) - 1
        if active > 0:
            self._active[subject] = active
        else:
            self._active.pop(subject, None)

    async def settle(self) -> bool:
        return False


@dataclass(slots=True)
class _Usage:
    day: date
    tokens: int
    loaded_at: float


# After the slot store says a subject is full, this process refuses that subject without
# asking again for this long (unless one of its own chats of that subject ends first): a
# user firing requests in a loop costs the database ten claims a second per worker, not
# one per request. A slot another process frees is seen at most this late; the 429's
# Retry-After (1 s) is longer.
FULL_FOR_S = 0.1
# A claim that finds the subject full asks once more after this long before refusing: the
# user's previous chat may have ended on another worker, whose delete of its lease runs in
# the background and can land just after the answer's last byte. Without it, a user who
# sends one request after another could get 429 for the one they just finished. Only
# requests about to be refused wait.
RELEASE_GRACE_S = 0.1


class Admission:
    def __init__(
        self,
        *,
        per_user_concurrency: int,
        daily_token_quota: int,
        load_usage: UsageLoader,
        resync_s: float = 30.0,
        slots: SlotStore | None = None,
    ) -> None:
        self.per_user_concurrency = per_user_concurrency
        self.daily_token_quota = daily_token_quota
        self._load_usage = load_usage
        self._resync_s = resync_s
        self._slots: SlotStore = slots if slots is not None else LocalSlots()
        # The leases this process holds, per subject: a release frees any one of them.
        self._held: dict[str, list[object]] = {}
        # Subject -> when the slot store last said it was full (time.monotonic()).
        self._full_at: dict[str, float] = {}
        self._usage: dict[str, _Usage] = {}
        self._loading: dict[str, asyncio.Task[_Usage]] = {}

    async def _fetch(self, subject: str, day_start: datetime) -> _Usage:
        tokens = await self._load_usage(subject, day_start)
        return _Usage(day=day_start.date(), tokens=tokens, loaded_at=time.monotonic())

    async def used_today(self, subject: str) -> int:
        """Tokens the subject used today, re-read from the audit log when stale."""
        day_start = start_of_day()
        usage = self._usage.get(subject)
        fresh = (
            usage is not None
            and usage.day == day_start.date()
            and time.monotonic() - usage.loaded_at < self._resync_s
        )
        if usage is not None and fresh:
            return usage.tokens
        task = self._loading.get(subject)
        if task is None:
            # One read per subject at a time: concurrent first requests share it.
            task = asyncio.ensure_future(self._fetch(subject, day_start))
            self._loading[subject] = task
            task.add_done_callback(lambda _t: self._loading.pop(subject, None))
        usage = await asyncio.shield(task)
        self._usage[subject] = usage
        return usage.tokens

    async def remaining(self, subject: str) -> int:
        return max(0, self.daily_token_quota - await self.used_today(subject))

    async def admit(self, subject: str) -> None:
        """Reserve one concurrent slot for the subject, or raise RateLimited."""
        if await self.used_today(subject) >= self.daily_token_quota:
            raise RateLimited(
                f"Daily token quota of {self.daily_token_quota} is used up; it resets at midnight.",
                retry_after_s=seconds_until_tomorrow(),
                code="daily_quota_exceeded",
            )
        lease = None
        full_at = self._full_at.get(subject)
        if full_at is None or time.monotonic() - full_at >= FULL_FOR_S:
            lease = await self._slots.claim(subject, self.per_user_concurrency)
            if lease is None and await self._slots.settle():
                # A chat of this process that just ended had not reached the store yet.
                lease = await self._slots.claim(subject, self.per_user_concurrency)
            if lease is None:
                # One of another process may not have either.
                await asyncio.sleep(RELEASE_GRACE_S)
                lease = await self._slots.claim(subject, self.per_user_concurrency)
            if lease is None:
                self._full_at[subject] = time.monotonic()
            else:
                self._full_at.pop(subject, None)
        if lease is None:
            raise RateLimited(
                f"At most {self.per_user_concurrency} concurrent requests per user; wait for "
                "one to finish.",
                retry_after_s=1,
                code="too_many_concurrent_requests",
            )
        self._held.setdefault(subject, []).append(lease)

    def release(self, subject: str, tokens: int) -> None:
        """Free the subject's slot and count the tokens its chat used."""
        held = self._held.get(subject)
        if held:
            self._full_at.pop(subject, None)
            self._slots.release(held.pop())
            if not held:
                del self._held[subject]
        usage = self._usage.get(subject)
        if usage is not None and tokens:
            usage.tokens += tokens
