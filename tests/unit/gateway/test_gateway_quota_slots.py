"""Per-user concurrency through a slot store shared by several processes (here: Admission
objects), as ``admission_slots`` in PostgreSQL is shared by every worker and gateway."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from appliance.errors import RateLimited
from appliance.gateway.quota import admission as admission_module
from appliance.gateway.quota.admission import Admission


class SharedSlots:
    """One count per subject for every Admission given it; releases reach it only when
    ``settle`` runs, like the background deletes of the real store."""

    def __init__(self) -> None:
        self.active: dict[str, int] = {}
        self.pending: list[str] = []
        self.claims = 0

    async def claim(self, subject: str, limit: int) -> object | None:
        self.claims += 1
        if self.active.get(subject, 0) >= limit:
            return None
        self.active[subject] = self.active.get(subject, 0) + 1
        return subject

    def release(self, lease: object) -> None:
        self.pending.append(str(lease))

    async def settle(self) -> bool:
        had = bool(self.pending)
        for subject in self.pending:
            self.active[subject] -= 1
        self.pending.clear()
        return had


async def _no_usage(subject: str, since: datetime) -> int:
    return 0


def _process(slots: SharedSlots, limit: int = 2) -> Admission:
    return Admission(
        per_user_concurrency=limit, daily_token_quota=1000, load_usage=_no_usage, slots=slots
    )


async def _admitted(process: Admission, subject: str) -> bool:
    try:
        await process.admit(subject)
    except RateLimited as refused:
        assert refused.code == "too_many_concurrent_requests"
        return False
    return True


async def test_limit_holds_across_processes_sharing_the_store() -> None:
    slots = SharedSlots()
    first, second = _process(slots), _process(slots)
    outcomes = [await _admitted(process, "u") for process in (first, second) * 3]
    assert outcomes.count(True) == 2
    assert await _admitted(first, "other")


async def test_own_pending_release_is_awaited_before_refusing() -> None:
    slots = SharedSlots()
    process = _process(slots, limit=1)
    assert await _admitted(process, "u")
    process.release("u", 0)
    assert slots.pending == ["u"]
    assert await _admitted(process, "u")


async def test_a_full_subject_is_refused_without_asking_again_for_a_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slots = SharedSlots()
    first, second = _process(slots, limit=1), _process(slots, limit=1)
    assert await _admitted(first, "u")
    assert not await _admitted(second, "u")
    claims = slots.claims
    assert not await _admitted(second, "u")
    assert slots.claims == claims
    # Another process's release is seen once the moment has passed.
    first.release("u", 0)
    await slots.settle()
    monkeypatch.setattr(admission_module, "FULL_FOR_S", 0.0)
    assert await _admitted(second, "u")


async def test_a_release_landing_just_after_the_claim_is_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(admission_module, "RELEASE_GRACE_S", 0.05)
    slots = SharedSlots()
    first, second = _process(slots, limit=1), _process(slots, limit=1)
    assert await _admitted(first, "u")
    # The user's chat ended on the first process; its delete reaches the store a moment
    # after the user's next request reached the second.
    asyncio.get_running_loop().call_later(0.01, slots.active.__setitem__, "u", 0)
    assert await _admitted(second, "u")
    # A slot still held after the grace is refused.
    assert not await _admitted(first, "u")
