"""Backup and restore drill: back up under load, restore into a fresh database, prove it.

A gateway of our own audits a steady open-loop load into a scratch database made like the
appliance's (:mod:`tests.support.postgres.scratch`), which already holds some history
(written by the product's audit writer; 30,000 events at full scale). Mid-load the database
is dumped with the command of the nightly backup (``appliance-pg-backup``: ``pg_dump -Fc`` to a
``.part`` file, then renamed), as the ``postgres`` superuser. The dump is restored with the restore
playbook's ``pg_restore --exit-on-error`` as the superuser into a new, empty database (not
``--create --clean``: the drill must not replace the database it backed up), and then:

- every audit event committed before the backup started is in the restore, byte for byte
  (same ``row_hash``), and nothing in the restore differs from the source;
- the restored chain verifies, signed checkpoints included (``verify_url``), and so does
  the dump offline, the way the runbook says (``pg_restore -f`` then ``verify_dump``);
- a gateway started on the restored database serves a chat and extends the chain, which
  still verifies (the grants came back with the dump).

Reported: the data-loss window (events committed after the backup's snapshot, up to the
end of the load, that a restore from this backup would lose, in events and seconds) and
the restore time.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from appliance.audit.checkpoint import load_public_key
from appliance.audit.events import AuditEvent, EventType, Outcome
from appliance.audit.identity import default_writer_id
from appliance.audit.verify_db import verify_dump, verify_url
from appliance.audit.writer import AuditWriter
from appliance.db.session import create_engine
from appliance.settings import AuditSettings
from tests.support.gateways import Gateway, chat_body
from tests.support.load import loadgen
from tests.support.postgres import scratch
from tests.support.record import record, scaled
from tests.support.stubs import Stub
from tests.support.tokens import Tokens

USERS = ("zhang.wei", "li.na", "wang.fang")
PG_DUMP = f"{scratch.PG_BIN}/pg_dump"
PG_RESTORE = f"{scratch.PG_BIN}/pg_restore"


def _superuser_cli(db: scratch.ScratchDb) -> list[str]:
    return ["-h", db.socket_dir, "-p", str(db.port), "-U", "postgres"]


def backup(db: scratch.ScratchDb, directory: Path) -> Path:
    """The nightly backup's command: custom format, written aside, then renamed."""
    part = directory / f"{db.name}.dump.part"
    subprocess.run(
        [PG_DUMP, *_superuser_cli(db), "-Fc", "-f", str(part), db.name],
        check=True,
        capture_output=True,
        timeout=600,
    )
    final = directory / f"{db.name}.dump"
    part.rename(final)
    return final


def restore(dump: Path, target: scratch.ScratchDb) -> None:
    subprocess.run(
        [PG_RESTORE, *_superuser_cli(target), "--exit-on-error", "-d", target.name, str(dump)],
        check=True,
        capture_output=True,
        timeout=600,
    )


def events(db: scratch.ScratchDb) -> dict[int, tuple[str, float]]:
    """seq -> (row_hash, committed at as epoch seconds) of every audit event."""
    with psycopg.connect(db.owner_libpq) as conn:
        rows = conn.execute(
            "SELECT seq, row_hash, extract(epoch FROM created_at) FROM audit_events"
        ).fetchall()
    return {int(seq): (str(digest), float(at)) for seq, digest, at in rows}


def head(db: scratch.ScratchDb) -> int:
    with psycopg.connect(db.owner_libpq) as conn:
        row = conn.execute("SELECT coalesce(max(seq), 0) FROM audit_events").fetchone()
    return int(row[0]) if row else 0


def checkpoint_key_file(settings_file: Path) -> str:
    """The checkpoint signing key the gateways use (its public half verifies)."""
    for line in settings_file.read_text().splitlines():
        name, _, value = line.partition("=")
        if name == "APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE":
            return value
    raise AssertionError(f"{settings_file} names no checkpoint key")


async def prefill(db: scratch.ScratchDb, count: int, key_file: str) -> None:
    """History before the drill (a larger database to dump and restore), written by the
    product's own audit writer so the chain and its signed checkpoints are the real thing."""
    engine = create_engine(db.gateway_url)
    writer = AuditWriter(
        engine,
        AuditSettings(checkpoint_key_file=key_file, checkpoint_every=1000),
        default_writer_id(),
    )
    await writer.start()
    try:
        for n in range(count):
            event = AuditEvent(
                EventType.SYSTEM,
                Outcome.OK,
                request_id=f"drill-history-{n}",
                detail={"reason": "backup_drill_history", "n": n},
            )
            if n % 200 == 199:
                await writer.commit(event)  # keeps the writer's queue from overflowing
            else:
                writer.submit(event)
    finally:
        await writer.stop()
        await engine.dispose()


@pytest.fixture
def databases(services: dict[str, Any]) -> Iterator[tuple[scratch.ScratchDb, ...]]:
    source = scratch.create(services, scratch.unique_name("appliance_chaos_backup"))
    target = scratch.create(services, scratch.unique_name("appliance_chaos_restore"), migrate=False)
    yield source, target
    scratch.drop(source)
    scratch.drop(target)


def _gateway(services: dict[str, Any], db: scratch.ScratchDb, stub: Stub) -> Gateway:
    return Gateway(
        {
            "APPLIANCE_DATABASE_URL": db.gateway_url,
            "APPLIANCE_KEYCLOAK__ISSUER": services["keycloak"]["issuer"],
            "APPLIANCE_BACKENDS": stub.url,
            "APPLIANCE_LIMITS__PER_USER_CONCURRENCY": "100000",
            # Signed checkpoints every few hundred events, so the restore has some to check.
            "APPLIANCE_AUDIT__CHECKPOINT_EVERY": "200",
        }
    )


def test_backup_under_load_restores_every_committed_event(
    services: dict[str, Any],
    served_model: str,
    tokens: Tokens,
    databases: tuple[scratch.ScratchDb, scratch.ScratchDb],
    tmp_path: Path,
) -> None:
    source, target = databases
    key_file = checkpoint_key_file(Path(services["settings_file"]))
    asyncio.run(prefill(source, scaled(1_000, 30_000), key_file))
    stub = Stub(served_model)
    stub.control(zero_usage=True)
    gateway = _gateway(services, source, stub)
    users = {name: tokens(name) for name in USERS}
    rate, load_s = scaled(40, 120), scaled(10, 50)
    backup_at_s = load_s * 0.6
    marks: dict[str, Any] = {}
    try:
        target_url = loadgen.chat_target(gateway.url, served_model, users)

        async def drill() -> list[loadgen.Sample]:
            async def take_backup() -> None:
                await asyncio.sleep(backup_at_s)
                marks["head_before"] = head(source)
                marks["started"] = time.time()
                began = time.perf_counter()
                marks["dump"] = await asyncio.to_thread(backup, source, tmp_path)
                marks["backup_s"] = time.perf_counter() - began

            async with loadgen.session() as client:
                (samples, _), _ = await asyncio.gather(
                    loadgen.open_loop(client, target_url, rate, load_s, list(users)),
                    take_backup(),
                )
            return samples

        samples = loadgen.run(drill())
        time.sleep(1.0)  # the last "end" events linger up to 20 ms before their commit
        source_events = events(source)
        source_verified = verify_url(source.owner_url, public_keys=[load_public_key(key_file)])

        began = time.perf_counter()
        restore(marks["dump"], target)
        restore_s = time.perf_counter() - began
        restored = events(target)
        key = load_public_key(key_file)
        restored_verified = verify_url(target.owner_url, public_keys=[key])
        plain = tmp_path / "restored.sql"
        subprocess.run([PG_RESTORE, "-f", str(plain), str(marks["dump"])], check=True, timeout=600)
        offline_verified = verify_dump(plain, public_keys=[key])
    finally:
        gateway.stop()

    # The restored database serves again and its chain grows from where the backup ended.
    resumed = _gateway(services, target, stub)
    try:
        answer = httpx.post(
            f"{resumed.url}/v1/chat/completions",
            json=chat_body(served_model, max_tokens=8),
            headers={"Authorization": f"Bearer {users[USERS[0]]}"},
            timeout=30,
        )
    finally:
        resumed.stop()
        stub.stop()
    after_resume = verify_url(target.owner_url, public_keys=[key])

    before = {seq for seq in source_events if seq <= marks["head_before"]}
    missing = sorted(before - restored.keys())
    differing = sorted(seq for seq in restored if restored[seq] != source_events.get(seq))
    restored_head = max(restored, default=0)
    final_head = max(source_events, default=0)
    lost = [seq for seq in source_events if seq > restored_head]
    window_s = (
        source_events[final_head][1] - source_events[restored_head][1]
        if lost and restored_head
        else 0.0
    )
    summary = loadgen.summarize(samples, load_s)
    checks = {
        "every pre-backup event restored": not missing,
        "restored rows identical to the source": not differing,
        "restored chain verifies": restored_verified.ok,
        "signed checkpoints verified": restored_verified.signed_checkpoints_verified > 0,
        "dump verifies offline": offline_verified.ok,
        "source chain verifies": source_verified.ok,
        "load served during the backup": summary["ok"] > 0 and summary["errors"] == 0,
        "restored database serves": answer.status_code == 200 and after_resume.ok,
    }
    record(
        "backup_drill",
        {
            "load_per_s": rate,
            "load_s": load_s,
            "requests": summary["requests"],
            "load": summary,
            "events_in_source": len(source_events),
            "events_before_backup": len(before),
            "events_restored": len(restored),
            "events_lost": len(missing),
            "differing_rows": len(differing),
            "dump_bytes": marks["dump"].stat().st_size,
            "backup_s": marks["backup_s"],
            "restore_s": restore_s,
            "time_to_recover_s": restore_s,
            "loss_window_events": len(lost),
            "loss_window_s": window_s,
            "restored_checkpoints": restored_verified.checkpoints,
            "restored_signatures_verified": restored_verified.signed_checkpoints_verified,
            "checks": checks,
            "passed": all(checks.values()),
        },
    )
    assert all(checks.values()), {"checks": checks, "missing": missing[:10], "load": summary}
