"""What serving a chat needs besides its body: the caller and the collaborators.

A route builds a :class:`ChatContext` with the ``CurrentChat`` dependency (which also
authorizes: only staff may chat), so :mod:`~appliance.gateway.chat.serving` and
:mod:`~appliance.gateway.chat.relay` see neither the HTTP request nor ``app.state``.
Client disconnects need no request either: :class:`~appliance.gateway.chat.relay.RelayResponse`
watches the ASGI ``receive`` channel it is called with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated

import aiohttp
from fastapi import Depends, Request

from appliance.auth.principal import Principal
from appliance.content.store import ActiveLibrary
from appliance.gateway.deps import get_state, require_staff
from appliance.gateway.edge.caller import Caller
from appliance.gateway.edge.metrics import GatewayMetrics
from appliance.gateway.edge.shedding import handed_to_backend
from appliance.gateway.quota.admission import Admission
from appliance.gateway.replicas.pool import ReplicaPool
from appliance.gateway.state import AuditSink
from appliance.rag.service import KnowledgeService
from appliance.settings import ContentSettings, LimitSettings


@dataclass(frozen=True, slots=True)
class ChatContext:
    caller: Caller
    principal: Principal
    limits: LimitSettings
    pool: ReplicaPool
    client: aiohttp.ClientSession
    admission: Admission
    knowledge: KnowledgeService
    audit: AuditSink
    metrics: GatewayMetrics
    keywords: ActiveLibrary
    content: ContentSettings
    # Called once the chat's "begin" row is committed: it then waits on a replica, no
    # longer on the gateway, and leaves the load shedder's queue.
    handed_to_backend: Callable[[], None]


async def chat_context(request: Request) -> ChatContext:
    """Authorize (staff only) and gather what the chat needs. One dependency that calls the
    guard itself rather than a chain of three: FastAPI resolves it on every chat."""
    principal = await require_staff(request)
    state = get_state(request)
    return ChatContext(
        caller=Caller.of(request, principal),
        principal=principal,
        limits=state.settings.limits,
        pool=state.pool,
        client=state.client,
        admission=state.admission,
        knowledge=state.knowledge,
        audit=state.audit,
        metrics=state.metrics,
        keywords=state.keywords,
        content=state.settings.content,
        handed_to_backend=partial(handed_to_backend, request),
    )


CurrentChat = Annotated[ChatContext, Depends(chat_context)]
