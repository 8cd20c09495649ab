"""Service key routes (``/api/service-keys``), for the ``sysadmin`` only while the key
policy allows service keys; what each change audits is in :mod:`.service`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from appliance.apikeys.schemas import CreatedServiceKey, NewServiceKey, ServiceKeyOut
from appliance.gateway.edge.openapi import AUTHENTICATED, errors
from appliance.gateway.keys import service
from appliance.gateway.keys.service import ServiceContext

router = APIRouter(prefix="/api/service-keys", tags=["api-keys"])


@router.post("", status_code=201, responses=errors(*AUTHENTICATED, 400, 403, 422, 503))
async def create_service_key(body: NewServiceKey, ctx: ServiceContext) -> CreatedServiceKey:
    """A new key for an integration (``svc:<integration>``), returned in ``key`` this once;
    audited before it is stored. 403 ``service_keys_disabled`` unless the policy allows."""
    return await service.create_service_key(ctx, body)


@router.get("", responses=errors(*AUTHENTICATED, 403))
async def list_service_keys(ctx: ServiceContext) -> list[ServiceKeyOut]:
    """Every integration's keys, newest first: prefix, name, dates and limits, never a key."""
    return await service.list_service_keys(ctx)


@router.delete("/{key_id}", responses=errors(*AUTHENTICATED, 403, 404, 422))
async def revoke_service_key(key_id: uuid.UUID, ctx: ServiceContext) -> ServiceKeyOut:
    """Revoke a service key (404 for a personal one); it stops working on every gateway
    worker with the next request."""
    return await service.revoke_service_key(ctx, key_id)
