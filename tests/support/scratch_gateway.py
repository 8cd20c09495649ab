"""A test module's own gateway on its own scratch database, and reading that database's audit
rows back as the superuser.

Several gateway test modules need the same pair of module fixtures: a migrated scratch
database (so their audit rows neither lengthen nor interleave with the shared chain) and one
gateway of this tree's code on it, relaying to the module's stub backend. They differ only in
the database's prefix and a few settings, so the pair is made here from those.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from tests.support.gateways import Gateway
from tests.support.postgres import scratch as scratch_db
from tests.support.postgres.databases import ScratchDb
from tests.support.stubs import Stub

ScratchFixture = Callable[[dict[str, Any]], Iterator[ScratchDb]]
GatewayFixture = Callable[[dict[str, str], ScratchDb, Stub], Iterator[Gateway]]


def scratch_fixture(prefix: str) -> ScratchFixture:
    """Module fixture ``scratch``: a temporary migrated database named after ``prefix``,
    dropped after the module (``scratch = scratch_fixture(...)`` in the module)."""

    @pytest.fixture(scope="module", name="scratch")
    def scratch(services: dict[str, Any]) -> Iterator[ScratchDb]:
        with scratch_db.temporary(services, prefix) as db:
            yield db

    return scratch


def scratch_gateway_fixtures(
    prefix: str, extra_env: Mapping[str, str] | None = None
) -> tuple[ScratchFixture, GatewayFixture]:
    """Module fixtures ``scratch`` (a temporary database named after ``prefix``) and
    ``gateway`` (started on it with the module's ``settings_env``, the ``stub`` backend and
    ``extra_env``), for ``scratch, gateway = scratch_gateway_fixtures(...)`` in the module."""
    extra = dict(extra_env or {})

    @pytest.fixture(scope="module", name="gateway")
    def gateway(settings_env: dict[str, str], scratch: ScratchDb, stub: Stub) -> Iterator[Gateway]:
        started = Gateway(
            {
                **settings_env,
                "APPLIANCE_DATABASE_URL": scratch.gateway_url,
                "APPLIANCE_BACKENDS": stub.url,
                **extra,
            }
        )
        yield started
        started.stop()

    return scratch_fixture(prefix), gateway


def poll_rows(
    db: ScratchDb,
    sql: str,
    params: tuple[Any, ...],
    ready: Callable[[list[tuple[Any, ...]]], bool],
    what: str,
) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` once ``ready`` holds for them: audit rows are written after the
    answer, so tests poll for them (10 s at most)."""
    deadline = time.monotonic() + 10
    while True:
        with db.superuser() as conn:
            rows = conn.execute(sql, params).fetchall()
        if ready(rows):
            return rows
        assert time.monotonic() < deadline, f"no {what}"
        time.sleep(0.1)


def chat_begin_detail(db: ScratchDb, request_id: str) -> dict[str, Any]:
    """The request's ``chat.begin`` detail, once it is in."""
    rows = poll_rows(
        db,
        "SELECT detail FROM audit_events WHERE request_id = %s AND event_type = 'chat.begin'",
        (request_id,),
        bool,
        "chat.begin row",
    )
    return dict(rows[0][0])
