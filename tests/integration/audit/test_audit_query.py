"""The auditor's listing (filters, keyset paging) and streamed export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.audit.query import export_events, list_events
from appliance.audit.writer import AuditWriter
from appliance.settings import AuditSettings
from tests.support.audit_events import LI, ZHANG, begin, end


@pytest.fixture
async def populated(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    writer = AuditWriter(engine, AuditSettings(), "host:1:1")
    await writer.start()
    for i in range(30):
        actor = ZHANG if i % 3 else LI
        await writer.commit(begin(f"r{i}", actor))
        await writer.commit(end(f"r{i}", actor, response=f'答案 {i}, "quoted"'))
    await writer.stop()
    yield engine


async def test_filters(populated: AsyncEngine) -> None:
    legal = await list_events(populated, department="/dept/legal", limit=1000)
    assert len(legal) == 20 and {e["actor_username"] for e in legal} == {"li.na"}
    zhang_ends = await list_events(populated, user="zhang.wei", event_type="chat.end")
    assert len(zhang_ends) == 20
    assert all(e["event_type"] == "chat.end" and e["outcome"] == "ok" for e in zhang_ends)
    assert await list_events(populated, outcome="denied") == []
    now = datetime.now(UTC)
    assert len(await list_events(populated, since=now - timedelta(hours=1), limit=1000)) == 60
    assert await list_events(populated, until=now - timedelta(hours=1)) == []
    first = legal[0]
    assert first["actor_groups"] == ["/dept/legal"] and first["prompt"] == "你好"
    json.dumps(first)  # ready to be returned as JSON


async def test_keyset_paging_visits_every_event_once(populated: AsyncEngine) -> None:
    seen: list[int] = []
    after: int | None = None
    while page := await list_events(populated, limit=7, after_seq=after):
        seen.extend(e["seq"] for e in page)
        after = page[-1]["seq"]
    assert seen == list(range(1, 61))


async def _collect(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def test_export_jsonl(populated: AsyncEngine) -> None:
    body = await _collect(export_events(populated, fmt="jsonl", user="li.na"))
    records = [json.loads(line) for line in body.decode().splitlines()]
    assert len(records) == 20 and {r["actor_username"] for r in records} == {"li.na"}
    assert all(len(r["row_hash"]) == 64 for r in records)


async def test_export_csv(populated: AsyncEngine) -> None:
    body = await _collect(export_events(populated, fmt="csv", event_type="chat.end"))
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == 30
    assert rows[0]["response"] == '答案 0, "quoted"'
    assert json.loads(rows[0]["chunk_ids"]) == ["chunk-1", "chunk-2"]
    assert rows[0]["model"] == "smollm2" and rows[0]["reasoning"] == ""
