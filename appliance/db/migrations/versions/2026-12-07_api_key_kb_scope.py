"""A personal API key's knowledge-base scope.

Revision ID: 2026_12_07_api_key_kb_scope
Revises: 2026_12_07_api_key_policies
Create Date: 2026-12-07

``api_keys.kb_scope``: the knowledge-base ids a key may retrieve from (``NULL``: every one
its owner may read). Retrieval applies it (``appliance.rag.key_scope``). No foreign key: a
deleted knowledge base leaves its id in the scope, where it matches nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_12_07_api_key_kb_scope"
down_revision: str | None = "2026_12_07_api_key_policies"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("kb_scope", postgresql.ARRAY(sa.Uuid()), nullable=True))


def downgrade() -> None:
    op.drop_column("api_keys", "kb_scope")
