"""What the knowledge-base service returns; the gateway serialises these as they are."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class KnowledgeBaseOut(BaseModel):
    id: uuid.UUID
    name: str
    group: str | None
    description: str
    created_by: str
    created_at: datetime
    # allow, mask or reject: what uploads do with personal information (``rag.personal``).
    pii_policy: str
    # The data grade (a name of ``rag.grades``) of its documents that have none of their own.
    grade: str


class DocumentOut(BaseModel):
    id: uuid.UUID
    kb_id: uuid.UUID
    name: str
    mime: str
    size: int
    # Lets a bulk upload skip files already present without sending them again.
    content_sha256: str
    status: str
    error: str | None = None
    error_code: str | None = None
    pages: int | None = None
    chunks: int = 0
    created_by: str
    created_at: datetime
    # The document's own data grade, None when it takes its knowledge base's; ``grade`` is
    # the one that applies.
    own_grade: str | None = None
    grade: str = ""


class UploadedFile(BaseModel):
    """One file of an upload, as the route read it from the multipart body."""

    name: str
    data: bytes


class IngestResult(BaseModel):
    """The outcome for one uploaded file; ``duplicate`` when identical content was there."""

    id: uuid.UUID | None
    name: str
    status: str
    error: str | None = None
    error_code: str | None = None
    chunks: int = 0
    duplicate: bool = False
    # The personal information masked in its chunks, by kind (the knowledge base masks).
    pii_masked: dict[str, int] = {}


class SearchHit(BaseModel):
    document_id: uuid.UUID
    document_name: str
    kb_id: uuid.UUID
    chunk_id: uuid.UUID
    text: str
    score: float
    page: int | None = None
    section: str | None = None
    # The chunk's data grade: its level (1 the lowest) and name in ``rag.grades``.
    grade_level: int = 1
    grade: str = ""
