"""Answers keep their citations, so a reopened conversation shows its sources again.

Revision ID: 2026_11_28_message_citations
Revises: 2026_11_28_conversations
Create Date: 2026-11-28

The citations are the gateway's own (document, page or section, quoted chunk) at the time
of the answer: a document deleted later still shows what the answer was grounded on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_11_28_message_citations"
down_revision: str | None = "2026_11_28_conversations"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "conversation_messages",
        sa.Column("citations", postgresql.JSONB(), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("conversation_messages", "citations")
