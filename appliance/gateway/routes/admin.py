"""Administration for the ``sysadmin`` role; each call is itself audited."""

from __future__ import annotations

from fastapi import APIRouter, Request

from appliance.audit.events import EventType, Outcome
from appliance.gateway.auditing import request_event
from appliance.gateway.deps import State, SysadminPrincipal
from appliance.gateway.protocol import BackendsResponse, BackendStatus

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get("/backends")
async def backends(
    request: Request, principal: SysadminPrincipal, state: State
) -> BackendsResponse:
    """Health, load and last error of every configured vLLM backend."""
    state.audit.submit(
        request_event(
            request,
            EventType.ADMIN_ACTION,
            Outcome.OK,
            principal=principal,
            http_status=200,
            detail={"action": "backends.list"},
        )
    )
    return BackendsResponse(
        backends=[BackendStatus(**backend.snapshot()) for backend in state.pool.backends],
        per_backend_inflight_cap=state.settings.limits.per_backend_inflight,
    )
