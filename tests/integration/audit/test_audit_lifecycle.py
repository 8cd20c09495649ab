"""Signed checkpoints, reconciliation of interrupted requests, migrations and grants."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from appliance.audit.checkpoint import load_public_key
from appliance.audit.identity import default_writer_id
from appliance.audit.verify_db import verify_database
from appliance.audit.writer import AuditWriter
from appliance.cli.main import app
from appliance.settings import AuditSettings
from tests.support.audit_events import LI, ZHANG, begin, end
from tests.support.postgres.databases import ScratchDb


def _keygen(tmp_path: Path) -> Path:
    key = tmp_path / "checkpoint.pem"
    result = CliRunner().invoke(app, ["audit", "keygen", str(key)])
    assert result.exit_code == 0, result.output
    assert key.stat().st_mode & 0o777 == 0o600
    return key


async def test_signed_checkpoints_catch_a_forged_one(
    scratch_db: ScratchDb, engine: AsyncEngine, tmp_path: Path
) -> None:
    key = _keygen(tmp_path)
    settings = AuditSettings(checkpoint_every=10, checkpoint_key_file=str(key))
    writer = AuditWriter(engine, settings, "host:1:1")
    await writer.start()
    for i in range(35):
        writer.submit(end(f"r{i}"))
    await writer.stop()
    assert writer.stats.checkpoints == 3
    public = load_public_key(key.with_name("checkpoint.pem.pub"))
    report = await verify_database(engine, public_keys=[public], checkpoint_every=10)
    assert report.ok and report.signed_checkpoints_verified == 3
    with scratch_db.superuser() as conn:
        conn.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER")
        conn.execute("UPDATE audit_checkpoints SET head_hash = repeat('a', 64) WHERE seq = 20")
    forged = await verify_database(engine, public_keys=[public], checkpoint_every=10)
    assert (forged.ok, forged.first_bad_seq, forged.reason) == (
        False,
        20,
        "bad_checkpoint_signature",
    )
    refused = CliRunner().invoke(app, ["audit", "keygen", str(key)])
    assert refused.exit_code == 1


async def test_checkpoints_reveal_a_truncated_tail(
    scratch_db: ScratchDb, engine: AsyncEngine
) -> None:
    writer = AuditWriter(engine, AuditSettings(checkpoint_every=5), "host:1:1")
    await writer.start()
    for i in range(12):
        await writer.commit(begin(f"r{i}"))
    await writer.stop()
    with scratch_db.superuser() as conn:
        conn.execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
        conn.execute("DELETE FROM audit_events WHERE seq >= 8")
    # Unsigned checkpoints (no key configured): only with signatures skipped explicitly.
    report = await verify_database(engine, checkpoint_every=5, skip_signatures=True)
    assert (report.first_bad_seq, report.reason) == (8, "deleted")


async def test_interrupted_requests_of_dead_writers_are_closed(
    scratch_db: ScratchDb, engine: AsyncEngine
) -> None:
    host = socket.gethostname()
    dead = AuditWriter(engine, AuditSettings(), f"{host}:999999999:1")
    elsewhere = AuditWriter(engine, AuditSettings(), "other-host:1:1")
    await dead.start()
    await elsewhere.start()
    await dead.commit(begin("crashed", LI))
    await dead.commit(begin("finished"))
    await dead.commit(end("finished"))
    await elsewhere.commit(begin("remote"))
    await dead.stop()
    await elsewhere.stop()

    alive = AuditWriter(engine, AuditSettings(), default_writer_id())
    await alive.start()
    await alive.commit(begin("running-now"))
    await alive.stop()
    restarted = AuditWriter(engine, AuditSettings(), default_writer_id())
    await restarted.start()
    await restarted.stop()

    with scratch_db.superuser() as conn:
        ends = conn.execute(
            "SELECT request_id, outcome, actor_username, detail->>'interrupted_writer' "
            "FROM audit_events WHERE event_type = 'chat.end' ORDER BY seq"
        ).fetchall()
    assert ends == [
        ("finished", "ok", ZHANG.username, None),
        ("crashed", "interrupted", LI.username, f"{host}:999999999:1"),
    ]
    assert (await verify_database(engine)).ok


async def test_db_upgrade_command_and_default_grants(empty_db: ScratchDb) -> None:
    result = CliRunner().invoke(app, ["db", "upgrade", "--database-url", empty_db.owner_url])
    assert result.exit_code == 0, result.output
    with psycopg.connect(empty_db.owner_url.replace("+psycopg", ""), autocommit=True) as owner:
        # A table a later migration creates is the gateway's to read and write.
        owner.execute("CREATE TABLE later_table (id int)")
    with psycopg.connect(empty_db.gateway_url.replace("+psycopg", ""), autocommit=True) as gw:
        gw.execute("INSERT INTO later_table VALUES (1)")
        gw.execute("UPDATE later_table SET id = 2")
        gw.execute("DELETE FROM later_table")
        assert gw.execute("SELECT count(*) FROM audit_events").fetchone() == (0,)
        privileges = gw.execute(
            "SELECT has_table_privilege('audit_events', 'UPDATE'), "
            "has_table_privilege('audit_events', 'DELETE'), "
            "has_table_privilege('audit_events', 'TRUNCATE'), "
            "has_table_privilege('audit_events', 'INSERT')"
        ).fetchone()
    assert privileges == (False, False, False, True)
