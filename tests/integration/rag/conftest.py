"""A scratch database on the local runtime's PostgreSQL, migrated, for the RAG tests.

The cluster comes from ``var/endpoints.json`` (``appliance up --only postgres`` starts it if
it is not running). Each test session creates its own database as the superuser over the
unix socket, runs the real migrations as the owner role, talks to it as the gateway's
least-privilege role, and drops it at the end, so the runtime's own data is never touched.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from appliance.auth.principal import Principal
from appliance.db.migrate import upgrade
from appliance.db.session import create_engine, create_session_factory
from appliance.rag.config import RagSettings
from appliance.rag.embeddings import LocalE5Embedder
from appliance.rag.service import KnowledgeService
from tests.support.paths import ENDPOINTS_FILE, REPO, load_endpoints
from tests.support.postgres.databases import Cluster

APPLIANCE = Path(sys.executable).parent / "appliance"


def _database_up(endpoints: dict[str, Any]) -> bool:
    if "superuser_socket_dir" not in endpoints:
        return False
    try:
        Cluster.from_endpoints(endpoints).superuser().close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.fixture(scope="session")
def pg_endpoints() -> dict[str, Any]:
    found = load_endpoints()
    if not _database_up(found):
        subprocess.run([str(APPLIANCE), "up", "--only", "postgres"], cwd=REPO, check=True)
        found = load_endpoints()
    if not _database_up(found):
        pytest.fail(f"PostgreSQL of the local runtime is not up ({ENDPOINTS_FILE})")
    return found


@pytest.fixture(scope="session")
def scratch_database(pg_endpoints: dict[str, Any]) -> Iterator[dict[str, str]]:
    """URLs (owner, gateway) of a fresh, migrated database; dropped after the session."""
    cluster = Cluster.from_endpoints(pg_endpoints)
    name = f"rag_test_{uuid.uuid4().hex[:10]}"
    try:
        db = cluster.create(name)
        upgrade(db.owner_url)
        yield {"owner": db.owner_url, "gateway": db.gateway_url}
    finally:
        cluster.drop(name)


@pytest.fixture(scope="session")
async def engine(scratch_database: dict[str, str]) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(scratch_database["gateway"])
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture(scope="session")
async def embedder() -> AsyncIterator[LocalE5Embedder]:
    model = LocalE5Embedder()
    yield model
    await model.aclose()


@pytest.fixture(scope="session")
def knowledge(
    sessions: async_sessionmaker[AsyncSession], embedder: LocalE5Embedder
) -> KnowledgeService:
    return KnowledgeService(sessions, embedder, RagSettings())


Person = Callable[..., Principal]


@pytest.fixture(scope="session")
def person() -> Person:
    """Make a caller as the gateway derives it from a verified token."""

    def make(username: str, *groups: str, roles: tuple[str, ...] = ("staff",)) -> Principal:
        return Principal(
            subject=f"sub-{username}",
            username=username,
            roles=frozenset(roles),
            groups=frozenset(groups),
        )

    return make
