"""A scratch database on the local runtime's PostgreSQL for the RAG benchmarks.

Created as the superuser over the unix socket, migrated as the owner role, used as the
gateway's role, and dropped afterwards (the runtime's own database is never touched).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from appliance.db.migrate import upgrade
from appliance.db.session import create_engine, create_session_factory

REPO = Path(__file__).resolve().parents[2]


def _superuser(endpoints: dict[str, Any], dbname: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=endpoints["superuser_socket_dir"],
        port=make_url(endpoints["database_url"]).port,
        user="postgres",
        dbname=dbname,
        autocommit=True,
    )


@dataclass(frozen=True)
class Scratch:
    sessions: async_sessionmaker[AsyncSession]
    owner: psycopg.Connection[Any]


@asynccontextmanager
async def scratch_sessions(prefix: str) -> AsyncIterator[Scratch]:
    """Sessions as the gateway role, plus an autocommit connection as the owner role."""
    endpoints = json.loads((REPO / "var" / "endpoints.json").read_text())
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    owner_url = make_url(endpoints["owner_database_url"])
    with _superuser(endpoints, "postgres") as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner_url.username}"')
    try:
        with _superuser(endpoints, name) as conn:
            conn.execute("CREATE EXTENSION vector")
        upgrade(owner_url.set(database=name).render_as_string(hide_password=False))
        gateway = make_url(endpoints["database_url"]).set(database=name)
        engine = create_engine(gateway.render_as_string(hide_password=False))
        owner = owner_url.set(database=name)
        try:
            with psycopg.connect(
                host=owner.host, port=owner.port, user=owner.username,
                password=owner.password, dbname=name, autocommit=True,
            ) as conn:  # fmt: skip
                yield Scratch(create_session_factory(engine), conn)
        finally:
            await engine.dispose()
    finally:
        with _superuser(endpoints, "postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
