"""Knowledge bases under ``/api/kb``: thin HTTP over :class:`KnowledgeService`, all audited.

The service decides who may do what (staff read their groups' knowledge bases, a kb-editor
manages their department's; an unreadable one is 404, never 403). Every call, allowed or
refused, leaves a ``kb.action`` audit event naming the knowledge base and the documents
involved; a search records the chunk ids it returned and is committed before the results
leave, so nothing is disclosed without its audit record.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.responses import Response

from appliance.audit.events import AuditEvent, EventType, Outcome
from appliance.auth.principal import Principal
from appliance.errors import ApplianceError, InvalidRequest
from appliance.gateway.auditing import request_event
from appliance.gateway.deps import CurrentPrincipal, State
from appliance.gateway.openapi import AUTHENTICATED, UploadForm, errors, multipart_body
from appliance.gateway.serving_chat import read_body
from appliance.gateway.serving_rag import check_readable
from appliance.gateway.state import GatewayState
from appliance.rag.config import RagSettings
from appliance.rag.schemas import DocumentOut, IngestResult, KnowledgeBaseOut, SearchHit
from appliance.rag.schemas import UploadedFile as ServiceFile

router = APIRouter(prefix="/api/kb", tags=["kb"])
# Ids are matched as UUIDs in the paths themselves: an id that is not one names no knowledge
# base (404), and ``/api/kb/search`` is never read as the knowledge base ``search``.


class CreateKnowledgeBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    # Required, so that an organisation-wide knowledge base is always a deliberate null.
    group: str | None
    description: str = Field(default="", max_length=2000)


class KnowledgeBaseList(BaseModel):
    knowledge_bases: list[KnowledgeBaseOut]


class DocumentList(BaseModel):
    documents: list[DocumentOut]


class UploadResults(BaseModel):
    documents: list[IngestResult]


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=4000)
    kb_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=50)
    top_k: int | None = Field(default=None, ge=1, le=50)


class SearchResults(BaseModel):
    results: list[SearchHit]


@asynccontextmanager
async def _audited(
    request: Request,
    state: GatewayState,
    principal: Principal,
    action: str,
    *,
    kb_id: uuid.UUID | None = None,
    status: int = 200,
) -> AsyncIterator[AuditEvent]:
    """Yield the ``kb.action`` event for the route to fill in; commit it on success, or
    record the refusal or failure and re-raise."""
    detail: dict[str, object] = {"action": action}
    if kb_id is not None:
        detail["kb_id"] = str(kb_id)
    event = request_event(
        request, EventType.KB_ACTION, Outcome.OK, principal=principal, http_status=status
    )
    event.detail = detail
    try:
        yield event
    except ApplianceError as exc:
        event.outcome = Outcome.DENIED if exc.status_code in (403, 404) else Outcome.ERROR
        event.http_status = exc.status_code
        detail["error"] = exc.code
        state.audit.submit(event)
        raise
    except Exception:
        event.outcome, event.http_status = Outcome.ERROR, 500
        state.audit.submit(event)
        raise
    await state.audit.commit(event)


async def _read_files(request: Request, settings: RagSettings) -> list[ServiceFile]:
    """The ``files`` parts of a multipart body bounded by ``max_upload_bytes`` as a whole
    (413 beyond it), held in memory while the service indexes them."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest("Upload files as multipart/form-data in the field 'files'.")
    body = await read_body(request, settings.max_upload_bytes)

    async def replay() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(
        request.headers, replay(), max_files=settings.max_files_per_upload, max_fields=20
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidRequest(f"The multipart body is invalid: {exc.message}") from exc
    try:
        uploads = [item for item in form.getlist("files") if isinstance(item, UploadFile)]
        files = [
            ServiceFile(name=(upload.filename or "").strip() or "unnamed", data=await upload.read())
            for upload in uploads
        ]
    finally:
        await form.close()
    if not files:
        raise InvalidRequest("The upload has no files in the field 'files'.", code="no_files")
    return files


@router.post("", status_code=201, responses=errors(*AUTHENTICATED, 400, 403, 409, 422))
async def create_kb(
    request: Request, body: CreateKnowledgeBase, principal: CurrentPrincipal, state: State
) -> KnowledgeBaseOut:
    async with _audited(request, state, principal, "kb.create", status=201) as event:
        event.detail |= {"name": body.name, "group": body.group}
        kb = await state.knowledge.create_kb(principal, body.name, body.group, body.description)
        event.detail["kb_id"] = str(kb.id)
    return kb


@router.get("", responses=errors(*AUTHENTICATED, 403))
async def list_kbs(
    request: Request, principal: CurrentPrincipal, state: State
) -> KnowledgeBaseList:
    async with _audited(request, state, principal, "kb.list") as event:
        kbs = await state.knowledge.list_kbs(principal)
        event.detail["count"] = len(kbs)
    return KnowledgeBaseList(knowledge_bases=kbs)


@router.post("/search", responses=errors(*AUTHENTICATED, 400, 403, 404, 422))
async def search(
    request: Request, body: SearchRequest, principal: CurrentPrincipal, state: State
) -> SearchResults:
    """Hybrid search over the caller's readable knowledge bases (or the ones named)."""
    async with _audited(request, state, principal, "kb.search") as event:
        event.prompt = body.query  # stored according to the audit capture mode
        if body.kb_ids:
            event.detail["kb_ids"] = [str(kb_id) for kb_id in body.kb_ids]
        await check_readable(state.knowledge, principal, body.kb_ids)
        hits = await state.knowledge.search(principal, body.query, body.kb_ids, body.top_k)
        event.chunk_ids = [str(hit.chunk_id) for hit in hits]
        event.document_ids = list(dict.fromkeys(str(hit.document_id) for hit in hits))
    return SearchResults(results=hits)


@router.get("/{kb_id:uuid}", responses=errors(*AUTHENTICATED, 403, 404))
async def get_kb(
    request: Request, kb_id: uuid.UUID, principal: CurrentPrincipal, state: State
) -> KnowledgeBaseOut:
    async with _audited(request, state, principal, "kb.get", kb_id=kb_id):
        return await state.knowledge.get_kb(principal, kb_id)


@router.delete("/{kb_id:uuid}", status_code=204, responses=errors(*AUTHENTICATED, 403, 404))
async def delete_kb(
    request: Request, kb_id: uuid.UUID, principal: CurrentPrincipal, state: State
) -> Response:
    async with _audited(request, state, principal, "kb.delete", kb_id=kb_id, status=204) as event:
        documents = await state.knowledge.list_documents(principal, kb_id)
        event.document_ids = [str(doc.id) for doc in documents]
        await state.knowledge.delete_kb(principal, kb_id)
    return Response(status_code=204)


@router.post(
    "/{kb_id:uuid}/documents",
    responses=errors(*AUTHENTICATED, 400, 403, 404, 413),
    openapi_extra=multipart_body(UploadForm),
)
async def upload_documents(
    request: Request, kb_id: uuid.UUID, principal: CurrentPrincipal, state: State
) -> UploadResults:
    """Index each file of a multipart upload; one result per file, failures included."""
    async with _audited(request, state, principal, "documents.upload", kb_id=kb_id) as event:
        # Authorise before reading what may be a large body: an empty upload only checks
        # that the caller manages this knowledge base.
        await state.knowledge.ingest_files(principal, kb_id, [])
        files = await _read_files(request, state.settings.rag)
        results = await state.knowledge.ingest_files(principal, kb_id, files)
        event.document_ids = [str(r.id) for r in results if r.id is not None]
        outcome: dict[str, Any] = {"files": len(results)}
        for result in results:
            key = "duplicate" if result.duplicate else result.status
            outcome[key] = int(outcome.get(key, 0)) + 1
        event.detail |= outcome
    return UploadResults(documents=results)


@router.get("/{kb_id:uuid}/documents", responses=errors(*AUTHENTICATED, 403, 404))
async def list_documents(
    request: Request, kb_id: uuid.UUID, principal: CurrentPrincipal, state: State
) -> DocumentList:
    async with _audited(request, state, principal, "documents.list", kb_id=kb_id) as event:
        documents = await state.knowledge.list_documents(principal, kb_id)
        event.detail["count"] = len(documents)
    return DocumentList(documents=documents)


@router.delete(
    "/{kb_id:uuid}/documents/{document_id:uuid}",
    status_code=204,
    responses=errors(*AUTHENTICATED, 403, 404),
)
async def delete_document(
    request: Request,
    kb_id: uuid.UUID,
    document_id: uuid.UUID,
    principal: CurrentPrincipal,
    state: State,
) -> Response:
    async with _audited(
        request, state, principal, "document.delete", kb_id=kb_id, status=204
    ) as event:
        event.document_ids = [str(document_id)]
        await state.knowledge.delete_document(principal, kb_id, document_id)
    return Response(status_code=204)


@router.post(
    "/{kb_id:uuid}/documents/{document_id}/reindex",
    responses=errors(*AUTHENTICATED, 403, 404),
)
async def reindex_document(
    request: Request,
    kb_id: uuid.UUID,
    document_id: uuid.UUID,
    principal: CurrentPrincipal,
    state: State,
) -> IngestResult:
    async with _audited(request, state, principal, "document.reindex", kb_id=kb_id) as event:
        event.document_ids = [str(document_id)]
        result = await state.knowledge.reindex_document(principal, kb_id, document_id)
        event.detail["status"] = result.status
    return result
