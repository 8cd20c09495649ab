"""Verifying the live chain in PostgreSQL (streamed) or a ``pg_dump`` copy (offline).

Each entry point takes the trusted public keys, the writer's ``checkpoint_every``, the
explicit ``skip_signatures`` switch and the anchors read back from outside the database
(``appliance.audit.anchor``), and hands them to ``verify_rows`` unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg.rows import dict_row
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.audit.anchor import Anchor
from appliance.audit.chain import STORED_FIELDS
from appliance.audit.dump import read_dump
from appliance.audit.verify import DEFAULT_CHECKPOINT_EVERY, VerifyReport, verify_rows

_ROWS_SQL = f"SELECT {', '.join(STORED_FIELDS)} FROM audit_events ORDER BY seq"  # noqa: S608
_CHECKPOINTS_SQL = (
    "SELECT seq, head_hash, created_at, signature, key_fingerprint, alg "
    "FROM audit_checkpoints ORDER BY seq"
)


def libpq_url(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://...`` as a libpq connection URL."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def verify_url(
    url: str,
    *,
    public_keys: Iterable[Ed25519PublicKey] = (),
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    skip_signatures: bool = False,
    anchors: Iterable[Anchor] = (),
) -> VerifyReport:
    """Verify the chain at ``url``; rows stream through a server-side cursor."""
    with psycopg.connect(libpq_url(url), row_factory=dict_row, connect_timeout=5) as conn:
        # One snapshot for checkpoints and rows, so concurrent appends cannot confuse them.
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        checkpoints = conn.execute(_CHECKPOINTS_SQL).fetchall()
        with conn.cursor(name="audit_verify") as cur:
            cur.itersize = 2000
            cur.execute(_ROWS_SQL)
            return verify_rows(
                cur,
                public_keys=public_keys,
                checkpoints=checkpoints,
                checkpoint_every=checkpoint_every,
                skip_signatures=skip_signatures,
                anchors=anchors,
            )


async def verify_database(
    engine: AsyncEngine,
    *,
    public_keys: Iterable[Ed25519PublicKey] = (),
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    skip_signatures: bool = False,
    anchors: Iterable[Anchor] = (),
) -> VerifyReport:
    """Verify the chain the engine points at, off the event loop."""
    url = engine.url.render_as_string(hide_password=False)
    return await asyncio.to_thread(
        verify_url,
        url,
        public_keys=list(public_keys),
        checkpoint_every=checkpoint_every,
        skip_signatures=skip_signatures,
        anchors=list(anchors),
    )


def verify_dump(
    path: Path,
    *,
    public_keys: Iterable[Ed25519PublicKey] = (),
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    skip_signatures: bool = False,
    anchors: Iterable[Anchor] = (),
) -> VerifyReport:
    """Verify a plain-SQL ``pg_dump`` copy, offline, exactly as the live chain."""
    events, checkpoints = read_dump(path)
    return verify_rows(
        events,
        public_keys=public_keys,
        checkpoints=checkpoints,
        checkpoint_every=checkpoint_every,
        skip_signatures=skip_signatures,
        anchors=anchors,
    )
