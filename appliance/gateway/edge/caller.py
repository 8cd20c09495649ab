"""Who is calling and from where: what every audit event of a request is stamped with.

A :class:`Caller` is read once from the request (the id that the request-context middleware
assigned, the client address, the user agent, the path) and handed to serving code, which
thereby never needs the HTTP request itself to record who did what.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from appliance.audit.events import Actor, AuditEvent, EventType, Outcome
from appliance.auth.principal import Principal


def actor_of(principal: Principal | None) -> Actor:
    if principal is None:
        return Actor()
    return Actor(
        subject=principal.subject,
        username=principal.username,
        roles=tuple(sorted(principal.roles)),
        groups=tuple(sorted(principal.groups)),
        client_id=principal.client_id,
    )


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal | None
    request_id: str
    client_ip: str
    user_agent: str
    path: str
    # perf_counter() when the request arrived, for latency and time to first token.
    started_at: float

    @classmethod
    def of(cls, request: Request, principal: Principal | None = None) -> Caller:
        client = request.client
        return cls(
            principal=principal,
            request_id=str(getattr(request.state, "request_id", "")),
            client_ip=client.host if client is not None else "",
            user_agent=request.headers.get("user-agent", "")[:512],
            path=request.url.path,
            started_at=getattr(request.state, "started_at", None) or time.perf_counter(),
        )

    def event(
        self,
        event_type: EventType,
        outcome: Outcome,
        *,
        http_status: int | None = None,
        **fields: Any,
    ) -> AuditEvent:
        """An event stamped with the request's id, client address and user agent."""
        return AuditEvent(
            event_type=event_type,
            outcome=outcome,
            request_id=self.request_id,
            actor=actor_of(self.principal),
            client_ip=self.client_ip,
            user_agent=self.user_agent,
            http_status=http_status,
            **fields,
        )


def request_event(
    request: Request,
    event_type: EventType,
    outcome: Outcome,
    *,
    principal: Principal | None = None,
    http_status: int | None = None,
    **fields: Any,
) -> AuditEvent:
    """An event stamped with the request's id, client address and user agent."""
    return Caller.of(request, principal).event(
        event_type, outcome, http_status=http_status, **fields
    )
