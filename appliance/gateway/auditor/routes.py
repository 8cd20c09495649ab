"""Audit log access for the ``auditor`` role.

Each call is itself audited, and committed before any data is returned: reading the log
is as accountable as writing to it, so if that record cannot be made the read is refused.
An export carries the GB 45438 labels (``appliance.labels``): the explicit label on its
first line, the AIGC metadata on its last, under a ``ProduceID`` that its ``audit.export``
record names, so a file found later can be traced to who exported it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, Query, Request
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, StrictBool
from starlette.responses import Response, StreamingResponse

from appliance.audit.checkpoint import load_public_key
from appliance.audit.events import EventType, Outcome
from appliance.audit.query import MAX_PAGE, export_events, list_events
from appliance.audit.verify_db import verify_database
from appliance.auth.principal import Principal
from appliance.gateway.deps import AuditorPrincipal, State
from appliance.gateway.edge.caller import request_event
from appliance.gateway.edge.openapi import AUTHENTICATED, errors
from appliance.labels.aigc import Stamp
from appliance.labels.text_formats import label_stream

router = APIRouter(prefix="/api/audit", tags=["audit"])


def _iso_datetime(value: object) -> object:
    """RFC 3339 text only: pydantic alone also takes a number (``until=0.5`` as seconds
    since 1970), which the documented ``date-time`` format does not allow."""
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


# With its offset: "since 09:00" without a zone is ambiguous for an audit question.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


# Compared with stored text, which cannot contain NUL (PostgreSQL refuses it as a parameter).
FilterText = Annotated[str, AfterValidator(_no_nul)]


class EventFilter(BaseModel):
    """Which events an auditor asks for; every field optional."""

    user: FilterText | None = None
    department: FilterText | None = None
    event_type: FilterText | None = None
    outcome: FilterText | None = None
    since: Timestamp | None = None
    until: Timestamp | None = None
    after_seq: int | None = None

    def as_detail(self) -> dict[str, Any]:
        return {k: str(v) for k, v in self.model_dump(exclude_none=True).items()}


Filters = Annotated[EventFilter, Query()]


class EventPage(BaseModel):
    """One page of rows as stored (every hashed column, ``row_hash`` included)."""

    events: list[dict[str, Any]]
    next_after_seq: int | None


class VerifyResult(BaseModel):
    ok: bool
    count: int
    first_bad_seq: int | None
    reason: str | None
    message: str
    head_seq: int | None
    head_hash: str
    checkpoints: int
    signed_checkpoints_verified: int
    signatures_skipped: bool
    # Non-empty when signatures were skipped: the answer then proves less than it seems.
    warning: str


class VerifyRequest(BaseModel):
    """Options of a verification; the body may be left out."""

    # Accept unsigned checkpoints (a development chain); the answer carries a warning.
    # Strict: waiving a control takes a literal true, never a 1 or a "yes".
    skip_signatures: StrictBool = False


_EXPORT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


async def _record(
    request: Request,
    state: State,
    principal: Principal,
    event_type: EventType,
    detail: dict[str, Any],
) -> None:
    await state.audit.commit(
        request_event(
            request, event_type, Outcome.OK, principal=principal, http_status=200, detail=detail
        )
    )


@router.get("/events", response_model=EventPage, responses=errors(*AUTHENTICATED, 403, 422))
async def events(
    request: Request,
    principal: AuditorPrincipal,
    state: State,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> Response:
    """One page of events in ascending ``seq``; ``next_after_seq`` fetches the next page."""
    await _record(request, state, principal, EventType.AUDIT_READ, filters.as_detail())
    rows = await list_events(state.engine, limit=limit, **filters.model_dump())
    next_after = rows[-1]["seq"] if len(rows) == limit else None
    return Response(
        orjson.dumps({"events": rows, "next_after_seq": next_after}),
        media_type="application/json",
    )


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {"content": {kind: {"schema": {"type": "string"}} for kind in _EXPORT_TYPES.values()}},
        **errors(*AUTHENTICATED, 403, 422),
    },
)
async def export(
    request: Request,
    *,
    principal: AuditorPrincipal,
    state: State,
    filters: Filters,
    fmt: Annotated[Literal["jsonl", "csv"], Query(alias="format")] = "jsonl",
    lang: Literal["zh", "en"] = "zh",
) -> StreamingResponse:
    """Every matching event, streamed as JSON Lines or CSV between the GB 45438 labels;
    ``lang=en`` adds the English words to the explicit label."""
    label = Stamp(state.settings.labels.content_producer, str(uuid.uuid4()), lang == "en")
    detail = {**filters.as_detail(), "format": fmt, "produce_id": label.produce_id}
    await _record(request, state, principal, EventType.AUDIT_EXPORT, detail)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    return StreamingResponse(
        label_stream(export_events(state.engine, fmt=fmt, **filters.model_dump()), fmt, label),
        media_type=_EXPORT_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.{fmt}"'},
    )


def _public_keys(state: State) -> list[Ed25519PublicKey]:
    key_file = state.settings.audit.checkpoint_key_file
    return [load_public_key(key_file)] if key_file and Path(key_file).exists() else []


@router.post("/verify", response_model=VerifyResult, responses=errors(*AUTHENTICATED, 403, 422))
async def verify(
    request: Request,
    principal: AuditorPrincipal,
    state: State,
    options: VerifyRequest | None = None,
) -> Response:
    """Walk the whole hash chain and the signed checkpoints; report the first break.

    Checkpoints must be signed by the gateway's checkpoint key and present every
    ``audit.checkpoint_every`` rows; ``skip_signatures`` waives the signatures only.
    """
    report = await verify_database(
        state.engine,
        public_keys=_public_keys(state),
        checkpoint_every=state.settings.audit.checkpoint_every,
        skip_signatures=options is not None and options.skip_signatures,
    )
    await _record(request, state, principal, EventType.AUDIT_VERIFY, report.to_dict())
    return Response(orjson.dumps(report.to_dict()), media_type="application/json")
