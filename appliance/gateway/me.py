"""Who am I: the caller's identity as the gateway sees it, and what they may still use."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from appliance.gateway.deps import CurrentPrincipal, State
from appliance.gateway.edge.openapi import AUTHENTICATED, errors

router = APIRouter(prefix="/api", tags=["me"])


class MeResponse(BaseModel):
    subject: str
    username: str
    email: str
    roles: list[str]
    groups: list[str]
    departments: list[str]
    daily_token_quota: int
    remaining_daily_tokens: int
    concurrency_limit: int


@router.get("/me", responses=errors(*AUTHENTICATED))
async def me(principal: CurrentPrincipal, state: State) -> MeResponse:
    admission = state.admission
    return MeResponse(
        subject=principal.subject,
        username=principal.username,
        email=principal.email,
        roles=sorted(principal.roles),
        groups=sorted(principal.groups),
        departments=sorted(principal.departments),
        daily_token_quota=admission.daily_token_quota,
        remaining_daily_tokens=await admission.remaining(principal.subject),
        concurrency_limit=admission.per_user_concurrency,
    )
