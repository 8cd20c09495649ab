"""The security administrator's API key policy.

Revision ID: 2026_12_07_api_key_policies
Revises: 2026_12_07_api_keys
Create Date: 2026-12-07

``api_key_policies`` (``appliance.apikeys.models``): one row per version of the policy
(who may create keys, the longest lifetime, the allowed model scopes, whether service keys
may be made), who stored it and when; the highest revision is in force, no row means the
default. The gateway may read and add rows, never change or delete one, so the history of
the policy stays as the audit log describes it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from appliance.db.roles import GATEWAY

revision: str = "2026_12_07_api_key_policies"
down_revision: str | None = "2026_12_07_api_keys"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "api_key_policies",
        sa.Column("revision", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("creators", postgresql.JSONB(), nullable=False),
        sa.Column("max_days", sa.Integer(), nullable=False),
        sa.Column("models", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("service_keys", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("revision", name="pk_api_key_policies"),
    )
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON api_key_policies FROM {GATEWAY}")


def downgrade() -> None:
    op.drop_table("api_key_policies")
