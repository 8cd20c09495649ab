"""Personal API key routes (``/api/keys``): a signed-in user creates, lists and revokes their
own keys. What each change audits is in :mod:`.serving`. The router also carries the
service keys' routes (:mod:`.service_routes`), so the app includes one router for keys."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from appliance.apikeys.schemas import CreatedKey, KeyOut, NewKey
from appliance.gateway.edge.openapi import AUTHENTICATED, errors
from appliance.gateway.keys import service_routes, serving
from appliance.gateway.keys.serving import Context

router = APIRouter(tags=["api-keys"])
PATH = "/api/keys"


@router.post(PATH, status_code=201, responses=errors(*AUTHENTICATED, 400, 403, 422, 503))
async def create_key(body: NewKey, ctx: Context) -> CreatedKey:
    """A new key for the caller, returned in ``key`` this once and never again; audited
    before it is stored. 503 ``api_keys_disabled`` when the gateway has no pepper."""
    return await serving.create_key(ctx, body)


@router.get(PATH, responses=errors(*AUTHENTICATED, 403))
async def list_keys(ctx: Context) -> list[KeyOut]:
    """The caller's keys, newest first: prefix, name, dates and limits, never the key."""
    return await serving.list_keys(ctx)


@router.delete(PATH + "/{key_id}", responses=errors(*AUTHENTICATED, 403, 404, 422))
async def revoke_key(key_id: uuid.UUID, ctx: Context) -> KeyOut:
    """Revoke one of the caller's keys (404 for anyone else's); it stops working on every
    gateway worker with the next request."""
    return await serving.revoke_key(ctx, key_id)


router.include_router(service_routes.router)
