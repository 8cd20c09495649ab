"""The API key policy's routes (``/api/content/api-key-policy``), for the ``secadmin``
only; what a change audits is in :mod:`.policy`."""

from __future__ import annotations

from fastapi import APIRouter

from appliance.apikeys.key_policy import PolicyIn, PolicyOut
from appliance.gateway.edge.openapi import AUTHENTICATED, errors
from appliance.gateway.keys.policy import CurrentPolicy, read_policy, set_policy

router = APIRouter(prefix="/api/content/api-key-policy", tags=["api-keys"])


@router.get("", responses=errors(*AUTHENTICATED, 403))
async def get_policy(ctx: CurrentPolicy) -> PolicyOut:
    """The policy in force: who may create keys, their longest lifetime, the model scopes
    they may name, whether service keys are allowed, its revision and who set it."""
    return await read_policy(ctx)


@router.put("", responses=errors(*AUTHENTICATED, 400, 403, 409, 422))
async def put_policy(body: PolicyIn, ctx: CurrentPolicy) -> PolicyOut:
    """Replace the policy with ``body`` as a new revision, audited before it is stored; it
    applies to keys made from then on."""
    return await set_policy(ctx, body)
