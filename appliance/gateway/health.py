"""Health, readiness, metrics and the OpenAPI document: what operators and machines probe.

``/healthz`` and ``/readyz`` are PUBLIC on purpose: process supervisors and load balancers
probe them without credentials, and they reveal nothing but up/down. ``/metrics`` is not
public: it needs a token with the ``sysadmin`` realm role (Prometheus gets one with its
``oauth2`` client-credentials setting from a Keycloak service account holding that role).
Scrapes are not audited: they carry no user content and would flood the log.
``/openapi.json`` needs any valid token (see :mod:`appliance.gateway.edge.openapi` for why).
"""

from __future__ import annotations

import asyncio

import orjson
from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse, Response

from appliance.gateway.deps import CurrentPrincipal, State, SysadminPrincipal
from appliance.gateway.edge.openapi import AUTHENTICATED, errors

router = APIRouter(tags=["health"])

_READY_TIMEOUT_S = 2.0


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: bool
    backends: int
    # Whether the audit writer can commit: every audited request needs it (fail-closed).
    audit: bool
    # Why not ready, as a code (the first that applies); null when ready.
    reason: str | None


@router.get("/healthz", response_model=Liveness)
async def healthz() -> Response:
    """Liveness: the process answers. Public (no token), see the module docstring."""
    return Response(b'{"status":"ok"}', media_type="application/json")


async def _database_ok(state: State) -> bool:
    try:
        async with asyncio.timeout(_READY_TIMEOUT_S), state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError):
        return False
    return True


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        503: {
            "model": Readiness,
            "description": "Not ready: no database, no audit writes, or no healthy backend.",
        }
    },
)
async def readyz(state: State) -> Response:
    """Readiness: the database answers, the audit log takes writes and at least one
    backend is healthy. Public. A gateway whose audit store refuses writes would refuse
    every audited request (503 ``audit_unavailable``), so it is not ready either."""
    database = await _database_ok(state)
    audit_reason = await state.audit.unready_reason() if database else "database_unreachable"
    backends = sum(1 for replica in state.pool.replicas if replica.healthy)
    reason = (
        "database_unreachable"
        if not database
        else audit_reason or (None if backends > 0 else "no_healthy_backend")
    )
    ready = reason is None
    body = {
        "status": "ready" if ready else "not_ready",
        "database": database,
        "backends": backends,
        "audit": audit_reason is None,
        "reason": reason,
    }
    return Response(
        orjson.dumps(body), status_code=200 if ready else 503, media_type="application/json"
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
        **errors(*AUTHENTICATED, 403),
    },
)
async def metrics(state: State, _admin: SysadminPrincipal) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/openapi.json", include_in_schema=False)
async def openapi_document(request: Request, _principal: CurrentPrincipal) -> JSONResponse:
    """This document, for any authenticated caller (see :mod:`appliance.gateway.edge.openapi`)."""
    return JSONResponse(request.app.openapi())
