"""Databases made like the appliance's own: one way to create one, grant and drop it.

Every scratch database of the tests and benchmarks is created here, on the local runtime's
cluster or on a throwaway one, owned by the NOLOGIN owner role and granted by
:func:`appliance.db.roles.database_sql`: pgvector and each login's least privileges, exactly
as the ``appliance`` database gets them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from appliance.db import roles
from appliance.runtime.postgres_service import SYSTEM_USER

Superuser = Callable[[str], psycopg.Connection[Any]]


def with_database(url: str, name: str) -> str:
    """``url`` (SQLAlchemy form) pointed at database ``name``."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def libpq(url: str) -> str:
    """A SQLAlchemy ``postgresql+psycopg://`` URL in the form libpq and psql take."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def create_database(superuser: Superuser, name: str, *, template: str | None = None) -> None:
    """Create database ``name`` (a copy of ``template`` if given) owned, granted and with
    pgvector as the runtime makes its own (:mod:`appliance.db.roles`); ``superuser``
    connects as ``postgres`` to a database. The roles must exist already."""
    statement = sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(
        sql.Identifier(name), sql.Identifier(roles.OWNER)
    )
    if template:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with superuser("postgres") as conn:
        conn.execute(statement)
    with superuser(name) as conn:
        for granted in roles.database_sql(name):
            conn.execute(granted)


def drop_database(superuser: Superuser, name: str) -> None:
    with superuser("postgres") as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@dataclass(frozen=True)
class Cluster:
    """The local runtime's PostgreSQL as ``var/endpoints.json`` describes it."""

    owner_url: str
    gateway_url: str
    socket_dir: str
    port: int

    @classmethod
    def from_endpoints(cls, endpoints: Mapping[str, Any]) -> Cluster:
        return cls(
            owner_url=endpoints["owner_database_url"],
            gateway_url=endpoints["database_url"],
            socket_dir=endpoints["superuser_socket_dir"],
            port=make_url(endpoints["database_url"]).port or 5432,
        )

    def superuser(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        """An autocommit connection as the ``postgres`` superuser over the unix socket."""
        return psycopg.connect(
            host=self.socket_dir, port=self.port, user=SYSTEM_USER, dbname=dbname,
            autocommit=True,
        )  # fmt: skip

    def create(self, name: str, template: str | None = None) -> ScratchDb:
        """A new database like the appliance's (see :func:`create_database`)."""
        create_database(self.superuser, name, template=template)
        return ScratchDb(self, name)

    def drop(self, name: str) -> None:
        drop_database(self.superuser, name)


@dataclass(frozen=True)
class ScratchDb:
    """One database of a :class:`Cluster`, with the URLs of its two logins (``owner``: the
    migrations' login, whose sessions act as the NOLOGIN owner role)."""

    cluster: Cluster
    name: str

    @property
    def owner_url(self) -> str:
        return with_database(self.cluster.owner_url, self.name)

    @property
    def gateway_url(self) -> str:
        return with_database(self.cluster.gateway_url, self.name)

    @property
    def owner_libpq(self) -> str:
        return libpq(self.owner_url)

    @property
    def gateway_libpq(self) -> str:
        return libpq(self.gateway_url)

    @property
    def socket_dir(self) -> str:
        return self.cluster.socket_dir

    @property
    def port(self) -> int:
        return self.cluster.port

    def superuser(self) -> psycopg.Connection[Any]:
        return self.cluster.superuser(self.name)
