"""Per-user concurrency and daily quota, with a usage source that counts its reads."""

from __future__ import annotations

from datetime import datetime

import pytest

from appliance.errors import RateLimited
from appliance.gateway.quota.admission import Admission


class UsageTable:
    """An in-memory stand-in for the audit log's per-user token sums."""

    def __init__(self, used: dict[str, int]) -> None:
        self.used = used
        self.reads = 0

    async def load(self, subject: str, since: datetime) -> int:
        assert since.tzinfo is not None
        self.reads += 1
        return self.used.get(subject, 0)


async def test_concurrency_cap_refuses_with_retry_after_and_frees_on_release() -> None:
    admission = Admission(
        per_user_concurrency=2, daily_token_quota=100, load_usage=UsageTable({}).load
    )
    await admission.admit("u")
    await admission.admit("u")
    with pytest.raises(RateLimited) as refused:
        await admission.admit("u")
    assert refused.value.headers["Retry-After"] == "1"
    await admission.admit("other")
    admission.release("u", 0)
    await admission.admit("u")


async def test_quota_counts_earlier_usage_and_local_increments() -> None:
    table = UsageTable({"u": 90})
    admission = Admission(per_user_concurrency=5, daily_token_quota=100, load_usage=table.load)
    assert await admission.remaining("u") == 10
    await admission.admit("u")
    admission.release("u", 15)
    assert await admission.remaining("u") == 0
    with pytest.raises(RateLimited) as refused:
        await admission.admit("u")
    assert refused.value.code == "daily_quota_exceeded"
    assert int(refused.value.headers["Retry-After"]) > 0
    assert table.reads == 1


async def test_usage_is_reread_after_the_resync_interval() -> None:
    table = UsageTable({"u": 10})
    admission = Admission(
        per_user_concurrency=5, daily_token_quota=100, load_usage=table.load, resync_s=0
    )
    assert await admission.remaining("u") == 90
    table.used["u"] = 60  # another worker served this user meanwhile
    assert await admission.remaining("u") == 40
    assert table.reads == 2
