"""Knowledge bases, documents and chunks with a pgvector HNSW index and a jieba full-text index.

Revision ID: 2026_11_28_knowledge_bases
Revises: 2026_11_28_audit_log
Create Date: 2026-11-28

The ``vector`` extension is created by the superuser at bootstrap (the owner role may not).
The gateway role gets SELECT/INSERT/UPDATE/DELETE on these tables from the default
privileges the audit migration set up.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

revision: str = "2026_11_28_knowledge_bases"
down_revision: str | None = "2026_11_28_audit_log"
branch_labels: str | None = None
depends_on: str | None = None

EMBEDDING_DIMENSION = 384


def _uuid() -> postgresql.UUID[uuid.UUID]:
    return postgresql.UUID(as_uuid=True)


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "knowledge_bases",
        sa.Column("id", _uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("owner_group", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_knowledge_bases"),
    )
    op.create_index(
        "uq_knowledge_bases_owner_group_name",
        "knowledge_bases",
        [sa.text("coalesce(owner_group, '')"), "name"],
        unique=True,
    )
    op.create_table(
        "documents",
        sa.Column("id", _uuid(), nullable=False),
        sa.Column("kb_id", _uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.Text(), nullable=False),
        sa.Column("mime", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_code", sa.Text(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
        sa.ForeignKeyConstraint(
            ["kb_id"],
            ["knowledge_bases.id"],
            name="fk_documents_kb_id_knowledge_bases",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'processing', 'ready', 'failed')",
            name="ck_documents_status_known",
        ),
    )
    op.create_index("ix_documents_kb_id_content_sha256", "documents", ["kb_id", "content_sha256"])
    op.create_table(
        "chunks",
        sa.Column("id", _uuid(), nullable=False),
        sa.Column("document_id", _uuid(), nullable=False),
        sa.Column("kb_id", _uuid(), nullable=False),
        sa.Column("owner_group", sa.Text(), nullable=True),
        sa.Column("ord", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("section", sa.Text(), nullable=True),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("embedding", Vector(EMBEDDING_DIMENSION), nullable=False),
        sa.Column("lexical", postgresql.TSVECTOR(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chunks"),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name="fk_chunks_document_id_documents",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["kb_id"],
            ["knowledge_bases.id"],
            name="fk_chunks_kb_id_knowledge_bases",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_chunks_embedding_hnsw",
        "chunks",
        ["embedding"],
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_index("ix_chunks_lexical_gin", "chunks", ["lexical"], postgresql_using="gin")
    op.create_index("ix_chunks_document_id_ord", "chunks", ["document_id", "ord"])
    op.create_index("ix_chunks_kb_id", "chunks", ["kb_id"])


def downgrade() -> None:
    op.drop_table("chunks")
    op.drop_table("documents")
    op.drop_index("uq_knowledge_bases_owner_group_name", table_name="knowledge_bases")
    op.drop_table("knowledge_bases")
