"""Build audit events from a request, so every route records who, from where, and which id."""

from __future__ import annotations

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
    client = request.client
    return AuditEvent(
        event_type=event_type,
        outcome=outcome,
        request_id=str(getattr(request.state, "request_id", "")),
        actor=actor_of(principal),
        client_ip=client.host if client is not None else "",
        user_agent=request.headers.get("user-agent", "")[:512],
        http_status=http_status,
        **fields,
    )
