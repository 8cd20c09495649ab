"""Administration for the ``sysadmin`` role; each call is itself audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from appliance.audit.events import EventType, Outcome
from appliance.gateway.auditing import request_event
from appliance.gateway.deps import State, SysadminPrincipal
from appliance.gateway.openapi import AUTHENTICATED, errors
from appliance.gateway.protocol import BackendsResponse, BackendStatus
from appliance.gateway.usage_report import usage_report

router = APIRouter(prefix="/api/admin", tags=["admin"])


def _audit_admin(
    request: Request, principal: SysadminPrincipal, state: State, detail: dict[str, Any]
) -> None:
    """Every sysadmin call leaves an ``admin.action`` row naming what was looked at."""
    state.audit.submit(
        request_event(
            request,
            EventType.ADMIN_ACTION,
            Outcome.OK,
            principal=principal,
            http_status=200,
            detail=detail,
        )
    )


@router.get("/backends", responses=errors(*AUTHENTICATED, 403))
async def backends(
    request: Request, principal: SysadminPrincipal, state: State
) -> BackendsResponse:
    """Health, load and last error of every configured vLLM backend."""
    _audit_admin(request, principal, state, {"action": "backends.list"})
    return BackendsResponse(
        backends=[BackendStatus(**backend.snapshot()) for backend in state.pool.backends],
        per_backend_inflight_cap=state.settings.limits.per_backend_inflight,
    )


@router.get("/usage", responses=errors(*AUTHENTICATED, 403, 422))
async def usage(
    request: Request,
    principal: SysadminPrincipal,
    state: State,
    window_minutes: Annotated[int, Query(ge=1, le=1440)] = 15,
) -> dict[str, Any]:
    """Token use today per user and department against the quota, and the recent error
    rate: counts only, no prompts or answers (those are for auditors)."""
    report = await usage_report(
        state.engine, quota=state.settings.limits.daily_token_quota, window_minutes=window_minutes
    )
    _audit_admin(
        request, principal, state, {"action": "usage.report", "window_minutes": window_minutes}
    )
    return report
