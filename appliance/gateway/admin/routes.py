"""Administration for the ``sysadmin`` role; each call is itself audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from appliance.audit.events import EventType, Outcome
from appliance.gateway.admin.usage import usage_report
from appliance.gateway.deps import State, SysadminPrincipal
from appliance.gateway.edge.caller import request_event
from appliance.gateway.edge.openapi import AUTHENTICATED, errors

router = APIRouter(prefix="/api/admin", tags=["admin"])


# One vLLM replica as the pool sees it ("backend" in the API, as operators say). No
# docstring: it would become the schema's description in the OpenAPI document.
class BackendStatus(BaseModel):
    url: str
    healthy: bool
    in_flight: int
    last_error: str | None
    last_check_at: float | None
    models: list[str]
    queued: int | None = None
    running: int | None = None


class BackendsResponse(BaseModel):
    backends: list[BackendStatus]
    per_backend_inflight_cap: int


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
        backends=[BackendStatus(**replica.snapshot()) for replica in state.pool.replicas],
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
