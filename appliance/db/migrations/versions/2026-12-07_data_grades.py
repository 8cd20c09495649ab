"""Data grades (GB/T 43697-2024) on knowledge bases, documents and chunks; an answer's grade.

Revision ID: 2026_12_07_data_grades
Revises: 2026_12_07_complaints
Create Date: 2026-12-07

``knowledge_bases.grade`` and ``chunks.grade`` hold a level of ``rag.grades`` (1 the lowest);
``documents.grade`` is NULL where a document takes its knowledge base's. Existing knowledge
bases, and so their chunks, start at the lowest level, which every reader has: nothing that
was retrievable before stops being so until an editor grades it.
``conversation_messages.grade`` keeps the name of the highest grade an answer cites.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_07_data_grades"
down_revision: str | None = "2026_12_07_complaints"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    for table in ("knowledge_bases", "chunks"):
        op.add_column(table, sa.Column("grade", sa.Integer(), server_default="1", nullable=False))
    op.add_column("documents", sa.Column("grade", sa.Integer(), nullable=True))
    for table in ("knowledge_bases", "documents", "chunks"):
        op.create_check_constraint(op.f(f"ck_{table}_grade_level"), table, "grade >= 1")
    op.add_column("conversation_messages", sa.Column("grade", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("conversation_messages", "grade")
    for table in ("knowledge_bases", "documents", "chunks"):
        op.drop_constraint(op.f(f"ck_{table}_grade_level"), table, type_="check")
        op.drop_column(table, "grade")
