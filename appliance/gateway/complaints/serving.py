"""Complaint operations as the gateway serves them: every change audited, fail-closed.

Filing and closing commit their intent (outcome ``pending``, ``phase: begin``) before the
table is touched, then record the outcome (``phase: end``). The events carry the
complaint's id, conversation, position, category, reason and note, so the auditor reads
each complaint's history from the audit log alone; never the answer's text, which the chat
that produced it already recorded under the capture mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from appliance.audit.events import EventType, Outcome
from appliance.auth.principal import Principal, Role
from appliance.complaints.schemas import (
    ComplaintOut,
    ComplaintPage,
    NewComplaint,
    State,
    Transition,
)
from appliance.complaints.service import ComplaintService, Reporter
from appliance.db.session import create_session_factory
from appliance.gateway.deps import StaffPrincipal, require_role
from appliance.gateway.deps import State as GatewayStateDep
from appliance.gateway.edge.audited_change import AuditedChange
from appliance.gateway.edge.caller import Caller
from appliance.gateway.state import AuditSink

# 三员分立: complaints are handled by the security administrator alone.
SecadminPrincipal = Annotated[Principal, Depends(require_role(Role.SECADMIN, "handle complaints"))]


@dataclass(frozen=True, slots=True)
class ComplaintContext:
    caller: Caller
    principal: Principal
    complaints: ComplaintService
    audit: AuditSink


def _context(request: Request, principal: Principal, state: GatewayStateDep) -> ComplaintContext:
    return ComplaintContext(
        caller=Caller.of(request, principal),
        principal=principal,
        complaints=ComplaintService(create_session_factory(state.engine)),
        audit=state.audit,
    )


async def reporter_context(
    request: Request, principal: StaffPrincipal, state: GatewayStateDep
) -> ComplaintContext:
    return _context(request, principal, state)


async def handler_context(
    request: Request, principal: SecadminPrincipal, state: GatewayStateDep
) -> ComplaintContext:
    return _context(request, principal, state)


ReporterContext = Annotated[ComplaintContext, Depends(reporter_context)]
HandlerContext = Annotated[ComplaintContext, Depends(handler_context)]


async def file_complaint(ctx: ComplaintContext, body: NewComplaint) -> ComplaintOut:
    """Store a flag on one of the caller's answers, its intent audited first."""
    change = AuditedChange.of(
        ctx.caller,
        ctx.audit,
        EventType.COMPLAINT_ACTION,
        "complaint.file",
        status=201,
        conversation_id=str(body.conversation_id),
        position=body.position,
        category=body.category,
        reason=body.reason,
    )
    await change.begin()
    async with change.recording(denied_statuses=(400, 403, 404)):
        reporter = Reporter(ctx.principal.subject, ctx.principal.username)
        filed = await ctx.complaints.file(reporter, body)
        change.detail["complaint_id"] = filed.id
    return filed


async def own_complaints(ctx: ComplaintContext) -> list[ComplaintOut]:
    """The caller's complaints: their own filings, so not audited (as their conversations)."""
    return await ctx.complaints.mine(ctx.principal.subject)


async def queue(
    ctx: ComplaintContext, *, state: State | None, offset: int, limit: int
) -> ComplaintPage:
    """A page of the queue; the read is audited, since it shows other users' reports."""
    page = await ctx.complaints.page(state=state, offset=offset, limit=limit)
    event = ctx.caller.event(EventType.COMPLAINT_ACTION, Outcome.OK, http_status=200)
    event.detail = {
        "action": "complaint.list",
        "state": state or "",
        "offset": offset,
        "returned": len(page.complaints),
    }
    ctx.audit.submit(event)
    return page


async def close_complaint(
    ctx: ComplaintContext, complaint_id: int, body: Transition
) -> ComplaintOut:
    """Close an open complaint as handled or dismissed, its intent audited first."""
    change = AuditedChange.of(
        ctx.caller,
        ctx.audit,
        EventType.COMPLAINT_ACTION,
        "complaint.transition",
        complaint_id=complaint_id,
        state=body.state,
        note=body.note,
    )
    await change.begin()
    async with change.recording(denied_statuses=(403, 404, 409)):
        closed = await ctx.complaints.close(complaint_id, body, ctx.principal.username)
        change.detail.update(
            conversation_id=str(closed.conversation_id),
            position=closed.position,
            category=closed.category,
            reporter=closed.reporter,
        )
    return closed
