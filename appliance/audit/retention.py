"""Audit retention: rows past ``audit.retention_days`` leave the database for signed archives.

Nothing is deleted unarchived. ``archive_expired`` (``appliance audit archive``) picks the
newest checkpoint whose row is older than the policy, checks the rows up to it (hashes,
links, the checkpoint's signature: an archive must not sign a chain that no longer
verifies), writes them to an archive file with its signed manifest
(``appliance.audit.archive``), and only then, in one transaction, appends an
``audit.archive`` event naming the file and deletes those rows. The event is appended
first, so the live chain is never empty and always names its newest archive, which is how
``appliance audit verify`` tells where the live chain must start. The checkpoints that
transaction signs go, once it has committed, to the same syslog anchor as the gateway's
(``audit.anchor_syslog``, through ``anchor.send_once``); the run reports those the receiver
did not take.

It connects with the migrations' login, which acts as the tables' NOLOGIN owner
(``appliance.db.roles``): the append-only trigger lets that role alone delete, and only up
to the seq its transaction declares archived. No runtime login may delete an audit row.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row, tuple_row

from appliance.audit.anchor import parse_target, send_once
from appliance.audit.archive import (
    ArchiveWriter,
    Manifest,
    archive_name,
    check_archives,
    file_sha256,
    manifest_path,
    write_manifest,
)
from appliance.audit.capture import event_to_row
from appliance.audit.chain import GENESIS_HASH, STORED_FIELDS, row_hash
from appliance.audit.checkpoint import (
    UNSIGNED,
    Checkpoint,
    CheckpointSigner,
    key_ring,
    signature_valid,
)
from appliance.audit.events import Actor, AuditEvent, EventType, Outcome
from appliance.audit.identity import default_writer_id
from appliance.audit.store import append_locked, checkpoint_head_locked
from appliance.settings import AuditSettings

ARCHIVED_THROUGH = "appliance.audit_archived_through"
_BOUNDARY_SQL = (
    "SELECT c.seq, c.head_hash, c.created_at, c.signature, c.key_fingerprint, c.alg "
    "FROM audit_checkpoints c JOIN audit_events e ON e.seq = c.seq "
    "WHERE e.created_at < now() - make_interval(days => %s) ORDER BY c.seq DESC LIMIT 1"
)
_ROWS_SQL = (
    f"SELECT {', '.join(STORED_FIELDS)} FROM audit_events "  # noqa: S608
    "WHERE seq <= %s ORDER BY seq"
)


_FIRST_SQL = (
    "SELECT (SELECT min(seq) FROM audit_events) AS first, (SELECT detail FROM audit_events "
    "WHERE event_type = %s ORDER BY seq DESC LIMIT 1) AS detail"
)


class RetentionError(RuntimeError):
    """Archiving refused; nothing was deleted."""


@dataclass(frozen=True, slots=True)
class ArchiveRun:
    """One archive written and its rows removed; ``event_seq`` is its ``audit.archive`` row,
    ``checkpoints`` those its transaction signed, ``unanchored`` those of them the anchor
    receiver did not take (none when every one was sent, or no anchor is configured)."""

    archive: Path
    manifest: Manifest
    event_seq: int
    checkpoints: tuple[Checkpoint, ...] = ()
    unanchored: tuple[Checkpoint, ...] = ()


def _trusted(signer: CheckpointSigner, checkpoint: dict[str, Any]) -> bool:
    """The boundary's checkpoint is signed by the key that signs the manifest (or, in
    development with no key, unsigned)."""
    if signer.key is None:
        return bool(checkpoint["alg"] == UNSIGNED)
    return signature_valid(
        key_ring([signer.key.public_key()]),
        seq=int(checkpoint["seq"]),
        head_hash=str(checkpoint["head_hash"]),
        created_at=checkpoint["created_at"],
        signature=str(checkpoint["signature"]),
        key_fingerprint=str(checkpoint["key_fingerprint"]),
    )


async def _checked_rows(
    conn: psycopg.AsyncConnection[Any], boundary: int, start: tuple[int, str]
) -> AsyncIterator[dict[str, Any]]:
    """The rows up to ``boundary``, each checked to hash and link from ``start``."""
    prev_seq, prev_hash = start
    async with conn.cursor(name="audit_archive", row_factory=dict_row) as cur:
        await cur.execute(_ROWS_SQL, (boundary,))
        async for row in cur:
            if (
                int(row["seq"]) != prev_seq + 1
                or row["prev_hash"] != prev_hash
                or row_hash(row) != row["row_hash"]
            ):
                raise RetentionError(
                    f"the chain does not verify at seq {prev_seq + 1}; nothing archived "
                    "(run appliance audit verify)"
                )
            prev_seq, prev_hash = int(row["seq"]), str(row["row_hash"])
            yield row


async def _write_files(
    conn: psycopg.AsyncConnection[Any],
    directory: Path,
    checkpoint: dict[str, Any],
    previous: Manifest | None,
    signer: CheckpointSigner,
) -> tuple[Path, Manifest]:
    boundary = int(checkpoint["seq"])
    start = (0, GENESIS_HASH) if previous is None else (previous.last_seq, previous.last_hash)
    path = directory / archive_name(start[0] + 1, boundary)
    writer = ArchiveWriter(path)
    try:
        async for row in _checked_rows(conn, boundary, start):
            writer.write(row)
        if writer.count != boundary - start[0] or writer.last_hash != checkpoint["head_hash"]:
            raise RetentionError(f"rows up to {boundary} do not end at their checkpoint's head")
    except BaseException:
        writer.discard()
        raise
    writer.finish()
    manifest = Manifest(
        file=path.name,
        first_seq=start[0] + 1,
        last_seq=boundary,
        rows=writer.count,
        prev_hash=writer.prev_hash,
        first_hash=writer.first_hash,
        last_hash=writer.last_hash,
        sha256=file_sha256(path),
        previous_file="" if previous is None else previous.file,
        created_at=datetime.now(UTC).isoformat(),
        key_fingerprint="",
        alg="",
    ).signed(signer)
    write_manifest(path, manifest)
    return path, manifest


def _archive_event(manifest: Manifest, retention_days: int, operator: str) -> AuditEvent:
    return AuditEvent(
        event_type=EventType.AUDIT_ARCHIVE,
        outcome=Outcome.OK,
        request_id=f"archive-{uuid.uuid4().hex}",
        actor=Actor(username=operator, client_id="appliance-cli"),
        detail={
            "file": manifest.file,
            "first_seq": manifest.first_seq,
            "last_seq": manifest.last_seq,
            "rows": manifest.rows,
            "last_hash": manifest.last_hash,
            "sha256": manifest.sha256,
            "retention_days": retention_days,
        },
    )


async def _remove(
    conn: psycopg.AsyncConnection[Any],
    manifest: Manifest,
    settings: AuditSettings,
    signer: CheckpointSigner,
    operator: str,
) -> tuple[int, list[Checkpoint]]:
    """Append the ``audit.archive`` event and delete the archived rows, in one transaction;
    the event's seq and the checkpoints signed."""
    row = event_to_row(
        _archive_event(manifest, settings.retention_days, operator),
        mode=settings.capture,
        writer_id=default_writer_id(),
    )
    async with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(
            "SELECT set_config(%s, %s, true)", (ARCHIVED_THROUGH, str(manifest.last_seq))
        )
        seqs, checkpoints = await append_locked(
            cur,
            [row],
            hash_alg=str(settings.chain_hash),
            signer=signer,
            checkpoint_every=settings.checkpoint_every,
        )
        # Pinned at once: verification trusts where the record says the live chain starts
        # only under a signed checkpoint.
        head = await checkpoint_head_locked(cur, signer=signer)
        await cur.execute("DELETE FROM audit_events WHERE seq <= %s", (manifest.last_seq,))
        if cur.rowcount != manifest.rows:
            raise RetentionError(
                f"{cur.rowcount} rows matched for deletion, {manifest.rows} archived; rolled back"
            )
    return seqs[0], [*checkpoints, *([] if head is None else [head])]


def archive_expired(
    url: str,
    directory: Path,
    settings: AuditSettings,
    *,
    signer: CheckpointSigner,
    operator: str,
) -> ArchiveRun | None:
    """Archive and remove the rows older than ``settings.retention_days``, up to the newest
    checkpoint among them; None when no checkpoint is that old (nothing to do).

    ``url``: a libpq URL of the migrations' login. ``directory`` holds the earlier archives,
    whose newest must end where the live chain starts.
    """
    if settings.anchor_syslog:
        # A target the sender cannot use is refused before anything is archived, as it
        # keeps the gateway from starting.
        try:
            parse_target(settings.anchor_syslog)
        except ValueError as exc:
            raise RetentionError(f"audit.anchor_syslog: {exc}") from exc
    directory.mkdir(parents=True, exist_ok=True)
    ring = {} if signer.key is None else key_ring([signer.key.public_key()])
    previous_runs = check_archives(directory, ring, skip_signatures=signer.key is None)
    previous = previous_runs[-1] if previous_runs else None
    return asyncio.run(_archive(url, directory, settings, previous, signer, operator))


async def _archive(  # noqa: PLR0917 - the run's inputs, passed on once
    url: str,
    directory: Path,
    settings: AuditSettings,
    previous: Manifest | None,
    signer: CheckpointSigner,
    operator: str,
) -> ArchiveRun | None:
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, connect_timeout=5, application_name="appliance-archive"
    ) as conn:
        done = 0 if previous is None else previous.last_seq
        await _check_continues(conn, directory, done)
        cur = await conn.execute(_BOUNDARY_SQL, (settings.retention_days,))
        checkpoint = await cur.fetchone()
        await conn.commit()
        if checkpoint is None or int(checkpoint["seq"]) <= done:
            return None
        if not _trusted(signer, checkpoint):
            raise RetentionError(
                f"checkpoint {checkpoint['seq']} is not signed by this appliance's key; "
                "nothing archived (run appliance audit verify)"
            )
        path, manifest = await _write_files(conn, directory, checkpoint, previous, signer)
        await conn.commit()
        try:
            event_seq, checkpoints = await _remove(conn, manifest, settings, signer, operator)
        except BaseException:
            _forget(path)
            raise
    # After the commit, as the writer does: an anchor of a rolled-back checkpoint would
    # accuse an intact chain.
    unanchored = (
        await send_once(checkpoints, settings.anchor_syslog, ca_file=settings.anchor_ca_file)
        if settings.anchor_syslog and checkpoints
        else ()
    )
    return ArchiveRun(path, manifest, event_seq, tuple(checkpoints), unanchored)


async def _check_continues(conn: psycopg.AsyncConnection[Any], directory: Path, done: int) -> None:
    """The live chain starts right after the directory's newest archive: a wrong directory
    would otherwise start a second, disconnected series of archives."""
    cur = await conn.execute(_FIRST_SQL, (str(EventType.AUDIT_ARCHIVE),))
    first = await cur.fetchone()
    await conn.commit()
    if first is None or first["first"] is None or int(first["first"]) == done + 1:
        return
    newest = first["detail"]["file"] if first["detail"] else "none recorded"
    raise RetentionError(
        f"the live chain starts at seq {first['first']} but the archives in {directory} end "
        f"at {done}; the audit log's newest archive is {newest}"
    )


def _forget(path: Path) -> None:
    """The rows stayed in the database: the files of a run that did not finish go."""
    manifest_path(path).unlink(missing_ok=True)
    path.unlink(missing_ok=True)
