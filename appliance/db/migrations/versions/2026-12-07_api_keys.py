"""Personal API keys.

Revision ID: 2026_12_07_api_keys
Revises: 2026_12_07_assessment_reports
Create Date: 2026-12-07

``api_keys`` (``appliance.apikeys.models``): one row per key with its owner, name, clear
prefix, peppered HMAC-SHA256, the owner's roles, groups and clearance at creation, optional
model scope and CIDR allow-list, and its creation, expiry, revocation and last use. The
gateway may read, add and update rows (create, revoke, last use) but never delete one: a
revoked key stays, so the audit rows naming its id keep saying whose it was.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from appliance.db.roles import GATEWAY

revision: str = "2026_12_07_api_keys"
down_revision: str | None = "2026_12_07_assessment_reports"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_subject", sa.Text(), nullable=False),
        sa.Column("owner_username", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(), nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("groups", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("clearance", sa.Text(), server_default="", nullable=False),
        sa.Column("model_scope", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("allowed_cidrs", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
    )
    op.create_index(
        "ix_api_keys_owner_subject_created_at", "api_keys", ["owner_subject", "created_at"]
    )
    op.execute(f"REVOKE DELETE, TRUNCATE ON api_keys FROM {GATEWAY}")


def downgrade() -> None:
    op.drop_index("ix_api_keys_owner_subject_created_at", table_name="api_keys")
    op.drop_table("api_keys")
