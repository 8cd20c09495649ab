"""Audit rows may leave the table once archived, and only through the owner's archive run.

Revision ID: 2026_12_07_audit_archive_delete
Revises: 2026_12_07_data_grades
Create Date: 2026-12-07

``audit_append_only()`` still refuses every UPDATE and TRUNCATE, and every DELETE on
``audit_checkpoints``. A DELETE of an ``audit_events`` row now passes only when the
transaction declared, with ``SET LOCAL appliance.audit_archived_through``, that the rows up
to that seq are in a signed archive file, and the row lies at or below it, and the
statement runs as the table's owner: the NOLOGIN role that only the migrations' login
acts as (``appliance.db.roles``), which is the path ``appliance audit archive`` takes
(``appliance.audit.retention``). The gateway's login holds no DELETE right at all, so
the privilege system refuses it before this trigger is asked.
"""

from __future__ import annotations

from alembic import op

revision: str = "2026_12_07_audit_archive_delete"
down_revision: str | None = "2026_12_07_data_grades"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_events' THEN
                IF OLD.seq <= coalesce(
                        nullif(current_setting('appliance.audit_archived_through', true), ''),
                        '0')::bigint
                   AND current_user = (SELECT relowner::regrole::name FROM pg_class
                                       WHERE oid = TG_RELID) THEN
                    RETURN OLD;
                END IF;
            END IF;
            RAISE EXCEPTION 'audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$
        """
    )


def downgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$
        """
    )
