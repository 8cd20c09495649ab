"""The group-commit writer against a real PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.audit.verify_db import verify_database
from appliance.audit.writer import AuditWriter
from appliance.db.session import create_engine
from appliance.errors import AuditUnavailable
from appliance.settings import AuditSettings, CaptureMode, ChainHash
from tests.support.audit_events import LI, ZHANG, begin, end
from tests.support.postgres.databases import ScratchDb


async def _requests(writer: AuditWriter, prefix: str, n: int) -> list[int]:
    async def one(i: int) -> int:
        seq = await writer.commit(begin(f"{prefix}-{i}", ZHANG if i % 2 else LI))
        writer.submit(end(f"{prefix}-{i}"))
        return seq

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def test_two_writers_build_one_unbroken_chain(scratch_db: ScratchDb) -> None:
    engine_a = create_engine(scratch_db.gateway_url)
    engine_b = create_engine(scratch_db.gateway_url)
    settings = AuditSettings(checkpoint_every=0)
    writer_a = AuditWriter(engine_a, settings, "host-a:1:1")
    writer_b = AuditWriter(engine_b, settings, "host-b:2:2")
    await writer_a.start()
    await writer_b.start()
    seqs_a, seqs_b = await asyncio.gather(
        _requests(writer_a, "a", 400), _requests(writer_b, "b", 400)
    )
    await writer_a.stop()
    await writer_b.stop()
    assert len(set(seqs_a) | set(seqs_b)) == 800
    report = await verify_database(engine_a, checkpoint_every=0)  # the writers' setting
    assert report.ok, report
    assert report.count == 1600 and report.head_seq == 1600
    for writer in (writer_a, writer_b):
        stats = writer.stats
        assert stats.events_committed == 800 and stats.commit_failures == 0
        # Group commit: far fewer transactions than events.
        assert stats.batches < 400, stats
        assert stats.queue_depth == 0
    await engine_a.dispose()
    await engine_b.dispose()


async def test_a_dead_database_fails_closed() -> None:
    engine = create_engine("postgresql+psycopg://appliance_gateway:x@127.0.0.1:1/appliance")
    writer = AuditWriter(engine, AuditSettings(commit_timeout_s=1.0), "host:1:1")
    await writer.start()
    with pytest.raises(AuditUnavailable):
        await writer.commit(begin("refused"))
    assert writer.stats.commit_failures >= 1
    assert writer.stats.events_committed == 0
    await writer.stop()
    await engine.dispose()


async def test_commit_before_start_is_refused(engine: AsyncEngine) -> None:
    writer = AuditWriter(engine, AuditSettings(), "host:1:1")
    with pytest.raises(AuditUnavailable):
        await writer.commit(begin("too-early"))


async def test_stop_flushes_submitted_events(engine: AsyncEngine) -> None:
    writer = AuditWriter(engine, AuditSettings(), "host:1:1")
    await writer.start()
    for i in range(50):
        writer.submit(end(f"late-{i}"))
    await writer.stop()
    report = await verify_database(engine)
    assert report.ok and report.count == 50


async def test_a_submitted_end_rides_with_the_next_commit(engine: AsyncEngine) -> None:
    """Sequential requests: the previous "end" and the next "begin" share one transaction."""
    writer = AuditWriter(engine, AuditSettings(submit_linger_ms=5000), "host:1:1")
    await writer.start()
    batches_before = writer.stats.batches
    writer.submit(end("first"))
    await asyncio.sleep(0.05)
    assert writer.stats.events_committed == 0  # still lingering for company
    await writer.commit(begin("second"))
    assert writer.stats.batches == batches_before + 1
    assert writer.stats.events_committed == 2
    await writer.stop()


async def test_a_lingering_end_is_written_without_a_commit(engine: AsyncEngine) -> None:
    writer = AuditWriter(engine, AuditSettings(submit_linger_ms=20), "host:1:1")
    await writer.start()
    writer.submit(end("alone"))
    for _ in range(200):
        if writer.stats.events_committed:
            break
        await asyncio.sleep(0.05)
    assert writer.stats.events_committed == 1
    await writer.stop()
    assert (await verify_database(engine)).count == 1


@pytest.mark.parametrize(
    ("mode", "prompt", "response"),
    [
        (CaptureMode.FULL, "我的手机13812345678", "好的"),
        (CaptureMode.REDACTED, "我的手机[mobile]", "好的"),
        (CaptureMode.HASH, None, None),
    ],
)
async def test_capture_modes_are_stored_as_configured(
    scratch_db: ScratchDb,
    engine: AsyncEngine,
    mode: CaptureMode,
    prompt: str | None,
    response: str | None,
) -> None:
    writer = AuditWriter(engine, AuditSettings(capture=mode), "host:1:1")
    await writer.start()
    await writer.commit(begin("r1", prompt="我的手机13812345678"))
    await writer.commit(end("r1", response="好的"))
    await writer.stop()
    with scratch_db.superuser() as conn:
        rows = conn.execute(
            "SELECT prompt, prompt_sha256, response, response_sha256, capture_mode "
            "FROM audit_events ORDER BY seq"
        ).fetchall()
    assert rows[0][0] == prompt and rows[1][2] == response
    assert len(rows[0][1]) == 64 and len(rows[1][3]) == 64
    assert {r[4] for r in rows} == {mode.value}
    assert (await verify_database(engine)).ok


async def test_sm3_chain_verifies(scratch_db: ScratchDb, engine: AsyncEngine) -> None:
    writer = AuditWriter(engine, AuditSettings(chain_hash=ChainHash.SM3), "host:1:1")
    await writer.start()
    await _requests(writer, "sm3", 30)
    await writer.stop()
    with scratch_db.superuser() as conn:
        algs = conn.execute("SELECT DISTINCT hash_alg FROM audit_events").fetchall()
        assert algs == [("sm3",)]
        report = await verify_database(engine)
        assert report.ok and report.count == 60
        conn.execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
        conn.execute("UPDATE audit_events SET prompt = 'x' WHERE seq = 17")
    report = await verify_database(engine)
    assert (report.ok, report.first_bad_seq, report.reason) == (False, 17, "edited")


async def test_odd_text_never_fails_a_batch(engine: AsyncEngine) -> None:
    writer = AuditWriter(engine, AuditSettings(), "host:1:1")
    await writer.start()
    event = begin("nul", prompt="a\x00b")
    event.detail = {"x": float("inf"), "tab\there": "new\nline", "quote": '"{,}\\'}
    event.actor.groups = ("/dept/with space", 'quo"te', "com,ma", "")
    await writer.commit(event)
    await writer.stop()
    assert (await verify_database(engine)).ok
