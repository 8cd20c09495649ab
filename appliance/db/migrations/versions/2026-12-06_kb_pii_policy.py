"""What a knowledge base does with personal information in the documents uploaded to it.

Revision ID: 2026_12_06_kb_pii_policy
Revises: 2026_12_06_keyword_library
Create Date: 2026-12-06

``knowledge_bases.pii_policy``: ``allow`` (indexed as it is), ``mask`` (each number masked
as its kind in the chunks) or ``reject`` (a document holding any is refused, nothing
stored). Existing knowledge bases keep ``allow``, what they did before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_06_kb_pii_policy"
down_revision: str | None = "2026_12_06_keyword_library"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "knowledge_bases",
        sa.Column("pii_policy", sa.Text(), server_default="allow", nullable=False),
    )
    op.create_check_constraint(
        "ck_knowledge_bases_pii_policy_known",
        "knowledge_bases",
        "pii_policy IN ('allow', 'mask', 'reject')",
    )


def downgrade() -> None:
    op.drop_constraint("ck_knowledge_bases_pii_policy_known", "knowledge_bases", type_="check")
    op.drop_column("knowledge_bases", "pii_policy")
