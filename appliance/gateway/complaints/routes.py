"""Complaint routes (``/api/complaints``): staff file and list their own, the secadmin
reads the queue and closes complaints. What each change audits is in :mod:`.serving`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from appliance.complaints.schemas import (
    ComplaintOut,
    ComplaintPage,
    NewComplaint,
    State,
    Transition,
)
from appliance.gateway.complaints import serving
from appliance.gateway.complaints.serving import HandlerContext, ReporterContext
from appliance.gateway.edge.openapi import AUTHENTICATED, errors

router = APIRouter(prefix="/api/complaints", tags=["complaints"])


@router.post("", status_code=201, responses=errors(*AUTHENTICATED, 400, 403, 404, 422))
async def file_complaint(body: NewComplaint, ctx: ReporterContext) -> ComplaintOut:
    """Report the answer at ``position`` of the caller's own conversation (404 for any
    other's), with a category and a reason; audited before it is stored."""
    return await serving.file_complaint(ctx, body)


@router.get("/mine", responses=errors(*AUTHENTICATED, 403))
async def own_complaints(ctx: ReporterContext) -> list[ComplaintOut]:
    """The caller's own complaints and their states, newest first."""
    return await serving.own_complaints(ctx)


@router.get("", responses=errors(*AUTHENTICATED, 403, 422))
async def complaint_queue(
    ctx: HandlerContext,
    state: State | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ComplaintPage:
    """The secadmin's queue, oldest first, one ``state`` or all of them."""
    return await serving.queue(ctx, state=state, offset=offset, limit=limit)


@router.post(
    "/{complaint_id}/transition", responses=errors(*AUTHENTICATED, 400, 403, 404, 409, 422)
)
async def close_complaint(
    complaint_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: Transition,
    ctx: HandlerContext,
) -> ComplaintOut:
    """Close an open complaint as ``handled`` or ``dismissed`` with a note (409 when it is
    closed already); audited before it changes."""
    return await serving.close_complaint(ctx, complaint_id, body)
