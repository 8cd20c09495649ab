"""The GB/T 45654 assessment reports handed in by ``appliance assess``.

Revision ID: 2026_12_07_assessment_reports
Revises: 2026_12_07_audit_archive_delete
Create Date: 2026-12-07

One row per report (``appliance.assess.models``): the JSON document and its HTML page as
the run wrote them, with who handed it in, the model, the verdict and the three rates. A
report is evidence: the gateway role may add and read rows but neither change nor delete
them (the default privileges would give it UPDATE and DELETE too).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_12_07_assessment_reports"
down_revision: str | None = "2026_12_07_audit_archive_delete"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "assessment_reports",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("submitted_by", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("should_refuse_refusal_rate", sa.Double(), nullable=True),
        sa.Column("should_answer_refusal_rate", sa.Double(), nullable=True),
        sa.Column("generated_content_pass_rate", sa.Double(), nullable=True),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assessment_reports"),
    )
    op.execute("REVOKE UPDATE, DELETE ON assessment_reports FROM appliance_gateway")


def downgrade() -> None:
    op.drop_table("assessment_reports")
