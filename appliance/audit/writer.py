"""The audit writer: one per gateway process, group-committing events to the chain.

``commit`` is for events that must be durable before the request may proceed (a chat's
"begin": fail-closed); ``submit`` is for the rest (ends, denials, 401s), which must not slow
the response. Both go through one queue that a background task drains, writing up to
``batch_max`` events per transaction, so a thousand concurrent requests cost a handful of
transactions rather than a thousand.

Checkpoints: ``store`` places one at every multiple of ``checkpoint_every``; a timer adds one
of the head every ``checkpoint_interval_s`` when rows were added since the last, so the tail
nothing signed pins is seconds long. Each committed checkpoint goes to ``anchor``'s sender
too (when ``anchor_syslog`` is set), out of the database owner's reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.audit.anchor import AnchorSender
from appliance.audit.capture import event_to_row
from appliance.audit.checkpoint import Checkpoint, CheckpointSigner, signer_from_file
from appliance.audit.events import AuditEvent, EventType, Outcome
from appliance.audit.reconcile import interrupted_ends
from appliance.audit.store import RECONCILE_LOCK_KEY, append_locked, checkpoint_head_locked
from appliance.errors import AuditUnavailable
from appliance.settings import AuditSettings

log = logging.getLogger(__name__)

DB_ERRORS = (SQLAlchemyError, psycopg.Error, OSError, TimeoutError)
# A batch may also fail on one event that cannot be serialised; that must fail the batch
# (and be retried or reported), never kill the task that every request depends on.
BATCH_ERRORS = (*DB_ERRORS, ValueError, TypeError)
MAX_SUBMIT_ATTEMPTS = 5
MAX_QUEUE = 100_000
WRITE_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 2
PROBE_TIMEOUT_S = 2.0
# Inserts no row, but PostgreSQL still checks, at executor start, what a real append needs:
# INSERT on audit_events for this role, and a transaction that may write (not a read-only
# database or a standby). Rolled back, it leaves nothing behind and takes no chain lock.
_PROBE_SQL = text("INSERT INTO audit_events SELECT * FROM audit_events WHERE false")


@dataclass(frozen=True, slots=True)
class WriterStats:
    """A snapshot for /metrics."""

    queue_depth: int
    events_committed: int
    commit_failures: int
    batches: int
    events_dropped: int
    checkpoints: int
    anchors_sent: int
    anchor_send_failures: int
    anchors_dropped: int
    anchor_queue_depth: int


@dataclass(slots=True)
class _Pending:
    row: dict[str, Any]
    future: asyncio.Future[int] | None
    attempts: int = 0


class AuditWriter:
    """Appends events to the audit chain in batches; see the module docstring."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: AuditSettings,
        writer_id: str,
        *,
        signer: CheckpointSigner | None = None,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self.writer_id = writer_id
        self._signer = signer or signer_from_file(settings.checkpoint_key_file)
        if self._signer.key is None:
            log.warning("no audit checkpoint key configured: checkpoints are unsigned")
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue(MAX_QUEUE)
        self._task: asyncio.Task[None] | None = None
        self._committed = 0
        self._failures = 0
        self._batches = 0
        self._dropped = 0
        self._checkpoints = 0
        self._conn: psycopg.AsyncConnection[Any] | None = None
        # Whether the last batch failed to commit; cleared by the next one that commits.
        self._last_write_failed = False
        self._resuming = asyncio.Lock()
        # Durable commits waiting in the queue, and a signal for a lingering batch.
        self._commits_queued = 0
        self._commit_arrived = asyncio.Event()
        self._anchors = (
            AnchorSender(
                settings.anchor_syslog,
                ca_file=settings.anchor_ca_file,
                queue_max=settings.anchor_queue_max,
            )
            if settings.anchor_syslog
            else None
        )
        self._ticker: asyncio.Task[None] | None = None

    @property
    def stats(self) -> WriterStats:
        anchors = self._anchors.stats if self._anchors else None
        return WriterStats(
            queue_depth=self._queue.qsize(),
            events_committed=self._committed,
            commit_failures=self._failures,
            batches=self._batches,
            events_dropped=self._dropped,
            checkpoints=self._checkpoints,
            anchors_sent=anchors.sent if anchors else 0,
            anchor_send_failures=anchors.failures if anchors else 0,
            anchors_dropped=anchors.dropped if anchors else 0,
            anchor_queue_depth=anchors.queued if anchors else 0,
        )

    async def start(self) -> None:
        """Reconcile requests interrupted by dead writers of this host, then start draining."""
        if self._anchors is not None:
            self._anchors.start()
        try:
            reconciled = await self.reconcile_interrupted()
        except DB_ERRORS:
            log.exception("audit: reconciling interrupted requests failed; will retry next start")
        else:
            if reconciled:
                log.warning("audit: marked %d interrupted requests", reconciled)
        self._task = asyncio.create_task(self._drain(), name="audit-writer")
        if self._settings.checkpoint_interval_s > 0 and self._settings.checkpoint_every > 0:
            self._ticker = asyncio.create_task(self._tick(), name="audit-checkpoint-timer")

    async def stop(self) -> None:
        """Write everything still queued, then stop the background task."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
            await self._discard_connection()
        if self._anchors is not None:
            await self._anchors.stop()

    async def unready_reason(self) -> str | None:
        """Why events cannot be committed now, or None: for ``/readyz``.

        The writer is stopped, the store refuses a write (a rolled-back probe: the database
        is read-only, unreachable, or the role lacks INSERT), or its last batch failed and
        a real event still cannot be committed. That event (``system``, reason
        ``audit_writes_resumed``) is written only after a failure, and marks in the log
        where writing resumed; without it a failed gateway that gets no traffic would stay
        not-ready for ever.
        """
        if self._task is None or self._task.done():
            return "audit_writer_stopped"
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S), self._engine.connect() as conn:
                await conn.execute(_PROBE_SQL)
                await conn.rollback()
        except DB_ERRORS as exc:
            log.warning("audit: the store refuses writes: %s", exc)
            return "audit_store_refuses_writes"
        async with self._resuming:
            if self._last_write_failed:
                resumed = AuditEvent(
                    EventType.SYSTEM,
                    Outcome.OK,
                    request_id=str(uuid.uuid4()),
                    detail={"reason": "audit_writes_resumed"},
                )
                try:
                    await self.commit(resumed)
                except AuditUnavailable:
                    return "audit_last_write_failed"
        return None

    def _row(self, event: AuditEvent) -> dict[str, Any]:
        return event_to_row(event, mode=self._settings.capture, writer_id=self.writer_id)

    async def commit(self, event: AuditEvent) -> int:
        """Store ``event`` durably and return its seq, or raise ``AuditUnavailable``."""
        if self._task is None or self._task.done():
            raise AuditUnavailable("audit log is not running")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Pending(self._row(event), future))
        except asyncio.QueueFull:
            self._failures += 1
            raise AuditUnavailable("audit log is overloaded") from None
        self._commits_queued += 1
        self._commit_arrived.set()
        try:
            return await asyncio.wait_for(
                asyncio.shield(future), timeout=self._settings.commit_timeout_s
            )
        except TimeoutError:
            # Not yet written: cancelling drops it from its batch, so a refused request
            # leaves no "begin" behind it.
            future.cancel()
            self._failures += 1
            raise AuditUnavailable("audit log did not commit in time") from None

    def submit(self, event: AuditEvent) -> None:
        """Queue ``event`` without waiting; failures are retried, then counted and logged."""
        try:
            self._queue.put_nowait(_Pending(self._row(event), None))
        except asyncio.QueueFull:
            self._dropped += 1
            log.error("audit queue full: dropped %s %s", event.event_type, event.request_id)

    def _take_batch(self, first: _Pending) -> tuple[list[_Pending], bool]:
        batch = [first]
        stopping = False
        while len(batch) < self._settings.batch_max and not self._queue.empty():
            item = self._queue.get_nowait()
            if item is None:
                stopping = True
                break
            batch.append(item)
        self._commits_queued -= sum(1 for p in batch if p.future is not None)
        return [p for p in batch if p.future is None or not p.future.done()], stopping

    async def _linger(self) -> None:
        """Hold a batch of submitted events until a durable commit can carry them.

        Under light load every request submits its "end" just before the next request
        commits its "begin"; writing them in one transaction halves the fsyncs and keeps
        the "begin" from queueing behind a batch of ends. Bounded by submit_linger_ms.
        """
        if self._commits_queued > 0 or self._settings.submit_linger_ms <= 0:
            return
        self._commit_arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                self._commit_arrived.wait(), timeout=self._settings.submit_linger_ms / 1000
            )

    async def _drain(self) -> None:
        stopping = False
        while not stopping or not self._queue.empty():
            first = await self._queue.get()
            if first is None:
                stopping = True
                continue
            if first.future is None:
                await self._linger()
            elif self._queue.empty() and self._settings.batch_wait_ms > 0:
                await asyncio.sleep(self._settings.batch_wait_ms / 1000)
            batch, stop_seen = self._take_batch(first)
            stopping = stopping or stop_seen
            if batch:
                await self._write_batch(batch, final=stopping)

    async def _write_batch(self, batch: list[_Pending], *, final: bool) -> None:
        try:
            seqs = await asyncio.wait_for(
                self._append([p.row for p in batch]), timeout=WRITE_TIMEOUT_S
            )
        except BATCH_ERRORS as exc:
            self._failures += 1
            self._last_write_failed = True
            log.error("audit batch of %d failed: %s", len(batch), exc)
            await self._retry_or_fail(batch, final=final)
            return
        self._batches += 1
        self._last_write_failed = False
        self._committed += len(batch)
        for pending, seq in zip(batch, seqs, strict=True):
            if pending.future is not None and not pending.future.done():
                pending.future.set_result(seq)

    async def _retry_or_fail(self, batch: list[_Pending], *, final: bool) -> None:
        retry = False
        for pending in batch:
            pending.attempts += 1
            if pending.future is not None:
                if not pending.future.done():
                    pending.future.set_exception(AuditUnavailable("audit log write failed"))
                    # The waiter may already have given up; don't warn about it.
                    pending.future.exception()
            elif pending.attempts < MAX_SUBMIT_ATTEMPTS and not final:
                self._queue.put_nowait(pending)
                retry = True
            else:
                self._dropped += 1
                log.error("audit event %s lost after retries", pending.row["request_id"])
        if retry:
            await asyncio.sleep(min(0.05 * 2 ** max(p.attempts for p in batch), 1.0))

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        """The writer's own connection, opened on first use and after any failure.

        A dedicated connection skips the pool's checkout and pre-ping round trips on the
        path every audited request waits on.
        """
        if self._conn is None or self._conn.closed:
            url = self._engine.url.set(drivername="postgresql")
            self._conn = await psycopg.AsyncConnection.connect(
                url.render_as_string(hide_password=False),
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name="appliance-audit",
            )
        return self._conn

    async def _append(self, rows: list[dict[str, Any]]) -> list[int]:
        """One batch in one transaction, whatever its size.

        Not pipelined: psycopg's pipeline mode measured slower here (its result loop costs
        more CPU than the round trips it saves on loopback).
        """
        pg = await self._connection()
        try:
            async with pg.transaction(), pg.cursor() as cur:
                seqs, checkpoints = await append_locked(
                    cur,
                    rows,
                    hash_alg=str(self._settings.chain_hash),
                    signer=self._signer,
                    checkpoint_every=self._settings.checkpoint_every,
                )
        except BaseException:
            await self._discard_connection()
            raise
        self._committed_checkpoints(checkpoints)
        return seqs

    def _committed_checkpoints(self, checkpoints: list[Checkpoint]) -> None:
        """Count checkpoints once their transaction committed, and anchor them: an anchor
        of a rolled-back checkpoint would accuse an intact chain."""
        self._checkpoints += len(checkpoints)
        if self._anchors is not None:
            for checkpoint in checkpoints:
                self._anchors.send(checkpoint)

    async def checkpoint_head(self) -> Checkpoint | None:
        """Checkpoint the head now if rows were added since the last checkpoint."""
        async with self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            pg: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
            async with pg.transaction(), pg.cursor() as cur:
                checkpoint = await checkpoint_head_locked(cur, signer=self._signer)
        if checkpoint is not None:
            self._committed_checkpoints([checkpoint])
        return checkpoint

    async def _tick(self) -> None:
        """The timed checkpoint; a failure is logged and the next tick tries again."""
        while True:
            await asyncio.sleep(self._settings.checkpoint_interval_s)
            try:
                await asyncio.wait_for(self.checkpoint_head(), timeout=WRITE_TIMEOUT_S)
            except (*BATCH_ERRORS, RuntimeError) as exc:
                log.error("audit: timed checkpoint failed: %s", exc)

    async def _discard_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def reconcile_interrupted(self) -> int:
        """Close "begin" events whose writer on this host died before writing their "end"."""
        async with self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            pg: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
            async with pg.transaction(), pg.cursor() as cur:
                # Only one process of this host reconciles at a time: no duplicate ends.
                await cur.execute("SELECT pg_advisory_xact_lock(%s)", (RECONCILE_LOCK_KEY,))
                events = await interrupted_ends(cur, reconciler=self.writer_id)
                if not events:
                    return 0
                rows = [self._row(event) for event in events]
                _, checkpoints = await append_locked(
                    cur,
                    rows,
                    hash_alg=str(self._settings.chain_hash),
                    signer=self._signer,
                    checkpoint_every=self._settings.checkpoint_every,
                )
        self._committed_checkpoints(checkpoints)
        self._committed += len(rows)
        return len(rows)
