"""Figures about the audit log for an assessor (the 等保 compliance export): how many events
of each type and outcome each month, and what the retention policy has kept and archived.

Counted in SQL over the live table; archived rows are described by the ``audit.archive``
events that moved them (``appliance.audit.retention``), whose detail names each file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.audit.events import EventType

_BY_MONTH = text(
    "SELECT to_char(date_trunc('month', created_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month, "
    "event_type, outcome, count(*) AS events FROM audit_events "
    "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
)
_OLDEST = text("SELECT seq, created_at FROM audit_events ORDER BY seq LIMIT 1")
_ARCHIVES = text(
    "SELECT seq, created_at, actor_username, detail FROM audit_events "
    "WHERE event_type = :archive ORDER BY seq"
)


async def event_counts(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Rows of (month ``YYYY-MM`` in UTC, event type, outcome, events), in that order."""
    async with engine.connect() as conn:
        rows = (await conn.execute(_BY_MONTH)).mappings().all()
    return [dict(row) for row in rows]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def retention_status(engine: AsyncEngine, retention_days: int) -> dict[str, Any]:
    """The policy, the oldest row still in the database, and every archive run recorded in
    the live chain (file, rows, SHA-256, when and by whom)."""
    async with engine.connect() as conn:
        oldest = (await conn.execute(_OLDEST)).first()
        runs = (
            (await conn.execute(_ARCHIVES, {"archive": str(EventType.AUDIT_ARCHIVE)}))
            .mappings()
            .all()
        )
    archives = [
        {
            "file": run["detail"].get("file"),
            "first_seq": run["detail"].get("first_seq"),
            "last_seq": run["detail"].get("last_seq"),
            "rows": run["detail"].get("rows"),
            "sha256": run["detail"].get("sha256"),
            "archived_at": _iso(run["created_at"]),
            "archived_by": run["actor_username"],
            "recorded_at_seq": run["seq"],
        }
        for run in runs
    ]
    return {
        "retention_days": retention_days,
        "oldest_live_seq": None if oldest is None else oldest[0],
        "oldest_live_created_at": None if oldest is None else _iso(oldest[1]),
        "archives": archives,
    }
