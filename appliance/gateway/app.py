"""The gateway's app factory.

``create_app`` wires routes, the request-context middleware and the single error handler;
the lifespan builds the long-lived objects (HTTP client to the backends, database engine,
audit writer, authenticator, backend pool, admission, knowledge service with its embedding
model) once per process and hangs them on ``app.state.gateway``. Run it with uvicorn's
``--factory`` flag; the settings then come from ``APPLIANCE_SETTINGS_FILE`` and
``APPLIANCE_*`` variables.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI

from appliance.audit.identity import default_writer_id
from appliance.audit.writer import AuditWriter
from appliance.auth.authenticator import Authenticator
from appliance.db.session import create_engine_from_settings, create_session_factory
from appliance.gateway.admission import Admission
from appliance.gateway.backends import BackendPool
from appliance.gateway.errors import install_error_handler
from appliance.gateway.metrics import build_metrics
from appliance.gateway.middleware import RequestContextMiddleware
from appliance.gateway.openapi import install_openapi
from appliance.gateway.openapi import router as openapi_router
from appliance.gateway.routes import admin, audit, embeddings, health, kb, me, openai
from appliance.gateway.shedding import LoadShedder, LoadSheddingMiddleware
from appliance.gateway.state import GatewayState
from appliance.gateway.usage import usage_loader
from appliance.rag.embeddings import build_embedder
from appliance.rag.service import KnowledgeService
from appliance.settings import Settings, load_settings

log = logging.getLogger("appliance.gateway")


def _upstream_session(settings: Settings) -> aiohttp.ClientSession:
    """One pooled session for every backend call; limits come from our own in-flight caps.

    aiohttp rather than httpx on this path: its C HTTP parser and constant-time connection
    pool cost a fraction of httpx's per request, and every chat goes through here.
    """
    limits = settings.limits
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30.0),
        timeout=aiohttp.ClientTimeout(
            total=None,
            sock_connect=limits.upstream_connect_timeout_s,
            sock_read=limits.upstream_read_timeout_s,
        ),
        auto_decompress=False,
        trust_env=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding"),
    )


def _numeric_stats(writer: AuditWriter) -> Mapping[str, float]:
    return {
        name: float(value)
        for name, value in dataclasses.asdict(writer.stats).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    client = _upstream_session(settings)
    engine = create_engine_from_settings(settings)
    writer = AuditWriter(engine, settings.audit, default_writer_id())
    authenticator = Authenticator(settings.keycloak)
    pool = BackendPool(
        settings.backends,
        client,
        interval_s=settings.backend_health_interval_s,
        inflight_cap=settings.limits.per_backend_inflight,
    )
    embedder = build_embedder(settings.rag.embedding)
    knowledge = KnowledgeService(create_session_factory(engine), embedder, settings.rag)
    await writer.start()
    await pool.start()
    # Loads jieba and the embedding model before the first request rather than during it.
    await knowledge.warm_up()
    shedder: LoadShedder = app.state.shedder
    shedder.start(writer.submit)
    app.state.metrics.watch(pool, lambda: _numeric_stats(writer))
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
        ),
        metrics=app.state.metrics,
        knowledge=knowledge,
        embedder=embedder,
    )
    log.info("gateway ready: backends %s", ", ".join(settings.backends))
    try:
        yield
    finally:
        await shedder.stop(writer.submit)
        await pool.stop()
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
        # Served by appliance.gateway.openapi behind authentication, not by FastAPI.
        openapi_url=None,
    )
    app.state.settings = settings or load_settings()
    app.state.metrics = build_metrics()
    limits = app.state.settings.limits
    app.state.shedder = LoadShedder(
        max_queued=limits.max_queued_per_worker,
        max_inflight=limits.max_inflight_per_worker,
        max_loop_lag_ms=limits.max_loop_lag_ms,
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
    for module in (health, openai, embeddings, me, audit, admin, kb):
        app.include_router(module.router)
    app.include_router(openapi_router)
    install_openapi(app, (embeddings.EmbeddingsRequest,))
    return app
