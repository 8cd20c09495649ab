"""Reading usage from the audit log: token sums and outcome counts of ``chat.end`` events.

The audit log is the one record of what was served, so quotas and the sysadmin's usage
report are read from it rather than from a counter table of their own. These reads return
counts and sums only, never prompts or answers: the sysadmin who sees them may not read
what anyone asked (三员分立; the contents are for auditors, see :mod:`appliance.audit.query`).
Callers decide how long to wait and what a failed read means (the gateway fails closed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.audit.events import EventType
from appliance.audit.models import AuditEventRow


def _tokens() -> ColumnElement[int]:
    return func.coalesce(AuditEventRow.prompt_tokens, 0) + func.coalesce(
        AuditEventRow.completion_tokens, 0
    )


_CHAT_ENDS = AuditEventRow.event_type == EventType.CHAT_END.value


async def tokens_used_since(engine: AsyncEngine, subject: str, since: datetime) -> int:
    """Prompt plus completion tokens of the subject's finished chats since ``since``."""
    query = select(func.coalesce(func.sum(_tokens()), 0)).where(
        _CHAT_ENDS,
        AuditEventRow.actor_subject == subject,
        AuditEventRow.created_at >= since,
    )
    async with engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())


@dataclass(frozen=True, slots=True)
class UserUsage:
    """One (username, groups) pair's finished chats since the start of the period."""

    username: str
    groups: tuple[str, ...]
    tokens: int
    requests: int


@dataclass(frozen=True, slots=True)
class UsageCounts:
    users: list[UserUsage]
    # Finished chats of the recent window by outcome value.
    outcomes: dict[str, int]


async def usage_counts(
    engine: AsyncEngine, *, since: datetime, recent_since: datetime
) -> UsageCounts:
    """Tokens and chats per user since ``since``, and chat outcomes since ``recent_since``."""
    per_user = (
        select(
            AuditEventRow.actor_username,
            AuditEventRow.actor_groups,
            func.sum(_tokens()),
            func.count(),
        )
        .where(_CHAT_ENDS, AuditEventRow.created_at >= since)
        .group_by(AuditEventRow.actor_username, AuditEventRow.actor_groups)
    )
    recent = (
        select(AuditEventRow.outcome, func.count())
        .where(_CHAT_ENDS, AuditEventRow.created_at >= recent_since)
        .group_by(AuditEventRow.outcome)
    )
    async with engine.connect() as connection:
        user_rows = (await connection.execute(per_user)).all()
        outcome_rows = (await connection.execute(recent)).all()
    return UsageCounts(
        users=[
            UserUsage(
                username=username, groups=tuple(groups), tokens=int(used), requests=int(count)
            )
            for username, groups, used, count in user_rows
        ],
        outcomes={str(outcome): int(count) for outcome, count in outcome_rows},
    )
