"""Backend choice: least outstanding requests, in-flight cap, unknown and unserved models."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from appliance.errors import NotFound, ServiceUnavailable
from appliance.gateway.replicas.pool import ReplicaPool, _metric_sum


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def _pool(session: aiohttp.ClientSession, cap: int = 2) -> ReplicaPool:
    pool = ReplicaPool(["http://a", "http://b"], session, interval_s=1, inflight_cap=cap)
    for backend in pool.replicas:
        backend.healthy = True
        backend.model_ids = frozenset({"m"})
        backend.model_cards = ({"id": "m"},)
    return pool


async def test_least_outstanding_backend_is_chosen(session: aiohttp.ClientSession) -> None:
    pool = _pool(session)
    first = pool.acquire("m")
    second = pool.acquire("m")
    assert first is not second
    pool.release(first)
    assert pool.acquire("m") is first


async def test_all_backends_full_is_503_with_retry_after(session: aiohttp.ClientSession) -> None:
    pool = _pool(session, cap=1)
    pool.acquire("m")
    pool.acquire("m")
    with pytest.raises(ServiceUnavailable) as refused:
        pool.acquire("m")
    assert refused.value.code == "backends_busy"
    assert "Retry-After" in refused.value.headers


async def test_unknown_model_is_404_and_unhealthy_backends_are_skipped(
    session: aiohttp.ClientSession,
) -> None:
    pool = _pool(session)
    with pytest.raises(NotFound):
        pool.acquire("other")
    pool.replicas[0].healthy = False
    assert pool.acquire("m") is pool.replicas[1]
    assert pool.models() == [{"id": "m", "thinking": "always"}]


async def test_no_healthy_backend_is_503(session: aiohttp.ClientSession) -> None:
    pool = _pool(session)
    for backend in pool.replicas:
        backend.healthy = False
    with pytest.raises(ServiceUnavailable) as refused:
        pool.acquire("m")
    assert refused.value.code == "no_healthy_backend"


async def test_failover_excludes_backends_already_tried(session: aiohttp.ClientSession) -> None:
    pool = _pool(session)
    first = pool.acquire("m")
    assert pool.acquire("m", frozenset({first})) is not first


def test_vllm_queue_is_read_from_its_metrics() -> None:
    text = (
        "# TYPE vllm:num_requests_waiting gauge\n"
        'vllm:num_requests_waiting{engine="0",model_name="m"} 3.0\n'
        'vllm:num_requests_waiting{engine="1",model_name="m"} 2.0\n'
        'vllm:num_requests_waiting_by_reason{engine="0",reason="capacity"} 9.0\n'
    )
    assert _metric_sum(text, "vllm:num_requests_waiting") == 5
    assert _metric_sum(text, "vllm:num_requests_running") is None
    assert _metric_sum("vllm:num_requests_waiting{} garbage", "vllm:num_requests_waiting") is None
