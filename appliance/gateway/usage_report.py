"""What a sysadmin sees of usage: aggregates from the audit log, never its contents.

The three administrators are separate (三员分立): a sysadmin operates quotas and backends
but may not read what anyone asked. So this report reads only counts and token sums of
``chat.end`` events, per user and per department, plus the recent error rate.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.audit.events import EventType, Outcome
from appliance.audit.models import AuditEventRow
from appliance.errors import AuditUnavailable
from appliance.gateway.admission import start_of_day

# Outcomes that count as the appliance failing a request (a client leaving does not).
FAILED_OUTCOMES = frozenset({Outcome.ERROR.value, Outcome.UPSTREAM_ABORTED.value})


async def usage_report(engine: AsyncEngine, *, quota: int, window_minutes: int) -> dict[str, Any]:
    """Today's tokens per user and department, and the outcomes of the last minutes."""
    now = datetime.now().astimezone()
    tokens = func.coalesce(AuditEventRow.prompt_tokens, 0) + func.coalesce(
        AuditEventRow.completion_tokens, 0
    )
    ends = AuditEventRow.event_type == EventType.CHAT_END.value
    per_user = (
        select(
            AuditEventRow.actor_username,
            AuditEventRow.actor_groups,
            func.sum(tokens),
            func.count(),
        )
        .where(ends, AuditEventRow.created_at >= start_of_day(now))
        .group_by(AuditEventRow.actor_username, AuditEventRow.actor_groups)
    )
    recent = (
        select(AuditEventRow.outcome, func.count())
        .where(ends, AuditEventRow.created_at >= now - timedelta(minutes=window_minutes))
        .group_by(AuditEventRow.outcome)
    )
    try:
        async with engine.connect() as connection:
            user_rows = (await connection.execute(per_user)).all()
            outcome_rows = (await connection.execute(recent)).all()
    except (SQLAlchemyError, OSError) as exc:
        raise AuditUnavailable("The audit store cannot be read; try again shortly.") from exc

    users: dict[str, dict[str, Any]] = {}
    for username, groups, used, count in user_rows:
        entry = users.setdefault(
            username,
            {"username": username, "departments": [], "tokens_today": 0, "requests_today": 0},
        )
        entry["departments"] = sorted(
            set(entry["departments"]) | {g for g in groups if g.startswith("/dept/")}
        )
        entry["tokens_today"] += int(used)
        entry["requests_today"] += int(count)
    departments: dict[str, dict[str, int]] = defaultdict(
        lambda: {"tokens_today": 0, "requests_today": 0, "users": 0}
    )
    for entry in users.values():
        entry["remaining_today"] = max(0, quota - entry["tokens_today"])
        for department in entry["departments"] or ["(none)"]:
            totals = departments[department]
            totals["tokens_today"] += entry["tokens_today"]
            totals["requests_today"] += entry["requests_today"]
            totals["users"] += 1
    outcomes = {str(outcome): int(count) for outcome, count in outcome_rows}
    total = sum(outcomes.values())
    failed = sum(count for outcome, count in outcomes.items() if outcome in FAILED_OUTCOMES)
    return {
        "daily_token_quota": quota,
        "window_minutes": window_minutes,
        "recent": {
            "requests": total,
            "failed": failed,
            "error_rate": failed / total if total else 0.0,
            "outcomes": outcomes,
        },
        "users": sorted(users.values(), key=lambda u: -u["tokens_today"]),
        "departments": [
            {"department": name, **totals} for name, totals in sorted(departments.items())
        ],
    }
