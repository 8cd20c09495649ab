"""Scratch databases on the local PostgreSQL, made like the appliance's own and dropped after.

Same server, roles, grants, extension and schema (the migrations) as the ``appliance``
database, so a gateway writes its audit chain there exactly as in production; but load
scenarios' tens of thousands of events neither lengthen the real chain nor interleave with
the running gateway's writer, and a restore drill can create and drop databases freely.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from psycopg import sql
from sqlalchemy.engine import make_url

from appliance.db.migrate import upgrade
from appliance.runtime.postgres_service import PG_BIN
from tests.support.postgres.databases import Cluster, ScratchDb

__all__ = ["PG_BIN", "ScratchDb", "create", "drop", "temporary", "unique_name"]


def create(endpoints: Mapping[str, Any], name: str, *, migrate: bool = True) -> ScratchDb:
    """Create (or recreate) database ``name`` owned by the schema owner, with the vector
    extension and the gateway role's grants; migrated to head unless ``migrate`` is off
    (a restore target gets its schema from the dump)."""
    cluster = Cluster.from_endpoints(endpoints)
    cluster.drop(name)
    db = cluster.create(name)
    if migrate:
        upgrade(db.owner_url)
    return db


def drop(db: ScratchDb) -> None:
    db.cluster.drop(db.name)


def unique_name(prefix: str) -> str:
    """One name per process: two runs at once must not drop each other's database."""
    return f"{prefix}_{os.getpid()}"


@contextmanager
def temporary(endpoints: Mapping[str, Any], prefix: str) -> Iterator[ScratchDb]:
    """A migrated scratch database of a name no other run uses, dropped when done: for a
    gateway whose audit store a test may break without touching the shared one."""
    db = create(endpoints, f"{prefix}_{uuid.uuid4().hex[:10]}")
    try:
        yield db
    finally:
        drop(db)


@contextmanager
def audit_refused(db: ScratchDb) -> Iterator[None]:
    """The gateway role may not append to the audit log while inside: the audit store refuses
    writes while every other table stays writable."""
    role = sql.Identifier(make_url(db.gateway_url).username or "")
    with db.superuser() as conn:
        conn.execute(sql.SQL("REVOKE INSERT ON audit_events FROM {}").format(role))
    try:
        yield
    finally:
        with db.superuser() as conn:
            conn.execute(sql.SQL("GRANT INSERT ON audit_events TO {}").format(role))
