"""The keyword library of the content filter: versions and their entries.

Revision ID: 2026_12_06_keyword_library
Revises: 2026_12_06_admission_slots
Create Date: 2026-12-06

Each import by the security administrator adds a row to ``keyword_libraries`` and its
entries to ``keyword_entries`` (``appliance.content.models``); the newest version is the
one the gateway filters with. The gateway role gets SELECT, INSERT, UPDATE and DELETE on
both tables, and the identity's sequence, from the default privileges the audit migration
set up.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_06_keyword_library"
down_revision: str | None = "2026_12_06_admission_slots"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "keyword_libraries",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.Text(), nullable=False),
        sa.Column(
            "imported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name="pk_keyword_libraries"),
    )
    op.create_table(
        "keyword_entries",
        sa.Column("library_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Text(), nullable=False),
        sa.Column("term", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("match", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["keyword_libraries.id"],
            name="fk_keyword_entries_library_id_keyword_libraries",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("library_id", "position", name="pk_keyword_entries"),
    )


def downgrade() -> None:
    op.drop_table("keyword_entries")
    op.drop_table("keyword_libraries")
