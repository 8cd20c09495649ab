"""Tamper-evident audit log: events, signed checkpoints, append-only grants and triggers.

Revision ID: 2026_11_28_audit_log
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_11_28_audit_log"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

GATEWAY_ROLE = "appliance_gateway"
AUDIT_TABLES = ("audit_events", "audit_checkpoints")


def _text_array() -> postgresql.ARRAY[str]:
    return postgresql.ARRAY(sa.Text())


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("actor_subject", sa.Text(), nullable=False),
        sa.Column("actor_username", sa.Text(), nullable=False),
        sa.Column("actor_roles", _text_array(), nullable=False),
        sa.Column("actor_groups", _text_array(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("client_ip", sa.Text(), nullable=False),
        sa.Column("user_agent", sa.Text(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("backend", sa.Text(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Double(), nullable=True),
        sa.Column("ttft_ms", sa.Double(), nullable=True),
        sa.Column("document_ids", _text_array(), nullable=False),
        sa.Column("chunk_ids", _text_array(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("reasoning", sa.Text(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("prompt_sha256", sa.Text(), nullable=True),
        sa.Column("response_sha256", sa.Text(), nullable=True),
        sa.Column("capture_mode", sa.Text(), nullable=False),
        sa.Column("detail", postgresql.JSONB(), nullable=False),
        sa.Column("writer_id", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.Text(), nullable=False),
        sa.Column("row_hash", sa.Text(), nullable=False),
        sa.Column("hash_alg", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_created_at"), "audit_events", ["created_at"])
    op.create_index(op.f("ix_audit_events_request_id"), "audit_events", ["request_id"])
    op.create_index(
        op.f("ix_audit_events_actor_username_seq"), "audit_events", ["actor_username", "seq"]
    )
    op.create_index(op.f("ix_audit_events_event_type_seq"), "audit_events", ["event_type", "seq"])
    op.create_index(
        op.f("ix_audit_events_actor_groups"),
        "audit_events",
        ["actor_groups"],
        postgresql_using="gin",
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("head_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("key_fingerprint", sa.Text(), nullable=False),
        sa.Column("alg", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_checkpoints")),
    )

    # Defence in depth: even a role that was wrongly granted UPDATE/DELETE cannot use it.
    # A superuser can still disable these triggers; the hash chain is what catches that.
    op.execute(
        """
        CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$
        """
    )
    for table in AUDIT_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
        )

    op.execute(f"GRANT USAGE ON SCHEMA public TO {GATEWAY_ROLE}")
    # Tables that later migrations create (as the owner) are the gateway's to read and write;
    # sequences too. The audit tables above already exist, so these defaults skip them, and
    # the explicit grants below are the only ones they get.
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO appliance_gateway"
    )
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        "GRANT USAGE, SELECT ON SEQUENCES TO appliance_gateway"
    )
    for table in AUDIT_TABLES:
        op.execute(f"REVOKE ALL ON {table} FROM PUBLIC")
        op.execute(f"REVOKE ALL ON {table} FROM {GATEWAY_ROLE}")
        op.execute(f"GRANT SELECT, INSERT ON {table} TO {GATEWAY_ROLE}")


def downgrade() -> None:
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        "REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM appliance_gateway"
    )
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        "REVOKE USAGE, SELECT ON SEQUENCES FROM appliance_gateway"
    )
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_events")
    op.execute("DROP FUNCTION audit_append_only()")
