"""Today's token usage of one user, read from the audit log's ``chat.end`` events.

The read is bounded in time like the audit commit: a database that hangs (frozen, or a
network path that drops packets) must turn into a quick 503, not a request that waits as
long as the database does. The engine's connect timeout does not cover this, because an
open pooled connection is pinged and queried without one.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.audit.events import EventType
from appliance.audit.models import AuditEventRow
from appliance.errors import AuditUnavailable
from appliance.gateway.admission import UsageLoader

# As long as a chat may wait for its "begin" commit (AuditSettings.commit_timeout_s).
READ_TIMEOUT_S = 2.0

# Reads abandoned after their timeout, kept referenced until the database answers them.
_abandoned: set[asyncio.Task[int]] = set()


def _settle(task: asyncio.Task[int]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()


def usage_loader(engine: AsyncEngine, *, timeout_s: float = READ_TIMEOUT_S) -> UsageLoader:
    """A loader for :class:`~appliance.gateway.admission.Admission` bound to ``engine``."""
    tokens = func.coalesce(AuditEventRow.prompt_tokens, 0) + func.coalesce(
        AuditEventRow.completion_tokens, 0
    )

    async def read(subject: str, since: datetime) -> int:
        query = select(func.coalesce(func.sum(tokens), 0)).where(
            AuditEventRow.event_type == EventType.CHAT_END.value,
            AuditEventRow.actor_subject == subject,
            AuditEventRow.created_at >= since,
        )
        async with engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())

    async def load(subject: str, since: datetime) -> int:
        # The read runs as its own task and is left behind on timeout rather than cancelled
        # and awaited: giving a hung connection back to the pool would hang as well.
        task = asyncio.ensure_future(read(subject, since))
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout_s)
            if task in done:
                return task.result()
        except (SQLAlchemyError, OSError) as exc:
            # Fail closed like the audit log itself: no quota check, no chat.
            raise AuditUnavailable("The audit store cannot be read; try again shortly.") from exc
        _abandoned.add(task)
        task.add_done_callback(_settle)
        raise AuditUnavailable("The audit store did not answer in time; try again shortly.")

    return load
