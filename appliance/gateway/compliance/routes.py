"""``GET /api/compliance/export``: the 等保 evidence ZIP, for the secadmin and the auditor.

The export is audited (``compliance.export``, naming its ``ProduceID``) and that record is
committed before the file is built: if it cannot be, the caller gets 503
``audit_unavailable`` and no evidence leaves.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Request
from starlette.responses import Response

from appliance.audit.events import EventType, Outcome
from appliance.gateway.compliance.bundle import build_zip
from appliance.gateway.compliance.serving import sections
from appliance.gateway.deps import ComplianceReader, State
from appliance.gateway.edge.caller import request_event
from appliance.gateway.edge.openapi import AUTHENTICATED, errors
from appliance.labels.aigc import Stamp

router = APIRouter(prefix="/api/compliance", tags=["compliance"])


@router.get(
    "/export",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {"schema": {"type": "string"}}}},
        **errors(*AUTHENTICATED, 403, 422, 502),
    },
)
async def export(
    request: Request, principal: ComplianceReader, state: State, lang: Literal["zh", "en"] = "zh"
) -> Response:
    """The accounts, permission matrix, audit statistics, retention, keyword library version
    and last assessment as labelled JSON files with a SHA-256 and SM3 manifest, in a ZIP."""
    stamp = Stamp(state.settings.labels.content_producer, str(uuid.uuid4()), lang == "en")
    await state.audit.commit(
        request_event(
            request,
            EventType.COMPLIANCE_EXPORT,
            Outcome.OK,
            principal=principal,
            http_status=200,
            detail={"produce_id": stamp.produce_id},
        )
    )
    now = datetime.now(UTC)
    data = build_zip(await sections(state, request.app.routes), stamp, now.isoformat())
    name = f"compliance-{now.strftime('%Y%m%dT%H%M%SZ')}.zip"
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
