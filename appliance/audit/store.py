"""The one place that appends to the chain, inside a caller's transaction.

Every writer, in every gateway process on every host, goes through ``append_locked``: it
takes a transaction-scoped advisory lock, reads the head, numbers and hashes the new rows
and inserts them with a single multi-row INSERT. The lock makes appends from all writers
one total order; it is released by the COMMIT, so a crashed writer never leaves it held.
``checkpoint_head_locked`` takes the same lock to sign the head between the multiples of
``checkpoint_every`` (the writer's timer), so a checkpoint always names a committed head.
Raw psycopg is used on purpose: this is the hot path of every audited request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncCursor
from psycopg.types.json import Jsonb

from appliance.audit.chain import GENESIS_HASH, STORED_FIELDS, seal
from appliance.audit.checkpoint import Checkpoint, CheckpointSigner

CHAIN_LOCK_KEY = int.from_bytes(b"auditlog", "big")
RECONCILE_LOCK_KEY = int.from_bytes(b"auditrec", "big")

_COLUMNS = ", ".join(STORED_FIELDS)
_ROW_PLACEHOLDERS = "(" + ", ".join(["%s"] * len(STORED_FIELDS)) + ")"
_HEAD_SQL = (
    "SELECT clock_timestamp(), h.seq, h.row_hash FROM (SELECT 1) AS one "
    "LEFT JOIN (SELECT seq, row_hash FROM audit_events ORDER BY seq DESC LIMIT 1) AS h ON true"
)
_LAST_CHECKPOINT_SQL = "SELECT coalesce(max(seq), 0) FROM audit_checkpoints"
_CHECKPOINT_SQL = (
    "INSERT INTO audit_checkpoints (seq, head_hash, created_at, signature, key_fingerprint, alg) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)


def _params(row: dict[str, Any]) -> list[Any]:
    return [Jsonb(row[name]) if name == "detail" else row[name] for name in STORED_FIELDS]


async def _lock_head(cur: AsyncCursor[Any]) -> tuple[datetime, int, str]:
    """Take the chain lock; (database time, head seq, head hash) under it."""
    await cur.execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK_KEY,))
    # A new statement after the lock: under READ COMMITTED it sees the previous holder's rows.
    await cur.execute(_HEAD_SQL)
    head = await cur.fetchone()
    if head is None:
        raise RuntimeError("head query returned no row")
    last_seq = int(head[1]) if head[1] is not None else 0
    return head[0], last_seq, str(head[2]) if head[2] is not None else GENESIS_HASH


async def _insert_checkpoint(
    cur: AsyncCursor[Any], signer: CheckpointSigner, seq: int, head_hash: str, now: datetime
) -> Checkpoint:
    checkpoint = Checkpoint.signed(signer, seq, head_hash, now)
    await cur.execute(
        _CHECKPOINT_SQL,
        (seq, head_hash, now, checkpoint.signature, checkpoint.key_fingerprint, checkpoint.alg),
    )
    return checkpoint


async def append_locked(
    cur: AsyncCursor[Any],
    rows: list[dict[str, Any]],
    *,
    hash_alg: str,
    signer: CheckpointSigner,
    checkpoint_every: int,
) -> tuple[list[int], list[Checkpoint]]:
    """Append ``rows`` (unsealed) to the chain; returns (their seqs, checkpoints written).

    Must run inside a transaction; the caller commits. ``rows`` are completed in place.
    """
    now, last_seq, prev_hash = await _lock_head(cur)
    for row in rows:
        row["created_at"] = now
        row["hash_alg"] = hash_alg
    seal(rows, first_seq=last_seq + 1, prev_hash=prev_hash)
    values = ", ".join([_ROW_PLACEHOLDERS] * len(rows))
    params = [value for row in rows for value in _params(row)]
    await cur.execute(f"INSERT INTO audit_events ({_COLUMNS}) VALUES {values}", params)  # noqa: S608
    checkpoints = []
    if checkpoint_every > 0:
        for row in rows:
            if row["seq"] % checkpoint_every == 0:
                checkpoints.append(
                    await _insert_checkpoint(cur, signer, row["seq"], row["row_hash"], now)
                )
    return [row["seq"] for row in rows], checkpoints


async def checkpoint_head_locked(
    cur: AsyncCursor[Any], *, signer: CheckpointSigner
) -> Checkpoint | None:
    """Checkpoint the head when rows were added since the last checkpoint, else None.

    The timed checkpoint (``audit.checkpoint_interval_s``): it pins a tail that has not yet
    reached the next multiple of ``checkpoint_every``. Every gateway process runs it; under
    the chain lock only the first one after new rows writes. Must run inside a transaction.
    """
    now, head_seq, head_hash = await _lock_head(cur)
    await cur.execute(_LAST_CHECKPOINT_SQL)
    last = await cur.fetchone()
    if head_seq == 0 or (last is not None and int(last[0]) >= head_seq):
        return None
    return await _insert_checkpoint(cur, signer, head_seq, head_hash, now)
