"""Append-only enforcement and tamper detection on real rows, live and in a pg_dump."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from appliance.audit.verify_db import verify_database, verify_dump
from appliance.audit.writer import AuditWriter
from appliance.cli.main import app
from appliance.settings import AuditSettings
from tests.support.audit_events import begin, end
from tests.support.postgres.databases import ScratchDb

PG_DUMP = "/usr/lib/postgresql/15/bin/pg_dump"
N_REQUESTS = 20  # 40 rows


@pytest.fixture
async def chain(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    writer = AuditWriter(engine, AuditSettings(checkpoint_every=0), "host:1:1")
    await writer.start()
    for i in range(N_REQUESTS):
        await writer.commit(begin(f"r{i}", prompt=f"问题 {i}\ttab"))
        await writer.commit(end(f"r{i}"))
    await writer.stop()
    yield engine


EVENT_CHANGES = [
    "UPDATE audit_events SET prompt = 'x' WHERE seq = 3",
    "DELETE FROM audit_events WHERE seq = 3",
    "TRUNCATE audit_events",
]
CHECKPOINT_CHANGES = [
    "UPDATE audit_checkpoints SET head_hash = 'x'",
    "DELETE FROM audit_checkpoints",
]


def _refused(url: str, statement: str, match: str | None = None) -> None:
    """``statement``, run as the role of ``url``, fails for want of privilege."""
    with (
        psycopg.connect(url.replace("+psycopg", "")) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match=match),
    ):
        conn.execute(statement)


@pytest.mark.parametrize("statement", EVENT_CHANGES + CHECKPOINT_CHANGES)
async def test_gateway_role_cannot_change_audit_rows(
    scratch_db: ScratchDb, chain: AsyncEngine, statement: str
) -> None:
    _refused(scratch_db.gateway_url, statement)
    assert (await verify_database(chain)).count == 2 * N_REQUESTS


@pytest.mark.parametrize("statement", EVENT_CHANGES)
async def test_trigger_refuses_changes_even_by_the_owner(
    scratch_db: ScratchDb, chain: AsyncEngine, statement: str
) -> None:
    _refused(scratch_db.owner_url, statement, match="append-only")


def _edit(conn: psycopg.Connection[Any]) -> None:
    conn.execute("UPDATE audit_events SET actor_username = 'someone.else' WHERE seq = 7")


def _delete(conn: psycopg.Connection[Any]) -> None:
    conn.execute("DELETE FROM audit_events WHERE seq = 12")


def _insert(conn: psycopg.Connection[Any]) -> None:
    # Make room at 9 and slip in a copy of row 2 as if it had always been there.
    conn.execute("UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 9")
    conn.execute("UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1009")
    conn.execute(
        "INSERT INTO audit_events SELECT 9, created_at, 'forged', event_type, outcome, "
        "actor_subject, actor_username, actor_roles, actor_groups, client_id, client_ip, "
        "user_agent, http_status, model, backend, prompt_tokens, completion_tokens, "
        "latency_ms, ttft_ms, document_ids, chunk_ids, prompt, reasoning, response, "
        "prompt_sha256, response_sha256, capture_mode, detail, writer_id, prev_hash, "
        "row_hash, hash_alg FROM audit_events WHERE seq = 2"
    )


def _swap(conn: psycopg.Connection[Any]) -> None:
    conn.execute("UPDATE audit_events SET seq = -1 WHERE seq = 5")
    conn.execute("UPDATE audit_events SET seq = 5 WHERE seq = 30")
    conn.execute("UPDATE audit_events SET seq = 30 WHERE seq = -1")


TAMPERINGS: list[tuple[Callable[[psycopg.Connection[Any]], None], int, str]] = [
    (_edit, 7, "edited"),
    (_delete, 12, "deleted"),
    (_insert, 9, "inserted"),
    (_swap, 5, "reordered"),
]


def _tamper(scratch_db: ScratchDb, action: Callable[[psycopg.Connection[Any]], None]) -> None:
    with scratch_db.superuser() as conn:
        conn.execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
        action(conn)
        conn.execute("ALTER TABLE audit_events ENABLE TRIGGER USER")


def _pg_dump(scratch_db: ScratchDb, target: Path) -> Path:
    cluster = scratch_db.cluster
    connection = ["-h", cluster.socket_dir, "-p", str(cluster.port), "-U", "postgres"]
    subprocess.run([PG_DUMP, *connection, "-f", str(target), scratch_db.name], check=True)
    return target


async def test_intact_chain_verifies_live_and_in_a_dump(
    scratch_db: ScratchDb, chain: AsyncEngine, tmp_path: Path
) -> None:
    report = await verify_database(chain)
    assert report.ok and report.count == 2 * N_REQUESTS
    dump = await asyncio.to_thread(_pg_dump, scratch_db, tmp_path / "audit.sql")
    offline = verify_dump(dump)
    assert offline.ok and offline.head_hash == report.head_hash


@pytest.mark.parametrize(("action", "bad_seq", "reason"), TAMPERINGS)
async def test_superuser_tampering_is_found_live_and_in_a_dump(
    scratch_db: ScratchDb,
    chain: AsyncEngine,
    tmp_path: Path,
    action: Callable[[psycopg.Connection[Any]], None],
    bad_seq: int,
    reason: str,
) -> None:
    _tamper(scratch_db, action)
    live = await verify_database(chain)
    assert (live.ok, live.first_bad_seq, live.reason) == (False, bad_seq, reason), live
    dump = await asyncio.to_thread(_pg_dump, scratch_db, tmp_path / "audit.sql")
    offline = verify_dump(dump)
    assert (offline.first_bad_seq, offline.reason) == (bad_seq, reason), offline


async def test_cli_verify_exit_codes(
    scratch_db: ScratchDb, chain: AsyncEngine, tmp_path: Path
) -> None:
    runner = CliRunner()
    dump = await asyncio.to_thread(_pg_dump, scratch_db, tmp_path / "before.sql")
    ok = runner.invoke(app, ["audit", "verify", "--dump", str(dump)])
    assert ok.exit_code == 0, ok.output
    assert "intact: 40 events" in ok.output
    live = await asyncio.to_thread(
        runner.invoke, app, ["audit", "verify", "--database-url", scratch_db.gateway_url]
    )
    assert live.exit_code == 0, live.output
    _tamper(scratch_db, _edit)
    broken = await asyncio.to_thread(
        runner.invoke, app, ["audit", "verify", "--database-url", scratch_db.gateway_url]
    )
    assert broken.exit_code == 1
    assert "BROKEN at seq 7: edited" in broken.output
    dump = await asyncio.to_thread(_pg_dump, scratch_db, tmp_path / "after.sql")
    offline = runner.invoke(app, ["audit", "verify", "--dump", str(dump), "--json"])
    assert offline.exit_code == 1
    assert '"first_bad_seq": 7' in offline.output
