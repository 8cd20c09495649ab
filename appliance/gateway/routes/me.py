"""Who am I: the caller's identity as the gateway sees it, and what they may still use."""

from __future__ import annotations

from fastapi import APIRouter

from appliance.gateway.deps import CurrentPrincipal, State
from appliance.gateway.openapi import AUTHENTICATED, errors
from appliance.gateway.protocol import MeResponse

router = APIRouter(prefix="/api", tags=["me"])


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
