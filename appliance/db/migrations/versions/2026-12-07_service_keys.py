"""Service keys: API keys that stand for an integration, not a person.

Revision ID: 2026_12_07_service_keys
Revises: 2026_12_07_api_key_kb_scope
Create Date: 2026-12-07

``api_keys.service``: true for a key a sysadmin made for an integration (its owner is
``svc:<name>``, its departments and clearance the key's own, no Keycloak account behind
it); ``api_keys.daily_token_quota``: that key's own daily token quota (``NULL`` for a
personal key, which has its owner's); ``api_keys.created_by``: who made a service key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_07_service_keys"
down_revision: str | None = "2026_12_07_api_key_kb_scope"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "api_keys",
        sa.Column("service", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("api_keys", sa.Column("daily_token_quota", sa.Integer(), nullable=True))
    op.add_column("api_keys", sa.Column("created_by", sa.Text(), nullable=True))
    op.create_index("ix_api_keys_service_created_at", "api_keys", ["service", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_api_keys_service_created_at", table_name="api_keys")
    op.drop_column("api_keys", "created_by")
    op.drop_column("api_keys", "daily_token_quota")
    op.drop_column("api_keys", "service")
