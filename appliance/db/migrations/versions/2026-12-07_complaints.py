"""Complaints about answers (举报/反馈) and their handling by the security administrator.

Revision ID: 2026_12_07_complaints
Revises: 2026_12_06_kb_pii_policy
Create Date: 2026-12-07

``complaints`` (``appliance.complaints.models``): who reported which answer of their own
conversation, the category and reason, a copy of the answer and its question, and the
state (open, handled, dismissed) with the handler's note. No foreign key to the
conversation: the complaint outlives it. The gateway role gets read-write on the table and
its identity's sequence from the default privileges the audit migration set up.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_07_complaints"
down_revision: str | None = "2026_12_06_kb_pii_policy"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("reporter_subject", sa.Text(), nullable=False),
        sa.Column("reporter_username", sa.Text(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), server_default="open", nullable=False),
        sa.Column("handler_username", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "category IN ('illegal', 'false_information', 'personal_information', 'other')",
            name=op.f("ck_complaints_category_known"),
        ),
        sa.CheckConstraint(
            "state IN ('open', 'handled', 'dismissed')", name=op.f("ck_complaints_state_known")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_complaints"),
    )
    op.create_index("ix_complaints_state_id", "complaints", ["state", "id"])
    op.create_index("ix_complaints_reporter_subject_id", "complaints", ["reporter_subject", "id"])


def downgrade() -> None:
    op.drop_index("ix_complaints_reporter_subject_id", table_name="complaints")
    op.drop_index("ix_complaints_state_id", table_name="complaints")
    op.drop_table("complaints")
