"""A scratch database on the local runtime's PostgreSQL for the RAG benchmarks.

Created as the superuser over the unix socket, migrated as the owner role, used as the
gateway's role, and dropped afterwards (the runtime's own database is never touched).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from appliance.db.migrate import upgrade
from appliance.db.session import create_engine, create_session_factory
from tests.support.paths import load_endpoints
from tests.support.postgres.databases import Cluster


@dataclass(frozen=True)
class Scratch:
    sessions: async_sessionmaker[AsyncSession]
    owner: psycopg.Connection[Any]


@asynccontextmanager
async def scratch_sessions(prefix: str) -> AsyncIterator[Scratch]:
    """Sessions as the gateway role, plus an autocommit connection as the owner role."""
    cluster = Cluster.from_endpoints(load_endpoints())
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    db = cluster.create(name)
    try:
        upgrade(db.owner_url)
        engine = create_engine(db.gateway_url)
        owner = make_url(db.owner_url)
        try:
            with psycopg.connect(
                host=owner.host, port=owner.port, user=owner.username,
                password=owner.password, dbname=name, autocommit=True,
            ) as conn:  # fmt: skip
                yield Scratch(create_session_factory(engine), conn)
        finally:
            await engine.dispose()
    finally:
        cluster.drop(name)


def database_versions(owner: psycopg.Connection[Any]) -> dict[str, str]:
    """The PostgreSQL and pgvector versions a run measured."""
    row = owner.execute(
        "SELECT current_setting('server_version'),"
        " (SELECT extversion FROM pg_extension WHERE extname = 'vector')"
    ).fetchone()
    assert row is not None
    return {"postgresql": row[0], "pgvector": row[1]}
