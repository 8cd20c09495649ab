"""Who may hand in and read assessment reports, and the audited store and read.

三员分立: the assessment is the security administrator's (``secadmin``) to run and the
auditor's to read; the sysadmin neither. A run of ``appliance assess`` hands its report in
as the service account it ran as (the ``svc-assessment`` client, whose only role is
``staff``), so a report is accepted from a token of that client too, told by its ``azp``,
which only Keycloak sets. Storing a report is an audited change (``content.action``,
``assessment.store``): its intent is committed first, else 503 ``audit_unavailable`` and
nothing stored. A read is committed to the audit log before the report is returned, as the
auditor's reads of the log are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from appliance.assess.service_account import CLIENT_ID
from appliance.assess.store import ReportStore, StoredReport
from appliance.audit.events import EventType, Outcome
from appliance.auth.principal import Principal, Role
from appliance.errors import NotFound
from appliance.gateway.deps import (
    current_principal,
    deny_access,
    get_state,
    require_any_role,
)
from appliance.gateway.edge.audited_change import AuditedChange
from appliance.gateway.edge.caller import Caller
from appliance.gateway.state import AuditSink


class ReportDocument(BaseModel):
    """The JSON report ``appliance.assess.report.build_report`` writes; what the store and
    the export rely on is checked, the rest kept as it is."""

    model_config = ConfigDict(extra="allow")

    standard: str = Field(min_length=1)
    model: str = ""
    passed: StrictBool
    summary: dict[str, dict[str, Any]]
    items: list[dict[str, Any]]


class ReportIn(BaseModel):
    report: ReportDocument
    html: str = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class AssessmentContext:
    caller: Caller
    principal: Principal
    store: ReportStore
    audit: AuditSink
    max_bytes: int


def _require_role_or_client(
    roles: tuple[Role, ...], client_id: str, purpose: str
) -> Callable[[Request], Awaitable[Principal]]:
    """Like ``deps.require_any_role``, and a token of the client ``client_id`` (its ``azp``)
    is let through too: the assessment's service account holds no administrator role."""

    async def guard(request: Request) -> Principal:
        principal = await current_principal(request)
        if principal.client_id == client_id or any(principal.has_role(r) for r in roles):
            return principal
        required = {"required_roles": [r.value for r in roles], "required_client": client_id}
        deny_access(request, principal, roles, purpose, required)

    return guard


def _context(request: Request, principal: Principal) -> AssessmentContext:
    state = get_state(request)
    return AssessmentContext(
        caller=Caller.of(request, principal),
        principal=principal,
        store=ReportStore(state.engine),
        audit=state.audit,
        max_bytes=state.settings.content.max_import_bytes,
    )


async def submit_context(
    request: Request,
    principal: Annotated[
        Principal,
        Depends(
            _require_role_or_client((Role.SECADMIN,), CLIENT_ID, "hand in an assessment report")
        ),
    ],
) -> AssessmentContext:
    return _context(request, principal)


async def read_context(
    request: Request,
    principal: Annotated[
        Principal,
        Depends(require_any_role((Role.SECADMIN, Role.AUDITOR), "read the assessment reports")),
    ],
) -> AssessmentContext:
    return _context(request, principal)


SubmitContext = Annotated[AssessmentContext, Depends(submit_context)]
ReadContext = Annotated[AssessmentContext, Depends(read_context)]


def stored_out(stored: StoredReport) -> dict[str, Any]:
    return {
        "id": stored.id,
        "created_at": stored.created_at.isoformat(),
        "submitted_by": stored.submitted_by,
        "client_id": stored.client_id,
        "model": stored.model,
        "passed": stored.passed,
    }


async def store_report(ctx: AssessmentContext, body: ReportIn) -> dict[str, Any]:
    """Store the report once its intent is in the audit log."""
    report = body.report.model_dump()
    change = AuditedChange.of(
        ctx.caller,
        ctx.audit,
        EventType.CONTENT_ACTION,
        "assessment.store",
        status=201,
        model=body.report.model,
        passed=body.report.passed,
        items=len(body.report.items),
    )
    async with change.recording(must_begin=True):
        await change.begin()
        stored = await ctx.store.add(
            report,
            body.html,
            submitted_by=ctx.principal.username,
            client_id=ctx.principal.client_id,
        )
        change.detail["report_id"] = stored.id
    return stored_out(stored)


async def latest_report(ctx: AssessmentContext) -> StoredReport:
    """The newest report (404 before the first), its read committed to the audit log."""
    stored = await ctx.store.latest()
    event = ctx.caller.event(
        EventType.CONTENT_ACTION, Outcome.OK, http_status=200 if stored else 404
    )
    event.detail = {"action": "assessment.read", "report_id": stored.id if stored else None}
    await ctx.audit.commit(event)
    if stored is None:
        raise NotFound("No assessment report has been handed in yet.", code="no_report")
    return stored
