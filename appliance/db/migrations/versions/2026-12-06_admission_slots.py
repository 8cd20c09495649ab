"""Concurrency slots shared by every gateway process: one row per chat a user has open.

Revision ID: 2026_12_06_admission_slots
Revises: 2026_11_28_message_citations
Create Date: 2026-12-06

``per_user_concurrency`` holds across workers and gateway instances because each admitted
chat leases one of the user's numbered slots here (``appliance.gateway.quota.slots``).
A lease ends when the chat does (its row is deleted) or, for a process that died holding
it, when ``expires_at`` passes without a heartbeat. The gateway role gets SELECT, INSERT,
UPDATE and DELETE on the table from the default privileges the audit migration set up.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_12_06_admission_slots"
down_revision: str | None = "2026_11_28_message_citations"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "admission_slots",
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        # The process holding it (host:pid:start), for an operator reading the table.
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("lease_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", "slot", name="pk_admission_slots"),
        sa.UniqueConstraint("lease_id", name="uq_admission_slots_lease_id"),
    )


def downgrade() -> None:
    op.drop_table("admission_slots")
