"""A real PostgreSQL for the audit tests: the local runtime's cluster, scratch databases.

The cluster is the one ``appliance up --only postgres`` runs (found through
var/endpoints.json; started when missing). Each test gets its own database, cloned from a
template migrated once per session, so tampering as superuser never touches the live
gateway's audit log and tests cannot see each other's rows.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from audit_db import Cluster, ScratchDb, with_database
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.db.migrate import upgrade
from appliance.db.session import create_engine

REPO = Path(__file__).resolve().parents[3]
ENDPOINTS_FILE = REPO / "var" / "endpoints.json"
APPLIANCE = Path(sys.executable).parent / "appliance"
AUDIT_REVISION = "2026_11_28_audit_log"


def _load_cluster() -> Cluster:
    endpoints = json.loads(ENDPOINTS_FILE.read_text())
    return Cluster(
        owner_url=endpoints["owner_database_url"],
        gateway_url=endpoints["database_url"],
        socket_dir=endpoints["superuser_socket_dir"],
        port=make_url(endpoints["database_url"]).port or 5432,
    )


def _reachable(cluster: Cluster) -> bool:
    try:
        cluster.superuser().close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    if not ENDPOINTS_FILE.exists() or not _reachable(_load_cluster()):
        subprocess.run(
            [str(APPLIANCE), "up", "--only", "postgres"], cwd=REPO, check=True, timeout=600
        )
    return _load_cluster()


def _create_database(cluster: Cluster, name: str, template: str | None = None) -> None:
    clause = f" TEMPLATE {template}" if template else ""
    with cluster.superuser() as conn:
        conn.execute(f"CREATE DATABASE {name} OWNER appliance_owner{clause}")


def _drop_database(cluster: Cluster, name: str) -> None:
    with cluster.superuser() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def audit_template(cluster: Cluster) -> Iterator[str]:
    """A database migrated to the audit revision, used as the template of scratch ones."""
    name = f"audit_tpl_{uuid.uuid4().hex[:10]}"
    _create_database(cluster, name)
    upgrade(with_database(cluster.owner_url, name), AUDIT_REVISION)
    yield name
    _drop_database(cluster, name)


@pytest.fixture
def scratch_db(cluster: Cluster, audit_template: str) -> Iterator[ScratchDb]:
    name = f"audit_test_{uuid.uuid4().hex[:10]}"
    _create_database(cluster, name, audit_template)
    yield ScratchDb(cluster, name)
    _drop_database(cluster, name)


@pytest.fixture
def empty_db(cluster: Cluster) -> Iterator[ScratchDb]:
    """An empty database prepared like the bootstrap does, for running all migrations."""
    name = f"audit_empty_{uuid.uuid4().hex[:10]}"
    _create_database(cluster, name)
    with cluster.superuser(name) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    yield ScratchDb(cluster, name)
    _drop_database(cluster, name)


@pytest.fixture
async def engine(scratch_db: ScratchDb) -> AsyncIterator[AsyncEngine]:
    """The gateway role's engine on the scratch database."""
    eng = create_engine(scratch_db.gateway_url)
    yield eng
    await eng.dispose()
