"""Checkpoints anchored outside the database, end to end: the writer sends them to a real
rsyslog over TLS (configured by the ``audit_anchor`` role's template), rsyslog appends them
to its file, ``appliance audit verify --anchors``
cross-checks that file against the database; then the superuser cuts the tail, with the
checkpoints that pinned it, and only the anchors tell."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from appliance.audit.anchor import read_anchors
from appliance.audit.checkpoint import generate_key
from appliance.audit.writer import AuditWriter
from appliance.cli.main import app
from appliance.settings import AuditSettings
from tests.support.audit_events import begin, end
from tests.support.audit_rsyslog import Receiver, private_rsyslog
from tests.support.postgres.databases import ScratchDb
from tests.support.process import free_port

EVERY = 10
INTERVAL_S = 0.5


async def _write(writer: AuditWriter, prefix: str, requests: int) -> None:
    for i in range(requests):
        await writer.commit(begin(f"{prefix}-{i}"))
        await writer.commit(end(f"{prefix}-{i}"))


def _anchored(receiver: Receiver, count: int) -> bool:
    return sum("appliance-audit-checkpoint/1" in line for line in receiver.lines()) >= count


def _verify(scratch_db: ScratchDb, public_key: Path, *extra: str) -> tuple[int, str]:
    args = ["audit", "verify", "--database-url", scratch_db.gateway_url]
    args += ["--public-key", str(public_key), "--checkpoint-every", str(EVERY), *extra]
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output


async def test_anchors_received_by_rsyslog_expose_a_truncated_tail(
    scratch_db: ScratchDb, engine: AsyncEngine, tmp_path: Path
) -> None:
    public_key = generate_key(tmp_path / "checkpoint.pem")
    with private_rsyslog(tmp_path / "rsyslog") as receiver:
        settings = AuditSettings(
            checkpoint_every=EVERY,
            checkpoint_interval_s=INTERVAL_S,
            checkpoint_key_file=str(tmp_path / "checkpoint.pem"),
            anchor_syslog=receiver.target,
            anchor_ca_file=str(receiver.ca_file),
        )
        writer = AuditWriter(engine, settings, "host:1:1")
        await writer.start()
        # 26 rows: checkpoints at 10 and 20 by count, the timer's at 26; 8 more: 30 by count,
        # then the timer's at 34.
        await _write(writer, "a", 13)
        await asyncio.sleep(INTERVAL_S * 3)
        await _write(writer, "b", 4)
        await asyncio.sleep(INTERVAL_S * 3)
        stats = writer.stats
        await writer.stop()
        deadline = time.monotonic() + 20
        while not _anchored(receiver, stats.checkpoints) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        anchors = read_anchors([receiver.file])
        # The file rsyslog appends to is append-only: not even root may rewrite it.
        with pytest.raises(PermissionError):
            receiver.file.write_text("")
    seqs = sorted({a.checkpoint.seq for a in anchors})
    assert seqs == [10, 20, 26, 30, 34], seqs
    assert stats.checkpoints == 5 and writer.stats.anchors_sent == 5
    assert writer.stats.anchor_send_failures == 0 and writer.stats.anchors_dropped == 0

    code, output = _verify(scratch_db, public_key, "--anchors", str(receiver.file))
    assert code == 0, output
    assert "5 anchors cross-checked" in output
    # A file that holds no checkpoint cannot vouch for anything: refused, not a pass.
    empty = tmp_path / "empty.log"
    empty.write_text("2026-12-06T10:00:00+00:00 127.0.0.1 anchor rsyslogd: start\n")
    code, output = _verify(scratch_db, public_key, "--anchors", str(empty))
    assert code == 2 and "no audit checkpoint anchors" in output, output

    # The superuser cuts rows 23.. and deletes the checkpoints past the new head: the
    # database alone still verifies (no checkpoint is due below 30).
    with scratch_db.superuser() as conn:
        conn.execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
        conn.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER")
        conn.execute("DELETE FROM audit_events WHERE seq >= 23")
        conn.execute("DELETE FROM audit_checkpoints WHERE seq >= 23")
    code, output = _verify(scratch_db, public_key)
    assert code == 0, output
    code, output = _verify(scratch_db, public_key, "--anchors", str(receiver.file))
    assert code == 1, output
    assert "BROKEN at seq 23: deleted (rows from 23 to 34 missing)" in output


async def test_a_receiver_that_is_down_never_blocks_the_writer(
    scratch_db: ScratchDb, engine: AsyncEngine
) -> None:
    """Nothing listens at the target: commits go on, the failures are counted, and the
    checkpoints still queued at stop are reported as dropped rather than lost silently."""
    target = f"127.0.0.1:{free_port()}"
    settings = AuditSettings(checkpoint_every=EVERY, checkpoint_interval_s=0, anchor_syslog=target)
    writer = AuditWriter(engine, settings, "host:1:1")
    await writer.start()
    started = time.monotonic()
    await _write(writer, "a", 15)
    assert time.monotonic() - started < 5
    await asyncio.sleep(0.3)
    assert writer.stats.anchor_send_failures >= 1
    assert writer.stats.anchor_queue_depth == 3
    await writer.stop()
    assert writer.stats.anchors_dropped == 3 and writer.stats.anchors_sent == 0
    with psycopg.connect(scratch_db.gateway_libpq) as conn:
        row = conn.execute("SELECT count(*) FROM audit_checkpoints").fetchone()
    assert row is not None and row[0] == 3
