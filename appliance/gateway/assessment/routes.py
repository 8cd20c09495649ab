"""The assessment reports' routes (``/api/assessment/reports``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from appliance.gateway.assessment.serving import (
    ReadContext,
    ReportIn,
    SubmitContext,
    latest_report,
    store_report,
    stored_out,
)
from appliance.gateway.edge.body import read_model
from appliance.gateway.edge.openapi import AUTHENTICATED, errors

router = APIRouter(prefix="/api/assessment/reports", tags=["assessment"])

_REPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": ReportIn.model_json_schema()}},
    }
}


@router.post(
    "",
    status_code=201,
    responses=errors(*AUTHENTICATED, 400, 403, 413),
    openapi_extra=_REPORT_BODY,
)
async def submit(request: Request, ctx: SubmitContext) -> dict[str, Any]:
    """Store a report written by ``appliance assess`` (its JSON and its HTML page), for the
    assessment's service account or the secadmin; audited before it is stored."""
    body = await read_model(request, ReportIn, ctx.max_bytes)
    return await store_report(ctx, body)


@router.get(
    "/latest",
    responses={
        200: {"content": {"text/html": {}}, "description": "The report, JSON or HTML."},
        **errors(*AUTHENTICATED, 403, 404),
    },
    response_model=None,
)
async def latest(
    ctx: ReadContext, format: Literal["json", "html"] = "json"
) -> dict[str, Any] | HTMLResponse:
    """The newest report, for the secadmin and the auditor: with ``format=html`` its page,
    else its metadata and JSON document."""
    stored = await latest_report(ctx)
    if format == "html":
        return HTMLResponse(stored.html)
    return {**stored_out(stored), "report": stored.report}
