"""Per-user admission: a concurrent-request cap and a daily token quota (429 + Retry-After).

The daily quota needs no table of its own: the audit log already records every finished
chat with its token counts, so a user's usage today is the sum of their ``chat.end``
tokens since local midnight. That sum is read at a user's first request of the day and
then kept in memory, incremented as this process's chats finish, and re-read from the
database every ``resync_s`` seconds.

With several workers (or gateways) each process sees the others' usage only at its next
re-read, so a user can overshoot the quota by at most what the other processes served in
one resync interval, plus the answers already in flight when the quota ran out. The
concurrency cap is per process for the same reason: the hot path never waits on a shared
counter. Both approximations err by a bounded amount and never lock anyone out wrongly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

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


@dataclass(slots=True)
class _Usage:
    day: date
    tokens: int
    loaded_at: float


class Admission:
    def __init__(
        self,
        *,
        per_user_concurrency: int,
        daily_token_quota: int,
        load_usage: UsageLoader,
        resync_s: float = 30.0,
    ) -> None:
        self.per_user_concurrency = per_user_concurrency
        self.daily_token_quota = daily_token_quota
        self._load_usage = load_usage
        self._resync_s = resync_s
        self._active: dict[str, int] = {}
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
        active = self._active.get(subject, 0)
        if active >= self.per_user_concurrency:
            raise RateLimited(
                f"At most {self.per_user_concurrency} concurrent requests per user; wait for "
                "one to finish.",
                retry_after_s=1,
                code="too_many_concurrent_requests",
            )
        self._active[subject] = active + 1

    def release(self, subject: str, tokens: int) -> None:
        """Free the subject's slot and count the tokens its chat used."""
        active = self._active.get(subject, 1) - 1
        if active > 0:
            self._active[subject] = active
        else:
            self._active.pop(subject, None)
        usage = self._usage.get(subject)
        if usage is not None and tokens:
            usage.tokens += tokens
