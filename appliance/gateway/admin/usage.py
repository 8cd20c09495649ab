"""What a sysadmin sees of usage: aggregates from the audit log, never its contents.

The three administrators are separate (三员分立): a sysadmin operates quotas and backends
but may not read what anyone asked. So this report is built from the counts and token sums
of ``chat.end`` events that :mod:`appliance.audit.usage_query` reads, per user and per
department, plus the recent error rate. Service keys' integrations (``svc:<name>``) are one
row each under ``services``, with their own daily quota (the largest of their keys in
force), and are counted in neither the users nor the departments.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.apikeys.schemas import SERVICE_PREFIX
from appliance.apikeys.store import KeyStore
from appliance.audit.events import Outcome
from appliance.audit.usage_query import usage_counts
from appliance.db.session import create_session_factory
from appliance.errors import AuditUnavailable
from appliance.gateway.quota.admission import start_of_day

# Outcomes that count as the appliance failing a request (a client leaving does not).
FAILED_OUTCOMES = frozenset({Outcome.ERROR.value, Outcome.UPSTREAM_ABORTED.value})


def _service_row(actor: str) -> dict[str, Any]:
    return {
        "integration": actor.removeprefix(SERVICE_PREFIX),
        "actor": actor,
        "departments": [],
        "tokens_today": 0,
        "requests_today": 0,
    }


async def usage_report(engine: AsyncEngine, *, quota: int, window_minutes: int) -> dict[str, Any]:
    """Today's tokens per user and department, and the outcomes of the last minutes."""
    now = datetime.now().astimezone()
    try:
        counts = await usage_counts(
            engine,
            since=start_of_day(now),
            recent_since=now - timedelta(minutes=window_minutes),
        )
        service_quotas = await KeyStore(create_session_factory(engine)).service_quotas()
    except (SQLAlchemyError, OSError) as exc:
        raise AuditUnavailable("The audit store cannot be read; try again shortly.") from exc

    users: dict[str, dict[str, Any]] = {}
    services: dict[str, dict[str, Any]] = {}
    for row in counts.users:
        if row.username.startswith(SERVICE_PREFIX):
            service = services.setdefault(row.username, _service_row(row.username))
            service["departments"] = sorted(set(service["departments"]) | set(row.groups))
            service["tokens_today"] += row.tokens
            service["requests_today"] += row.requests
            continue
        entry = users.setdefault(
            row.username,
            {"username": row.username, "departments": [], "tokens_today": 0, "requests_today": 0},
        )
        entry["departments"] = sorted(
            set(entry["departments"]) | {g for g in row.groups if g.startswith("/dept/")}
        )
        entry["tokens_today"] += row.tokens
        entry["requests_today"] += row.requests
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
    for name in service_quotas:
        services.setdefault(name, _service_row(name))
    for name, service in services.items():
        limit = service_quotas.get(name, 0)
        service["daily_token_quota"] = limit
        service["remaining_today"] = max(0, limit - service["tokens_today"])
    outcomes = counts.outcomes
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
        "services": [services[name] for name in sorted(services)],
    }
