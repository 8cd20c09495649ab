"""Scratch databases on the local PostgreSQL, made like the appliance's own and dropped after.

Same server, roles, grants, extension and schema (the migrations) as the ``appliance``
database, so a gateway writes its audit chain there exactly as in production; but load
scenarios' tens of thousands of events neither lengthen the real chain nor interleave with
the running gateway's writer, and a restore drill can create and drop databases freely.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from appliance.db.migrate import upgrade

PG_BIN = "/usr/lib/postgresql/15/bin"


@dataclass(frozen=True)
class ScratchDb:
    name: str
    gateway_url: str  # SQLAlchemy form, the gateway's least-privilege role
    owner_url: str  # SQLAlchemy form, the schema owner
    socket_dir: str
    port: int

    @property
    def gateway_libpq(self) -> str:
        return self.gateway_url.replace("postgresql+psycopg://", "postgresql://", 1)

    @property
    def owner_libpq(self) -> str:
        return self.owner_url.replace("postgresql+psycopg://", "postgresql://", 1)

    def superuser(self, dbname: str | None = None) -> dict[str, Any]:
        """psycopg keyword arguments for the ``postgres`` superuser over the socket."""
        return {
            "host": self.socket_dir,
            "port": self.port,
            "user": "postgres",
            "dbname": dbname or self.name,
        }


def _on(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def create(endpoints: Mapping[str, Any], name: str, *, migrate: bool = True) -> ScratchDb:
    """Create (or recreate) database ``name`` owned by the schema owner, with the vector
    extension and the gateway role's grants; migrated to head unless ``migrate`` is off
    (a restore target gets its schema from the dump)."""
    gateway_url, owner_url = (
        urlsplit(endpoints["database_url"]),
        urlsplit(endpoints["owner_database_url"]),
    )
    db = ScratchDb(
        name=name,
        gateway_url=_on(endpoints["database_url"], name),
        owner_url=_on(endpoints["owner_database_url"], name),
        socket_dir=endpoints["superuser_socket_dir"],
        port=int(gateway_url.port or 5432),
    )
    owner = sql.Identifier(owner_url.username or "")
    gateway = sql.Identifier(gateway_url.username or "")
    ident = sql.Identifier(name)
    drop(db)
    with psycopg.connect(**db.superuser("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(ident, owner))
    with psycopg.connect(**db.superuser(), autocommit=True) as conn:
        for statement in (
            sql.SQL("CREATE EXTENSION IF NOT EXISTS vector"),
            sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident),
            sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"),
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(ident, gateway),
            sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(gateway),
        ):
            conn.execute(statement)
    if migrate:
        upgrade(db.owner_url)
    return db


def drop(db: ScratchDb) -> None:
    with psycopg.connect(**db.superuser("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db.name))
        )


def unique_name(prefix: str) -> str:
    """One name per process: two runs at once must not drop each other's database."""
    return f"{prefix}_{os.getpid()}"
