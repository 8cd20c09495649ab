"""Today's token usage of one user, read from the audit log's ``chat.end`` events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.audit.events import EventType
from appliance.audit.models import AuditEventRow
from appliance.errors import AuditUnavailable
from appliance.gateway.admission import UsageLoader


def usage_loader(engine: AsyncEngine) -> UsageLoader:
    """A loader for :class:`~appliance.gateway.admission.Admission` bound to ``engine``."""
    tokens = func.coalesce(AuditEventRow.prompt_tokens, 0) + func.coalesce(
        AuditEventRow.completion_tokens, 0
    )

    async def load(subject: str, since: datetime) -> int:
        query = select(func.coalesce(func.sum(tokens), 0)).where(
            AuditEventRow.event_type == EventType.CHAT_END.value,
            AuditEventRow.actor_subject == subject,
            AuditEventRow.created_at >= since,
        )
        try:
            async with engine.connect() as connection:
                return int((await connection.execute(query)).scalar_one())
        except (SQLAlchemyError, OSError) as exc:
            # Fail closed like the audit log itself: no quota check, no chat.
            raise AuditUnavailable("The audit store cannot be read; try again shortly.") from exc

    return load
