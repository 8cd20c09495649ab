"""The web UI's conversations and their messages, one owner (token subject) each.

Revision ID: 2026_11_28_conversations
Revises: 2026_11_28_knowledge_bases
Create Date: 2026-11-28

These are each user's saved chats, for the web UI's sidebar, served by the gateway at
``/api/conversations`` (``appliance.conversations``); the audit log stays the record of
what was asked. The gateway role gets SELECT/INSERT/UPDATE/DELETE on
them from the default privileges the audit migration set up.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_11_28_conversations"
down_revision: str | None = "2026_11_28_knowledge_bases"
branch_labels: str | None = None
depends_on: str | None = None


def _uuid() -> postgresql.UUID[uuid.UUID]:
    return postgresql.UUID(as_uuid=True)


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", _uuid(), nullable=False),
        sa.Column("owner_subject", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    op.create_index(
        op.f("ix_conversations_owner_subject_updated_at"),
        "conversations",
        ["owner_subject", "updated_at"],
    )
    op.create_table(
        "conversation_messages",
        sa.Column("id", _uuid(), nullable=False),
        sa.Column("conversation_id", _uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("reasoning", sa.Text(), nullable=True),
        sa.Column("thought_seconds", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.CheckConstraint(
            "role IN ('user', 'assistant')", name=op.f("ck_conversation_messages_role")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_messages_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_messages")),
        sa.UniqueConstraint(
            "conversation_id",
            "position",
            name=op.f("uq_conversation_messages_conversation_id_position"),
        ),
    )


def downgrade() -> None:
    op.drop_table("conversation_messages")
    op.drop_index(op.f("ix_conversations_owner_subject_updated_at"), table_name="conversations")
    op.drop_table("conversations")
