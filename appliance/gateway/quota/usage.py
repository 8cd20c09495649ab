"""Today's token usage of one user, read through :mod:`appliance.audit.usage_query`.

The read is bounded in time like the audit commit: a database that hangs (frozen, or a
network path that drops packets) must turn into a quick 503, not a request that waits as
long as the database does. The engine's connect timeout does not cover this, because an
open pooled connection is pinged and queried without one.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.audit.usage_query import tokens_used_since
from appliance.errors import AuditUnavailable
from appliance.gateway.quota.admission import UsageLoader

# As long as a chat may wait for its "begin" commit (AuditSettings.commit_timeout_s).
READ_TIMEOUT_S = 2.0

# Reads abandoned after their timeout, kept referenced until the database answers them.
_abandoned: set[asyncio.Task[int]] = set()


def _settle(task: asyncio.Task[int]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()


def usage_loader(engine: AsyncEngine, *, timeout_s: float = READ_TIMEOUT_S) -> UsageLoader:
    """A loader for :class:`~appliance.gateway.quota.admission.Admission` bound to ``engine``."""

    async def load(subject: str, since: datetime) -> int:
        # The read runs as its own task and is left behind on timeout rather than cancelled
        # and awaited: giving a hung connection back to the pool would hang as well.
        task = asyncio.ensure_future(tokens_used_since(engine, subject, since))
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
