"""Reading the audit log for auditors: filtered, keyset-paged listing and streamed export.

Paging is by ``seq`` (``after_seq``), never by offset, so a page costs the same at the start
and after millions of rows, and rows appended meanwhile never shift a page. Export streams
through a server-side cursor in fixed-size partitions: memory stays constant whatever the
size of the log.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal, TypedDict, Unpack

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.audit.chain import STORED_FIELDS
from appliance.audit.models import AuditEventRow

EXPORT_PARTITION = 500
MAX_PAGE = 1000
_TABLE = AuditEventRow.__table__
_COLUMNS = [_TABLE.c[name] for name in STORED_FIELDS]


class EventFilters(TypedDict, total=False):
    """What an auditor may narrow the log to; every key left out (or None) matches all."""

    user: str | None
    department: str | None
    event_type: str | None
    outcome: str | None
    since: datetime | None
    until: datetime | None
    after_seq: int | None


def _filtered(filters: EventFilters) -> Select[Any]:
    query = select(*_COLUMNS).order_by(_TABLE.c.seq)
    if (user := filters.get("user")) is not None:
        query = query.where(_TABLE.c.actor_username == user)
    if (department := filters.get("department")) is not None:
        query = query.where(_TABLE.c.actor_groups.contains([department]))
    if (event_type := filters.get("event_type")) is not None:
        query = query.where(_TABLE.c.event_type == event_type)
    if (outcome := filters.get("outcome")) is not None:
        query = query.where(_TABLE.c.outcome == outcome)
    if (since := filters.get("since")) is not None:
        query = query.where(_TABLE.c.created_at >= since)
    if (until := filters.get("until")) is not None:
        query = query.where(_TABLE.c.created_at < until)
    if (after_seq := filters.get("after_seq")) is not None:
        query = query.where(_TABLE.c.seq > after_seq)
    return query


def _jsonable(row: Any) -> dict[str, Any]:
    record = dict(row._mapping)
    record["created_at"] = record["created_at"].isoformat()
    return record


async def list_events(
    engine: AsyncEngine, *, limit: int = 100, **filters: Unpack[EventFilters]
) -> list[dict[str, Any]]:
    """One page of events in ascending seq; pass the last seq as ``after_seq`` for the next."""
    query = _filtered(filters).limit(max(1, min(limit, MAX_PAGE)))
    async with engine.connect() as conn:
        result = await conn.execute(query)
        return [_jsonable(row) for row in result]


def _csv_line(values: list[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue().encode("utf-8")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


async def export_events(
    engine: AsyncEngine, *, fmt: Literal["jsonl", "csv"], **filters: Unpack[EventFilters]
) -> AsyncIterator[bytes]:
    """Every matching event as JSON Lines or CSV (with a header row), streamed."""
    query = _filtered(filters).execution_options(yield_per=EXPORT_PARTITION)
    if fmt == "csv":
        yield _csv_line(list(STORED_FIELDS))
    async with engine.connect() as conn:
        result = await conn.stream(query)
        async for partition in result.partitions():
            chunk: list[bytes] = []
            for row in partition:
                record = _jsonable(row)
                if fmt == "jsonl":
                    chunk.append(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
                else:
                    chunk.append(_csv_line([_csv_cell(record[n]) for n in STORED_FIELDS]))
            yield b"".join(chunk)
