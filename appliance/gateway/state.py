"""The long-lived objects of one gateway process, built in the lifespan.

Routes reach them through ``request.app.state.gateway`` (see ``deps.get_state``), typed,
instead of through module globals, and hand serving code only what it needs (for a chat,
a :class:`~appliance.gateway.chat.context.ChatContext`). The authenticator and the audit
sink are described by the small protocols the gateway relies on, not by their concrete
classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.audit.events import AuditEvent
from appliance.auth.principal import Principal
from appliance.content.store import ActiveLibrary
from appliance.gateway.edge.metrics import GatewayMetrics
from appliance.gateway.quota.admission import Admission
from appliance.gateway.replicas.pool import ReplicaPool
from appliance.rag.embeddings import Embedder
from appliance.rag.service import KnowledgeService
from appliance.settings import Settings


class TokenAuthenticator(Protocol):
    async def authenticate(self, authorization_header: str | None) -> Principal: ...


class KeyVerifier(Protocol):
    """Signs a caller in with a personal API key (``appliance.gateway.keys.auth``)."""

    async def authenticate(self, key: str, client_ip: str) -> Principal: ...


class AuditSink(Protocol):
    async def commit(self, event: AuditEvent) -> int: ...

    def submit(self, event: AuditEvent) -> None: ...

    async def unready_reason(self) -> str | None: ...


@dataclass(slots=True)
class GatewayState:
    settings: Settings
    client: aiohttp.ClientSession
    authenticator: TokenAuthenticator
    audit: AuditSink
    engine: AsyncEngine
    pool: ReplicaPool
    admission: Admission
    metrics: GatewayMetrics
    knowledge: KnowledgeService
    embedder: Embedder
    # The content filter's keyword library, reloaded when the secadmin imports a new one.
    keywords: ActiveLibrary
    # Personal API keys: a bearer with the key marker is signed in here, not by Keycloak.
    keys: KeyVerifier
