"""The gateway's app factory.

``create_app`` wires routes, the request-context middleware and the single error handler;
the lifespan builds the long-lived objects (HTTP client to the replicas, database engine,
audit writer, authenticator, replica pool, admission, knowledge service with its embedding
model) once per process and hangs them on ``app.state.gateway``. Run it with uvicorn's
``--factory`` flag; the settings then come from ``APPLIANCE_SETTINGS_FILE`` and
``APPLIANCE_*`` variables.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI

from appliance.apikeys.store import KeyStore
from appliance.audit.identity import default_writer_id
from appliance.audit.writer import AuditWriter
from appliance.auth.authenticator import Authenticator
from appliance.content import pii
from appliance.content.store import ActiveLibrary, LibraryStore
from appliance.db.session import create_engine_from_settings, create_session_factory
from appliance.gateway import health, me
from appliance.gateway.admin import accounts
from appliance.gateway.admin import routes as admin
from appliance.gateway.assessment import routes as assessment
from appliance.gateway.auditor import routes as auditor
from appliance.gateway.chat import routes as chat
from appliance.gateway.chat.protocol import ChatCompletionBody, document_chat_limits
from appliance.gateway.complaints import routes as complaints
from appliance.gateway.compliance import routes as compliance
from appliance.gateway.content import routes as content
from appliance.gateway.conversations import routes as conversations
from appliance.gateway.edge.errors import install_error_handler
from appliance.gateway.edge.metrics import build_metrics
from appliance.gateway.edge.middleware import RequestContextMiddleware
from appliance.gateway.edge.openapi import install_openapi
from appliance.gateway.edge.shedding import LoadShedder, LoadSheddingMiddleware
from appliance.gateway.keys import policy_routes as api_key_policy
from appliance.gateway.keys import routes as api_keys
from appliance.gateway.keys.accounts import AccountCheck
from appliance.gateway.keys.auth import KeyAuthenticator
from appliance.gateway.knowledge import embeddings
from appliance.gateway.knowledge import routes as knowledge
from appliance.gateway.knowledge.routes import UploadForm
from appliance.gateway.quota.admission import Admission
from appliance.gateway.quota.slots import SlotLeases
from appliance.gateway.quota.usage import usage_loader
from appliance.gateway.replicas.client import replica_session
from appliance.gateway.replicas.pool import ReplicaPool
from appliance.gateway.state import GatewayState
from appliance.rag.embeddings import build_embedder
from appliance.rag.service import KnowledgeService
from appliance.settings import Settings, load_settings

log = logging.getLogger("appliance.gateway")


def _numeric_stats(writer: AuditWriter) -> Mapping[str, float]:
    return {
        name: float(value)
        for name, value in dataclasses.asdict(writer.stats).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    client = replica_session(settings)
    engine = create_engine_from_settings(settings)
    writer = AuditWriter(engine, settings.audit, default_writer_id())
    authenticator = Authenticator(settings.keycloak)
    pool = ReplicaPool(
        settings.backends,
        client,
        interval_s=settings.backend_health_interval_s,
        inflight_cap=settings.limits.per_backend_inflight,
        thinking=settings.model_thinking,
    )
    embedder = build_embedder(settings.rag.embedding)
    knowledge = KnowledgeService(
        create_session_factory(engine), embedder, settings.rag, scrub=pii.scrub
    )
    slots = SlotLeases(
        engine, holder=default_writer_id(), lease_s=settings.limits.concurrency_lease_s
    )
    await writer.start()
    await pool.start()
    slots.start()
    # Loads jieba and the embedding model before the first request rather than during it.
    await knowledge.warm_up()
    keywords = ActiveLibrary(LibraryStore(engine), ttl_s=settings.content.reload_ttl_s)
    await keywords.warm_up()
    shedder: LoadShedder = app.state.shedder
    shedder.start(writer.submit)
    app.state.metrics.watch(pool.replicas, lambda: _numeric_stats(writer))
    app.state.gateway = GatewayState(
        settings=settings,
        client=client,
        authenticator=authenticator,
        audit=writer,
        engine=engine,
        pool=pool,
        admission=Admission(
            per_user_concurrency=settings.limits.per_user_concurrency,
            daily_token_quota=settings.limits.daily_token_quota,
            load_usage=usage_loader(engine),
            slots=slots,
        ),
        metrics=app.state.metrics,
        knowledge=knowledge,
        embedder=embedder,
        keywords=keywords,
        keys=KeyAuthenticator(
            settings.api_keys,
            KeyStore(create_session_factory(engine)),
            AccountCheck(settings.keycloak, settings.api_keys.account_recheck_s),
        ),
    )
    log.info("gateway ready: backends %s", ", ".join(settings.backends))
    try:
        yield
    finally:
        await shedder.stop(writer.submit)
        await pool.stop()
        await slots.stop()
        await writer.stop()
        await embedder.aclose()
        await authenticator.aclose()
        await client.close()
        await engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gateway app; ``settings`` defaults to the environment's."""
    app = FastAPI(
        title="DeepSeek-R1 appliance gateway",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Served by appliance.gateway.health behind authentication, not by FastAPI.
        openapi_url=None,
    )
    app.state.settings = settings or load_settings()
    app.state.metrics = build_metrics()
    limits = app.state.settings.limits
    app.state.shedder = LoadShedder(
        target_ms=limits.shed_target_ms,
        interval_ms=limits.shed_interval_ms,
        demand_ratio=limits.shed_demand_ratio,
        max_inflight=limits.max_inflight_per_worker,
        max_loop_lag_ms=limits.max_loop_lag_ms,
        stage_concurrency=limits.stage_concurrency_per_worker,
    )
    install_error_handler(app)
    # Added first, so it runs inside the request-context middleware: a shed request still
    # gets its X-Request-ID and is counted in the HTTP metrics.
    app.add_middleware(
        LoadSheddingMiddleware,
        shedder=app.state.shedder,
        on_shed=lambda reason: app.state.metrics.shed.labels(reason).inc(),
    )
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    routers = (
        health,
        chat,
        embeddings,
        me,
        auditor,
        admin,
        accounts,
        knowledge,
        conversations,
        content,
        assessment,
        complaints,
        compliance,
        api_keys,
        api_key_policy,
    )
    for module in routers:
        app.include_router(module.router)
    # Bodies that their routes read themselves are documented from these models.
    install_openapi(
        app,
        (ChatCompletionBody, UploadForm, embeddings.EmbeddingsRequest),
        lambda schemas: document_chat_limits(schemas, app.state.settings.limits),
    )
    return app
