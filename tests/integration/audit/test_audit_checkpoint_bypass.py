"""Deleting or replacing the signed checkpoints no longer hides a re-hashed edit, live, in a
``pg_dump`` and through ``appliance audit verify``; skipping signatures takes a flag and warns.

The attacker is a database superuser without the signing key: they edit row 14, recompute
every later row's link and hash, and then deal with the checkpoints that would expose it.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg.rows import dict_row
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from appliance.audit.chain import STORED_FIELDS, seal
from appliance.audit.checkpoint import generate_key, load_public_key
from appliance.audit.verify_db import verify_database, verify_dump
from appliance.audit.writer import AuditWriter
from appliance.cli.main import app
from appliance.settings import AuditSettings
from tests.support.audit_events import end
from tests.support.postgres.databases import ScratchDb

PG_DUMP = "/usr/lib/postgresql/15/bin/pg_dump"
EVERY = 10
ROWS = 35


@pytest.fixture
async def signed_chain(engine: AsyncEngine, tmp_path: Path) -> tuple[AsyncEngine, Path]:
    """35 rows with signed checkpoints at 10, 20 and 30; returns the engine and public key."""
    key = tmp_path / "checkpoint.pem"
    public = generate_key(key)
    settings = AuditSettings(checkpoint_every=EVERY, checkpoint_key_file=str(key))
    writer = AuditWriter(engine, settings, "host:1:1")
    await writer.start()
    for i in range(ROWS):
        writer.submit(end(f"r{i}"))
    await writer.stop()
    return engine, public


def _edit_and_rehash(scratch_db: ScratchDb, checkpoints_sql: str) -> None:
    """Edit row 14, re-chain rows 14.. as the writer would, then run ``checkpoints_sql``."""
    with scratch_db.superuser() as conn:
        cur = conn.cursor(row_factory=dict_row)
        rows = cur.execute(
            f"SELECT {', '.join(STORED_FIELDS)} FROM audit_events ORDER BY seq"
        ).fetchall()
        rows[13]["actor_username"] = "someone.else"
        seal(rows[13:], first_seq=14, prev_hash=rows[12]["row_hash"])
        conn.execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
        conn.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER")
        for row in rows[13:]:
            conn.execute(
                "UPDATE audit_events SET actor_username = %s, prev_hash = %s, row_hash = %s "
                "WHERE seq = %s",
                (row["actor_username"], row["prev_hash"], row["row_hash"], row["seq"]),
            )
        conn.execute(checkpoints_sql)
        conn.execute("ALTER TABLE audit_events ENABLE TRIGGER USER")
        conn.execute("ALTER TABLE audit_checkpoints ENABLE TRIGGER USER")


async def _verify(engine: AsyncEngine, public: Path) -> tuple[bool, int | None, str | None]:
    keys: list[Ed25519PublicKey] = [load_public_key(public)]
    report = await verify_database(engine, public_keys=keys, checkpoint_every=EVERY)
    return report.ok, report.first_bad_seq, report.reason


async def test_deleted_checkpoints_are_missing_ones(
    scratch_db: ScratchDb, signed_chain: tuple[AsyncEngine, Path], tmp_path: Path
) -> None:
    engine, public = signed_chain
    assert await _verify(engine, public) == (True, None, None)
    _edit_and_rehash(scratch_db, "DELETE FROM audit_checkpoints WHERE seq >= 14")
    assert await _verify(engine, public) == (False, 20, "missing_checkpoint")
    dump = tmp_path / "audit.sql"
    cluster = scratch_db.cluster
    await asyncio.to_thread(
        subprocess.run,
        [PG_DUMP, "-h", cluster.socket_dir, "-p", str(cluster.port), "-U", "postgres",
         "-f", str(dump), scratch_db.name],
        check=True,
    )  # fmt: skip
    offline = verify_dump(dump, public_keys=[load_public_key(public)], checkpoint_every=EVERY)
    assert (offline.ok, offline.first_bad_seq, offline.reason) == (False, 20, "missing_checkpoint")
    # The CLI, with the writer's spacing and the key; skipping signatures does not help.
    runner = CliRunner()
    for extra in ([], ["--skip-signatures"]):
        result = await asyncio.to_thread(
            runner.invoke,
            app,
            ["audit", "verify", "--database-url", scratch_db.gateway_url,
             "--public-key", str(public), "--checkpoint-every", str(EVERY), *extra],
        )  # fmt: skip
        assert result.exit_code == 1, result.output
        assert "BROKEN at seq 20: missing_checkpoint" in result.output


async def test_unsigned_replacements_are_refused(
    scratch_db: ScratchDb, signed_chain: tuple[AsyncEngine, Path]
) -> None:
    engine, public = signed_chain
    _edit_and_rehash(
        scratch_db,
        "UPDATE audit_checkpoints SET alg = 'none', signature = '', key_fingerprint = '', "
        "head_hash = (SELECT row_hash FROM audit_events e WHERE e.seq = audit_checkpoints.seq) "
        "WHERE seq >= 14",
    )
    assert await _verify(engine, public) == (False, 20, "bad_checkpoint_signature")


async def test_a_head_without_its_last_checkpoint_is_named(
    scratch_db: ScratchDb, signed_chain: tuple[AsyncEngine, Path]
) -> None:
    engine, public = signed_chain
    # With the last checkpoint gone, rows 21..35 are pinned by nothing: the tail could be
    # cut or re-hashed unseen, so verification says so, at the checkpoint that is due.
    with scratch_db.superuser() as conn:
        conn.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER")
        conn.execute("DELETE FROM audit_checkpoints WHERE seq = 30")
    assert await _verify(engine, public) == (False, 30, "head_not_checkpointed")


async def test_cli_skip_signatures_warns(scratch_db: ScratchDb, engine: AsyncEngine) -> None:
    writer = AuditWriter(engine, AuditSettings(checkpoint_every=EVERY), "host:1:1")
    await writer.start()
    for i in range(15):
        writer.submit(end(f"r{i}"))
    await writer.stop()
    runner = CliRunner()
    base = ["audit", "verify", "--database-url", scratch_db.gateway_url,
            "--checkpoint-every", str(EVERY)]  # fmt: skip
    refused = await asyncio.to_thread(runner.invoke, app, base)
    assert refused.exit_code == 1
    assert "BROKEN at seq 10: bad_checkpoint_signature (checkpoint 10 is unsigned)" in (
        refused.output
    )
    skipped = await asyncio.to_thread(runner.invoke, app, [*base, "--skip-signatures"])
    assert skipped.exit_code == 0, skipped.output
    assert "WARNING: checkpoint signatures were NOT verified" in skipped.output
    assert "intact: 15 events" in skipped.output
