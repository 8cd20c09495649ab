"""Knowledge bases, documents and chunks.

A chunk repeats its knowledge base's ``owner_group`` so the ACL is a predicate on the very
rows the vector and lexical indexes return, with no join needed to decide who may see them.
A knowledge base's owner never changes after creation, which keeps the copy exact. A chunk
also repeats its data grade's level (``appliance.rag.grades``): its document's own grade,
or its knowledge base's when the document has none; a change of either rewrites the copies
in the same transaction. Chunks are
only searchable while their document is ``ready``; ingestion writes them and flips the status
in one transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import TSVECTOR, UUID
from sqlalchemy.orm import Mapped, deferred, mapped_column

from appliance.db.base import Base

EMBEDDING_DIMENSION = 384


class DocumentStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class KnowledgeBase(Base):
    __tablename__ = "knowledge_bases"
    __table_args__ = (
        CheckConstraint("pii_policy IN ('allow', 'mask', 'reject')", name="pii_policy_known"),
        CheckConstraint("grade >= 1", name="grade_level"),
        Index(
            "uq_knowledge_bases_owner_group_name",
            func.coalesce("owner_group", ""),
            "name",
            unique=True,
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text)
    # A group path such as /dept/finance, or NULL for an organisation-wide knowledge base.
    owner_group: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # What ingestion does with personal information (``appliance.rag.personal.PiiPolicy``).
    pii_policy: Mapped[str] = mapped_column(Text, default="allow", server_default="allow")
    # The data grade's level, 1 the lowest (``rag.grades``): its documents' unless they have one.
    grade: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'processing', 'ready', 'failed')", name="status_known"
        ),
        Index("ix_documents_kb_id_content_sha256", "kb_id", "content_sha256"),
        CheckConstraint("grade >= 1", name="grade_level"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    kb_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("knowledge_bases.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(Text)
    mime: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text, default=DocumentStatus.QUEUED.value)
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(Text)
    pages: Mapped[int | None] = mapped_column(Integer)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    # The document's own data grade level; NULL takes its knowledge base's.
    grade: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    # The uploaded bytes, kept so a document can be re-indexed (new chunking or model)
    # without asking the owner for the file again; never loaded unless asked for.
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary))


class Chunk(Base):
    __tablename__ = "chunks"
    __table_args__ = (
        Index(
            "ix_chunks_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
        Index("ix_chunks_lexical_gin", "lexical", postgresql_using="gin"),
        Index("ix_chunks_document_id_ord", "document_id", "ord"),
        Index("ix_chunks_kb_id", "kb_id"),
        CheckConstraint("grade >= 1", name="grade_level"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    document_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("documents.id", ondelete="CASCADE")
    )
    kb_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("knowledge_bases.id", ondelete="CASCADE")
    )
    owner_group: Mapped[str | None] = mapped_column(Text)
    # The effective grade level: the document's, else the knowledge base's.
    grade: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    ord: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    page: Mapped[int | None] = mapped_column(Integer)
    section: Mapped[str | None] = mapped_column(Text)
    tokens: Mapped[int] = mapped_column(Integer)
    embedding: Mapped[list[float]] = mapped_column(Vector(EMBEDDING_DIMENSION))
    # jieba-segmented text (and section) under the ``simple`` configuration.
    lexical: Mapped[str] = mapped_column(TSVECTOR)
