"""Verifying the live chain in PostgreSQL (streamed) or a ``pg_dump`` copy (offline).

Each entry point takes the trusted public keys, the writer's ``checkpoint_every``, the
explicit ``skip_signatures`` switch and the anchors read back from outside the database
(``appliance.audit.anchor``), and hands them to ``verify_rows`` unchanged.

Rows archived out of the database (``appliance.audit.retention``) are named by the newest
``audit.archive`` event of the live chain. Given the archive directory, their files are
checked and walked before the live rows; without it, the walk starts where that event says
the archives end, so the live chain is still checked to continue them exactly.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg.rows import dict_row
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.audit.anchor import Anchor
from appliance.audit.archive import ArchiveError, archived_rows, check_archives
from appliance.audit.chain import STORED_FIELDS
from appliance.audit.checkpoint import key_ring
from appliance.audit.dump import read_dump
from appliance.audit.events import EventType
from appliance.audit.verify import (
    DEFAULT_CHECKPOINT_EVERY,
    Reason,
    RowLike,
    VerifyReport,
    verify_rows,
)

_ROWS_SQL = f"SELECT {', '.join(STORED_FIELDS)} FROM audit_events ORDER BY seq"  # noqa: S608
_CHECKPOINTS_SQL = (
    "SELECT seq, head_hash, created_at, signature, key_fingerprint, alg "
    "FROM audit_checkpoints ORDER BY seq"
)
_LAST_ARCHIVE_SQL = (
    "SELECT seq, detail FROM audit_events WHERE event_type = %s ORDER BY seq DESC LIMIT 1"
)


def _archive_start(record: Mapping[str, Any] | None) -> dict[str, Any]:
    """Where the live chain starts, from the newest ``audit.archive`` row (seq, detail)."""
    if record is None:
        return {}
    detail = record["detail"]
    return {
        "start": (int(detail["last_seq"]), str(detail["last_hash"])),
        "start_recorded_at": int(record["seq"]),
    }


def _verify_with_archives(
    rows: Iterator[RowLike],
    last_archive: Mapping[str, Any] | None,
    archive_dir: Path | None,
    *,
    public_keys: list[Ed25519PublicKey],
    skip_signatures: bool,
    **options: Any,
) -> VerifyReport:
    """Walk the archives' rows then ``rows``, or ``rows`` from where the archives end."""
    if archive_dir is None:
        try:
            start = _archive_start(last_archive)
        except (KeyError, TypeError, ValueError):
            seq = None if last_archive is None else last_archive.get("seq")
            message = f"the archive record at seq {seq} does not say where the archives end"
            return VerifyReport(
                ok=False,
                count=0,
                first_bad_seq=seq,
                reason=Reason.ARCHIVE,
                message=message,
                signatures_skipped=skip_signatures,
            )
        return verify_rows(
            rows, public_keys=public_keys, skip_signatures=skip_signatures, **start, **options
        )
    try:
        manifests = check_archives(
            archive_dir,
            key_ring(public_keys),
            skip_signatures=skip_signatures,
            last_recorded="" if last_archive is None else str(last_archive["detail"]["file"]),
        )
        report = verify_rows(
            itertools.chain(archived_rows(archive_dir, manifests), rows),
            public_keys=public_keys,
            skip_signatures=skip_signatures,
            **options,
        )
    except (ArchiveError, OSError, ValueError, KeyError) as exc:
        return VerifyReport(
            ok=False,
            count=0,
            reason=Reason.ARCHIVE,
            message=str(exc),
            signatures_skipped=skip_signatures,
        )
    report.archives = len(manifests)
    report.archived_through = manifests[-1].last_seq if manifests else 0
    return report


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
    archive_dir: Path | None = None,
) -> VerifyReport:
    """Verify the chain at ``url``; rows stream through a server-side cursor."""
    with psycopg.connect(libpq_url(url), row_factory=dict_row, connect_timeout=5) as conn:
        # One snapshot for checkpoints and rows, so concurrent appends cannot confuse them.
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        checkpoints = conn.execute(_CHECKPOINTS_SQL).fetchall()
        last = conn.execute(_LAST_ARCHIVE_SQL, (str(EventType.AUDIT_ARCHIVE),)).fetchone()
        with conn.cursor(name="audit_verify") as cur:
            cur.itersize = 2000
            cur.execute(_ROWS_SQL)
            return _verify_with_archives(
                iter(cur),
                last,
                archive_dir,
                public_keys=list(public_keys),
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
    archive_dir: Path | None = None,
) -> VerifyReport:
    """Verify a plain-SQL ``pg_dump`` copy, offline, exactly as the live chain."""
    events, checkpoints = read_dump(path)
    archive = str(EventType.AUDIT_ARCHIVE)
    last = next((e for e in reversed(events) if e["event_type"] == archive), None)
    return _verify_with_archives(
        iter(events),
        last,
        archive_dir,
        public_keys=list(public_keys),
        checkpoints=checkpoints,
        checkpoint_every=checkpoint_every,
        skip_signatures=skip_signatures,
        anchors=anchors,
    )
