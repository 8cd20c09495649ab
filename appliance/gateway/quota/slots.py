"""Concurrency slots leased in PostgreSQL, so a per-user cap holds across every gateway.

Each admitted chat leases one of its user's numbered slots ``0 .. limit-1`` in the
``admission_slots`` table, which every worker of every gateway on the same database
shares: a user with a limit of 2 gets 2 chats open in all, however many processes serve
them. Why a lease table rather than a session-level advisory lock held for the stream: a
lock must stay on its own connection for the whole chat, so the connections needed grow
with the chats open (per_user_concurrency × users, beyond PostgreSQL's
``max_connections``), while a lease costs two short statements and no held connection.

- **Claim** (in :meth:`SlotLeases.claim`): one statement, in autocommit, inserts the
  lowest free slot or takes over an expired one; the primary key ``(subject, slot)`` lets
  only one of two concurrent claims of a slot in, and the loser tries the next free one,
  so the cap is never exceeded and a free slot is never refused. No lock is held across
  statements and no connection is kept for the chat. Leases need not survive a crash of
  the database, so their commits skip the WAL flush (``synchronous_commit`` off). Cost
  on the hot path, from ``python -m bench.perf.admission_slots`` on the 2-core
  development machine with other test suites running (load average 7): a claim 1.1 ms
  median (2.2 ms p99), a release 1.3 ms off the chat's path, eight claims at once for
  one user 8 ms median. Figures for scale, not targets.
- **Release**: the row is deleted as soon as the chat ends (done, client gone, backend
  died, bug: :class:`~appliance.gateway.chat.relay.ChatExchange` releases exactly once).
  The delete runs in the background so the end of a chat never waits on the database; a
  claim that finds the user full first waits for this process's pending deletes, then
  asks once more after a short grace for another process's (``RELEASE_GRACE_S`` in
  :mod:`~appliance.gateway.quota.admission`).
- **Heartbeat**: every ``lease_s / 3`` one UPDATE pushes the expiry of all leases this
  process holds. A process killed with ``kill -9`` stops renewing, and its slots come back
  at most ``lease_s`` later (``limits.concurrency_lease_s``). A delete that failed is
  no longer renewed either, so it lapses the same way.
- **Database down or hung**: a claim that fails or takes longer than ``timeout_s`` is a
  503 (``audit_unavailable``, like the usage read before it), never an unlimited admit.
  A heartbeat that fails is logged and retried; leases it could not renew may lapse, so
  during an outage longer than ``lease_s`` a user could briefly hold more than the cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.errors import AuditUnavailable

log = logging.getLogger("appliance.gateway.quota")

# A lease need not survive a crash of the database (the chats it counted die with their
# connections), so its commits do not wait for the WAL to reach the disk.
_NO_FSYNC = text("SET LOCAL synchronous_commit TO off")
# The lowest slot that is free (never taken, or expired) and the outcome of taking it:
# ``candidates`` 0 means the subject holds them all; 1 with no ``slot`` means a concurrent
# claim took that slot first (the primary key let only one in), so try again.
_CLAIM = text(
    """
    WITH no_fsync AS (
        -- The statement's own transaction commits without waiting for the WAL flush.
        SELECT set_config('synchronous_commit', 'off', true) AS setting
    ), live AS (
        SELECT slot FROM admission_slots
        WHERE subject = :subject AND expires_at > clock_timestamp()
    ), pick AS (
        -- The lowest free slot is 0 or just above a live one: the work grows with the
        -- chats the user has open, not with the limit.
        SELECT n FROM (SELECT 0 AS n UNION SELECT slot + 1 FROM live) AS candidate
        WHERE n < CAST(:limit AS integer) AND n NOT IN (SELECT slot FROM live)
        ORDER BY n
        LIMIT 1
    ), taken AS (
        INSERT INTO admission_slots AS s (subject, slot, holder, lease_id, expires_at)
        SELECT :subject, n, :holder, :lease_id,
               clock_timestamp() + make_interval(secs => :lease_s)
        FROM pick
        ON CONFLICT (subject, slot) DO UPDATE
            SET holder = excluded.holder, lease_id = excluded.lease_id,
                expires_at = excluded.expires_at
            WHERE s.expires_at <= clock_timestamp()
        RETURNING slot
    )
    SELECT (SELECT count(*) FROM pick) AS candidates, (SELECT slot FROM taken) AS slot,
           (SELECT setting FROM no_fsync) AS synchronous_commit
    """
).bindparams(bindparam("lease_id", type_=UUID(as_uuid=True)))
_DELETE = text("DELETE FROM admission_slots WHERE lease_id = ANY(:ids)").bindparams(
    bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))
)
_RENEW = text(
    "UPDATE admission_slots SET expires_at = clock_timestamp() + make_interval(secs => :lease_s)"
    " WHERE lease_id = ANY(:ids)"
).bindparams(bindparam("ids", type_=ARRAY(UUID(as_uuid=True))))

_T = TypeVar("_T")


class SlotLeases:
    """The ``admission_slots`` leases of one gateway process."""

    def __init__(
        self, engine: AsyncEngine, *, holder: str, lease_s: float, timeout_s: float = 2.0
    ) -> None:
        self._engine = engine
        self._holder = holder
        self._lease_s = lease_s
        self._timeout_s = timeout_s
        self._held: set[uuid.UUID] = set()
        self._releasing: set[asyncio.Task[None]] = set()
        self._abandoned: set[asyncio.Task[object]] = set()
        self._heartbeat: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._heartbeat = asyncio.create_task(self._renew_loop(), name="admission-heartbeat")

    async def stop(self) -> None:
        """Stop renewing and give back every lease still held (a clean shutdown's slots
        come back at once; a crash's after ``lease_s``)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        await self.settle()
        if self._held:
            held, self._held = list(self._held), set()
            with contextlib.suppress(SQLAlchemyError, OSError, TimeoutError):
                await asyncio.wait_for(self._execute(_DELETE, ids=held), self._timeout_s)

    async def claim(self, subject: str, limit: int) -> uuid.UUID | None:
        """Lease one of ``subject``'s ``limit`` slots; None when all are taken."""
        lease_id = uuid.uuid4()
        params = {
            "subject": subject,
            "holder": self._holder,
            "lease_id": lease_id,
            "lease_s": float(self._lease_s),
            "limit": limit,
        }

        async def run() -> bool:
            # Each try is its own statement, so it sees the slots that earlier tries lost
            # to; a try loses only to a claim that succeeded, so ``limit`` + 1 suffice.
            # One statement per try, in autocommit: the fewest round trips on the hot path.
            async with self._engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                for _ in range(limit + 1):
                    outcome = (await conn.execute(_CLAIM, params)).one()
                    if outcome.slot is not None:
                        return True
                    if outcome.candidates == 0:
                        return False
            return False

        if not await self._bounded(run):
            return None
        self._held.add(lease_id)
        return lease_id

    def release(self, lease: object) -> None:
        """Give the lease back; the delete runs in the background."""
        if not isinstance(lease, uuid.UUID):
            raise TypeError(f"not a lease of this store: {lease!r}")
        lease_id = lease
        self._held.discard(lease_id)
        task = asyncio.ensure_future(self._delete(lease_id))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def settle(self) -> bool:
        """Wait for this process's pending releases to reach the database; True if any."""
        if not self._releasing:
            return False
        await asyncio.wait(set(self._releasing), timeout=self._timeout_s)
        return True

    async def _delete(self, lease_id: uuid.UUID) -> None:
        try:
            await asyncio.wait_for(self._execute(_DELETE, ids=[lease_id]), self._timeout_s)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            # Not renewed any more, so the row lapses within lease_s.
            log.warning("could not release admission slot %s: %s", lease_id, exc)

    async def _execute(self, statement: object, **params: object) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(_NO_FSYNC)
            await conn.execute(statement, params)  # type: ignore[call-overload]

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self._lease_s / 3)
            if not self._held:
                continue
            try:
                await asyncio.wait_for(
                    self._execute(_RENEW, ids=list(self._held), lease_s=float(self._lease_s)),
                    self._timeout_s,
                )
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                log.warning("could not renew admission slots: %s", exc)

    async def _bounded(self, work: Callable[[], Awaitable[_T]]) -> _T:
        """``work()`` within ``timeout_s``, or 503. Like the usage read, a claim that times
        out is left to finish on its own rather than cancelled: giving a hung connection
        back to the pool would hang as well. A claim that succeeds after its timeout is
        not renewed, so its row lapses within ``lease_s``."""
        task: asyncio.Task[_T] = asyncio.ensure_future(work())
        try:
            done, _ = await asyncio.wait({task}, timeout=self._timeout_s)
            if task in done:
                return task.result()
        except (SQLAlchemyError, OSError) as exc:
            raise AuditUnavailable(
                "The database cannot be reached to count open requests; try again shortly."
            ) from exc
        self._abandoned.add(task)
        task.add_done_callback(self._forget)
        raise AuditUnavailable("The database did not answer in time; try again shortly.")

    def _forget(self, task: asyncio.Task[object]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled():
            task.exception()
