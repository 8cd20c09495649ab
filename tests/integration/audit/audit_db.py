"""Handles on the real PostgreSQL cluster and the per-test scratch databases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy.engine import make_url


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@dataclass(frozen=True)
class Cluster:
    owner_url: str
    gateway_url: str
    socket_dir: str
    port: int

    def superuser(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.socket_dir, port=self.port, user="postgres", dbname=dbname, autocommit=True
        )


@dataclass(frozen=True)
class ScratchDb:
    cluster: Cluster
    name: str

    @property
    def owner_url(self) -> str:
        return with_database(self.cluster.owner_url, self.name)

    @property
    def gateway_url(self) -> str:
        return with_database(self.cluster.gateway_url, self.name)

    def superuser(self) -> psycopg.Connection[Any]:
        return self.cluster.superuser(self.name)
