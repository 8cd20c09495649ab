"""Knowledge bases under ``/api/kb``: parse the request, call :mod:`.serving`.

What each operation audits, and who may do what, is in
:mod:`appliance.gateway.knowledge.serving`; these handlers only turn HTTP into its calls.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.responses import Response

from appliance.errors import InvalidRequest
from appliance.gateway.edge.body import read_body
from appliance.gateway.edge.openapi import AUTHENTICATED, errors, multipart_body
from appliance.gateway.knowledge import serving
from appliance.gateway.knowledge.serving import CurrentKnowledge
from appliance.rag.config import RagSettings
from appliance.rag.personal import PiiPolicy
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
    # What uploads do with personal information: allow, mask it in the chunks, or reject.
    pii_policy: PiiPolicy = PiiPolicy.ALLOW
    # The data grade, a name of ``rag.grades``; the lowest when left out.
    grade: str | None = Field(default=None, max_length=100)


class SetGrade(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grade: str = Field(min_length=1, max_length=100)


class SetDocumentGrade(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Required, so that taking the knowledge base's grade again is always a deliberate null.
    grade: str | None = Field(max_length=100)


class SetPiiPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: PiiPolicy


class GradeScale(BaseModel):
    # The data grade names, lowest first (``rag.grades``).
    grades: list[str]


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


class UploadForm(BaseModel):
    """The upload route's multipart body: one ``files`` part per document."""

    files: list[bytes] = Field(min_length=1)


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
async def create_kb(body: CreateKnowledgeBase, kb: CurrentKnowledge) -> KnowledgeBaseOut:
    return await serving.create_kb(
        kb, body.name, body.group, body.description, body.pii_policy, grade=body.grade
    )


@router.get("", responses=errors(*AUTHENTICATED, 403))
async def list_kbs(kb: CurrentKnowledge) -> KnowledgeBaseList:
    return KnowledgeBaseList(knowledge_bases=await serving.list_kbs(kb))


@router.get("/grades", responses=errors(*AUTHENTICATED))
async def grades(kb: CurrentKnowledge) -> GradeScale:
    """The data grades an editor may give and a clearance may name; a setting, not data,
    so reading it is not audited."""
    return GradeScale(grades=list(kb.rag.grades))


@router.post("/search", responses=errors(*AUTHENTICATED, 400, 403, 404, 422))
async def search(body: SearchRequest, kb: CurrentKnowledge) -> SearchResults:
    """Hybrid search over the caller's readable knowledge bases (or the ones named)."""
    return SearchResults(results=await serving.search(kb, body.query, body.kb_ids, body.top_k))


@router.get("/{kb_id:uuid}", responses=errors(*AUTHENTICATED, 403, 404))
async def get_kb(kb_id: uuid.UUID, kb: CurrentKnowledge) -> KnowledgeBaseOut:
    return await serving.get_kb(kb, kb_id)


@router.put("/{kb_id:uuid}/pii-policy", responses=errors(*AUTHENTICATED, 403, 404, 422))
async def set_pii_policy(
    kb_id: uuid.UUID, body: SetPiiPolicy, kb: CurrentKnowledge
) -> KnowledgeBaseOut:
    """What later uploads do with personal information; documents already indexed keep
    their chunks until reindexed."""
    return await serving.set_pii_policy(kb, kb_id, body.policy)


@router.put("/{kb_id:uuid}/grade", responses=errors(*AUTHENTICATED, 400, 403, 404, 422))
async def set_grade(kb_id: uuid.UUID, body: SetGrade, kb: CurrentKnowledge) -> KnowledgeBaseOut:
    """The data grade of the knowledge base, and of its documents without their own."""
    return await serving.set_kb_grade(kb, kb_id, body.grade)


@router.delete("/{kb_id:uuid}", status_code=204, responses=errors(*AUTHENTICATED, 403, 404))
async def delete_kb(kb_id: uuid.UUID, kb: CurrentKnowledge) -> Response:
    await serving.delete_kb(kb, kb_id)
    return Response(status_code=204)


@router.post(
    "/{kb_id:uuid}/documents",
    responses=errors(*AUTHENTICATED, 400, 403, 404, 413, 422),
    openapi_extra=multipart_body(UploadForm),
)
async def upload_documents(
    request: Request,
    kb_id: uuid.UUID,
    kb: CurrentKnowledge,
    grade: Annotated[str | None, Query(max_length=100)] = None,
) -> UploadResults:
    """Index each file of a multipart upload; one result per file, failures included.
    ``grade`` gives the new documents a data grade of their own."""
    results = await serving.upload_documents(
        kb, kb_id, lambda: _read_files(request, kb.rag), grade=grade
    )
    return UploadResults(documents=results)


@router.get("/{kb_id:uuid}/documents", responses=errors(*AUTHENTICATED, 403, 404))
async def list_documents(kb_id: uuid.UUID, kb: CurrentKnowledge) -> DocumentList:
    return DocumentList(documents=await serving.list_documents(kb, kb_id))


@router.delete(
    "/{kb_id:uuid}/documents/{document_id:uuid}",
    status_code=204,
    responses=errors(*AUTHENTICATED, 403, 404),
)
async def delete_document(
    kb_id: uuid.UUID, document_id: uuid.UUID, kb: CurrentKnowledge
) -> Response:
    await serving.delete_document(kb, kb_id, document_id)
    return Response(status_code=204)


@router.put(
    "/{kb_id:uuid}/documents/{document_id:uuid}/grade",
    responses=errors(*AUTHENTICATED, 400, 403, 404, 422),
)
async def set_document_grade(
    kb_id: uuid.UUID, document_id: uuid.UUID, body: SetDocumentGrade, kb: CurrentKnowledge
) -> DocumentOut:
    """A document's own data grade; null takes its knowledge base's again."""
    return await serving.set_document_grade(kb, kb_id, document_id, body.grade)


@router.post(
    "/{kb_id:uuid}/documents/{document_id}/reindex",
    responses=errors(*AUTHENTICATED, 403, 404),
)
async def reindex_document(
    kb_id: uuid.UUID, document_id: uuid.UUID, kb: CurrentKnowledge
) -> IngestResult:
    return await serving.reindex_document(kb, kb_id, document_id)
