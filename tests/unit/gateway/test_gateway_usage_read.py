"""The quota read fails closed in bounded time when the database hangs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.errors import AuditUnavailable
from appliance.gateway.quota.usage import usage_loader


class _HungEngine:
    """An engine whose pooled connection never answers, like a SIGSTOPped PostgreSQL."""

    def __init__(self) -> None:
        self.released = asyncio.Event()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Any]:
        await self.released.wait()
        raise OSError("connection reset")
        yield  # pragma: no cover - never reached


async def test_a_hung_database_gives_a_503_within_the_read_timeout() -> None:
    engine = _HungEngine()
    load = usage_loader(cast(AsyncEngine, engine), timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(AuditUnavailable):
        await load("subject", datetime.now(UTC))
    assert time.monotonic() - started < 1.0
    # The abandoned read ends quietly once the database answers again.
    engine.released.set()
    await asyncio.sleep(0.05)


async def test_a_database_error_is_a_503_at_once() -> None:
    engine = _HungEngine()
    engine.released.set()
    load = usage_loader(cast(AsyncEngine, engine), timeout_s=5)
    started = time.monotonic()
    with pytest.raises(AuditUnavailable):
        await load("subject", datetime.now(UTC))
    assert time.monotonic() - started < 1.0
