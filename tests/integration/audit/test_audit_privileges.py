"""Who may change the audit tables, role by role, on the real PostgreSQL.

The audit tables belong to a NOLOGIN owner role that only the migrations' login acts as.
Every other login (the gateway's, which the web UI shares, and the dumps' login) may append
or read at most: UPDATE, DELETE, TRUNCATE, ALTER TABLE, DISABLE TRIGGER and DROP are
refused by the privilege system itself, before the append-only triggers are even asked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql

from appliance.db import roles
from tests.support.postgres.databases import ScratchDb

TABLES = ("audit_events", "audit_checkpoints")
CHANGES = (
    "UPDATE {table} SET seq = seq",
    "DELETE FROM {table}",
    "TRUNCATE {table}",
    "ALTER TABLE {table} ADD COLUMN forged text",
    "ALTER TABLE {table} DISABLE TRIGGER {table}_no_update_delete",
    "ALTER TABLE {table} DISABLE TRIGGER ALL",
    "ALTER TABLE {table} OWNER TO {login}",
    "DROP TABLE {table}",
)
# The web UI signs in as the gateway's login (appliance_gateway), so it is covered there.
LOGINS = (roles.GATEWAY, roles.BACKUP)


@contextmanager
def _as(db: ScratchDb, login: str) -> Iterator[psycopg.Connection[Any]]:
    """A session whose privileges are exactly ``login``'s (the superuser steps down to it;
    the dumps' login has no password on the local runtime)."""
    with db.superuser() as conn:
        conn.execute(sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(login)))
        yield conn


@pytest.mark.parametrize("login", LOGINS)
@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("change", CHANGES)
def test_no_login_but_the_migrations_may_change_the_audit_tables(
    scratch_db: ScratchDb, login: str, table: str, change: str
) -> None:
    statement = change.format(table=table, login=login)
    with _as(scratch_db, login) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


@pytest.mark.parametrize("change", CHANGES)
def test_the_gateway_login_itself_is_refused(scratch_db: ScratchDb, change: str) -> None:
    """The same through a real sign-in with the gateway's password, as the service does."""
    statement = change.format(table="audit_events", login=roles.GATEWAY)
    with (
        psycopg.connect(scratch_db.gateway_libpq, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


def test_the_owner_cannot_sign_in_and_only_the_migrations_act_as_it(
    scratch_db: ScratchDb,
) -> None:
    with scratch_db.superuser() as conn:
        owners = conn.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE tablename = ANY(%s)", (list(TABLES),)
        ).fetchall()
        assert owners == [(roles.OWNER,)]
        assert conn.execute(
            "SELECT rolcanlogin, rolpassword IS NULL FROM pg_authid WHERE rolname = %s",
            (roles.OWNER,),
        ).fetchone() == (False, True)
        # Logins that may act as the owner (directly or through another role).
        acting = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolcanlogin AND NOT rolsuper"
            " AND pg_has_role(oid, %s, 'MEMBER')",
            (roles.OWNER,),
        ).fetchall()
        assert acting == [(roles.MIGRATOR,)]
    # The migrations' login acts as the owner from its first statement (ALTER ROLE ... SET
    # role), without inheriting the owner's rights.
    with psycopg.connect(scratch_db.owner_libpq, autocommit=True) as conn:
        assert conn.execute("SELECT session_user, current_user").fetchone() == (
            roles.MIGRATOR,
            roles.OWNER,
        )


def test_the_dumps_login_reads_every_audit_row(scratch_db: ScratchDb) -> None:
    with _as(scratch_db, roles.BACKUP) as conn:
        for table in TABLES:
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO audit_checkpoints VALUES (1, 'h', now(), 's', 'k', 'a')")
