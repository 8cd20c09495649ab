"""The long-lived objects of one gateway process, built in the lifespan.

Routes reach them through ``request.app.state.gateway`` (see ``deps.get_state``), typed,
instead of through module globals. The authenticator and the audit sink are described by
the small protocols the gateway relies on, not by their concrete classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.audit.events import AuditEvent
from appliance.auth.principal import Principal
from appliance.gateway.admission import Admission
from appliance.gateway.backends import BackendPool
from appliance.gateway.metrics import GatewayMetrics
from appliance.rag.embeddings import Embedder
from appliance.rag.service import KnowledgeService
from appliance.settings import Settings


class TokenAuthenticator(Protocol):
    async def authenticate(self, authorization_header: str | None) -> Principal: ...


class AuditSink(Protocol):
    async def commit(self, event: AuditEvent) -> int: ...

    def submit(self, event: AuditEvent) -> None: ...


@dataclass(slots=True)
class GatewayState:
    settings: Settings
    client: aiohttp.ClientSession
    authenticator: TokenAuthenticator
    audit: AuditSink
    engine: AsyncEngine
    pool: BackendPool
    admission: Admission
    metrics: GatewayMetrics
    knowledge: KnowledgeService
    embedder: Embedder
