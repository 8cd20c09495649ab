"""Finding requests that a crashed gateway process left open.

A "chat.begin" with no "chat.end" is normal while the request runs. Once the process that
wrote it is gone (checked on its own host only: see ``identity.writer_alive``), no end will
ever come, so a restarted writer on that host closes it with outcome ``interrupted``: the
auditor sees that the request started and was cut off, rather than a dangling begin.
"""

from __future__ import annotations

import socket
from typing import Any

from psycopg import AsyncCursor

from appliance.audit.events import Actor, AuditEvent, EventType, Outcome
from appliance.audit.identity import writer_alive

# Older begins were reconciled by an earlier start on this host, or the host is gone.
LOOKBACK = "30 days"

_OPEN_BEGINS_SQL = """
SELECT b.seq, b.request_id, b.writer_id, b.actor_subject, b.actor_username, b.actor_roles,
       b.actor_groups, b.client_id, b.client_ip, b.user_agent, b.model, b.backend
FROM audit_events AS b
WHERE b.event_type = 'chat.begin'
  AND split_part(b.writer_id, ':', 1) = %s
  AND b.created_at > now() - %s::interval
  AND NOT EXISTS (
      SELECT 1 FROM audit_events AS e
      WHERE e.request_id = b.request_id AND e.event_type = 'chat.end'
  )
ORDER BY b.seq
"""


async def interrupted_ends(cur: AsyncCursor[Any], *, reconciler: str) -> list[AuditEvent]:
    """ "chat.end" events (outcome interrupted) for open begins of dead writers of this host."""
    await cur.execute(_OPEN_BEGINS_SQL, (socket.gethostname(), LOOKBACK))
    ends: list[AuditEvent] = []
    for row in await cur.fetchall():
        (seq, request_id, writer_id, subject, username, roles, groups) = row[:7]
        client_id, client_ip, user_agent, model, backend = row[7:]
        if writer_alive(writer_id):
            continue
        ends.append(
            AuditEvent(
                event_type=EventType.CHAT_END,
                outcome=Outcome.INTERRUPTED,
                request_id=request_id,
                actor=Actor(subject, username, tuple(roles), tuple(groups), client_id),
                client_ip=client_ip,
                user_agent=user_agent,
                model=model,
                backend=backend,
                detail={"begin_seq": seq, "interrupted_writer": writer_id, "by": reconciler},
            )
        )
    return ends
