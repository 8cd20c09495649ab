"""A real PostgreSQL for the audit tests: the local runtime's cluster, scratch databases.

The cluster is the one ``appliance up --only postgres`` runs (found through
var/endpoints.json; started when missing). Each test gets its own database, cloned from a
template migrated once per session, so tampering as superuser never touches the live
gateway's audit log and tests cannot see each other's rows.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.db.migrate import upgrade
from appliance.db.session import create_engine
from tests.support.paths import ENDPOINTS_FILE, REPO, load_endpoints
from tests.support.postgres.databases import Cluster, ScratchDb

APPLIANCE = Path(sys.executable).parent / "appliance"
AUDIT_REVISION = "2026_11_28_audit_log"


def _load_cluster() -> Cluster:
    return Cluster.from_endpoints(load_endpoints())


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


@pytest.fixture(scope="session")
def audit_template(cluster: Cluster) -> Iterator[str]:
    """A database migrated to the audit revision, used as the template of scratch ones."""
    template = cluster.create(f"audit_tpl_{uuid.uuid4().hex[:10]}")
    upgrade(template.owner_url, AUDIT_REVISION)
    yield template.name
    cluster.drop(template.name)


@pytest.fixture
def scratch_db(cluster: Cluster, audit_template: str) -> Iterator[ScratchDb]:
    db = cluster.create(f"audit_test_{uuid.uuid4().hex[:10]}", template=audit_template)
    yield db
    cluster.drop(db.name)


@pytest.fixture
def empty_db(cluster: Cluster) -> Iterator[ScratchDb]:
    """An empty database prepared like the bootstrap does, for running all migrations."""
    db = cluster.create(f"audit_empty_{uuid.uuid4().hex[:10]}")
    yield db
    cluster.drop(db.name)


@pytest.fixture
async def engine(scratch_db: ScratchDb) -> AsyncIterator[AsyncEngine]:
    """The gateway role's engine on the scratch database."""
    eng = create_engine(scratch_db.gateway_url)
    yield eng
    await eng.dispose()
