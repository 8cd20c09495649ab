"""Signed archives of audit rows: written, checked, walked before the live chain; every
tampering with a file or its manifest names the file."""

from __future__ import annotations

import gzip
import itertools
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from appliance.audit.archive import (
    ArchiveError,
    ArchiveWriter,
    Manifest,
    archive_name,
    archived_rows,
    check_archives,
    file_sha256,
    manifest_path,
    write_manifest,
)
from appliance.audit.checkpoint import Checkpoint, CheckpointSigner, key_ring
from appliance.audit.verify import Reason, verify_rows
from appliance.settings import AuditSettings
from tests.support.audit_chain import make_chain

KEY = Ed25519PrivateKey.generate()
SIGNER = CheckpointSigner(KEY)
RING = key_ring([KEY.public_key()])
EVERY = 10


def _as_row(cp: Checkpoint) -> dict[str, Any]:
    return {
        "seq": cp.seq,
        "head_hash": cp.head_hash,
        "created_at": cp.created_at,
        "signature": cp.signature,
        "key_fingerprint": cp.key_fingerprint,
        "alg": cp.alg,
    }


def _checkpoints(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        _as_row(Checkpoint.signed(SIGNER, row["seq"], row["row_hash"], row["created_at"]))
        for row in rows
        if row["seq"] % EVERY == 0
    ]


def _archive(directory: Path, rows: list[dict[str, Any]], previous: str = "") -> Path:
    path = directory / archive_name(rows[0]["seq"], rows[-1]["seq"])
    writer = ArchiveWriter(path)
    for row in rows:
        writer.write(row)
    writer.finish()
    manifest = Manifest(
        file=path.name,
        first_seq=rows[0]["seq"],
        last_seq=rows[-1]["seq"],
        rows=writer.count,
        prev_hash=writer.prev_hash,
        first_hash=writer.first_hash,
        last_hash=writer.last_hash,
        sha256=file_sha256(path),
        previous_file=previous,
        created_at="2026-12-07T00:00:00+00:00",
        key_fingerprint="",
        alg="",
    ).signed(SIGNER)
    write_manifest(path, manifest)
    return path


@pytest.fixture
def chain(tmp_path: Path) -> tuple[list[dict[str, Any]], list[Path]]:
    rows = make_chain(random.Random(7), 35)
    first = _archive(tmp_path, rows[:10])
    second = _archive(tmp_path, rows[10:20], previous=first.name)
    return rows, [first, second]


def test_archives_then_live_rows_verify_as_one_chain(
    tmp_path: Path, chain: tuple[list[dict[str, Any]], list[Path]]
) -> None:
    rows, files = chain
    manifests = check_archives(tmp_path, RING, last_recorded=files[-1].name)
    assert [m.file for m in manifests] == [f.name for f in files]
    walked = itertools.chain(archived_rows(tmp_path, manifests), rows[20:])
    report = verify_rows(
        walked,
        public_keys=[KEY.public_key()],
        checkpoints=_checkpoints(rows),
        checkpoint_every=EVERY,
    )
    assert report.ok, report.message
    assert report.count == 35


def test_live_rows_alone_verify_from_where_the_archives_end(
    chain: tuple[list[dict[str, Any]], list[Path]],
) -> None:
    rows, _ = chain
    options: dict[str, Any] = {
        "public_keys": [KEY.public_key()],
        "checkpoints": _checkpoints(rows),
        "checkpoint_every": EVERY,
    }
    report = verify_rows(rows[20:], start=(20, rows[19]["row_hash"]), **options)
    assert report.ok, report.message
    assert report.archived_through == 20
    # A live chain that does not start where the archives end: rows 21.. deleted too.
    report = verify_rows(rows[22:], start=(20, rows[19]["row_hash"]), **options)
    assert not report.ok
    assert report.first_bad_seq == 21
    # Or that links to another hash than the last archived row's.
    assert not verify_rows(rows[20:], start=(20, "f" * 64), **options).ok


def test_the_record_of_where_the_archives_end_must_be_under_a_signed_checkpoint(
    chain: tuple[list[dict[str, Any]], list[Path]],
) -> None:
    """Else whoever can write to the database deletes the oldest rows and appends, past the
    last checkpoint, a record saying they were archived."""
    rows, _ = chain
    start = (20, rows[19]["row_hash"])
    options: dict[str, Any] = {"public_keys": [KEY.public_key()], "checkpoint_every": EVERY}
    pinned = _checkpoints(rows)
    report = verify_rows(
        rows[20:], start=start, start_recorded_at=25, checkpoints=pinned, **options
    )
    assert report.ok, report.message
    report = verify_rows(
        rows[20:], start=start, start_recorded_at=35, checkpoints=pinned, **options
    )
    assert not report.ok
    assert (report.reason, report.first_bad_seq) == (Reason.ARCHIVE, 35)
    head = Checkpoint.signed(SIGNER, 35, rows[34]["row_hash"], rows[34]["created_at"])
    with_head = [*pinned, {**_as_row(head)}]
    report = verify_rows(
        rows[20:], start=start, start_recorded_at=35, checkpoints=with_head, **options
    )
    assert report.ok, report.message


def test_an_edited_archived_row_names_its_file(
    tmp_path: Path, chain: tuple[list[dict[str, Any]], list[Path]]
) -> None:
    _, files = chain
    lines = gzip.decompress(files[0].read_bytes()).decode().splitlines()
    row = json.loads(lines[3])
    row["actor_username"] = "someone.else"
    lines[3] = json.dumps(row, ensure_ascii=False)
    files[0].write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    with pytest.raises(ArchiveError, match=files[0].name):
        check_archives(tmp_path, RING)


def test_a_rewritten_manifest_fails_its_signature(
    tmp_path: Path, chain: tuple[list[dict[str, Any]], list[Path]]
) -> None:
    _, files = chain
    path = manifest_path(files[1])
    manifest = Manifest.from_json(path.read_text())
    path.write_text(replace(manifest, sha256="0" * 64).to_json())
    with pytest.raises(ArchiveError, match=f"{path.name} has an invalid signature"):
        check_archives(tmp_path, RING)
    other = CheckpointSigner(Ed25519PrivateKey.generate())
    path.write_text(replace(manifest, sha256="0" * 64).signed(other).to_json())
    with pytest.raises(ArchiveError, match="unknown key"):
        check_archives(tmp_path, RING)


def test_missing_manifest_or_files_are_named(
    tmp_path: Path, chain: tuple[list[dict[str, Any]], list[Path]]
) -> None:
    _, (first, _) = chain
    manifest_path(first).rename(tmp_path / "aside")
    with pytest.raises(ArchiveError, match=f"archive {first.name}: its manifest .* missing"):
        check_archives(tmp_path, RING)
    (tmp_path / "aside").rename(manifest_path(first))
    first.rename(tmp_path / "aside")
    with pytest.raises(ArchiveError, match=f"archive {first.name} is missing"):
        check_archives(tmp_path, RING)
    manifest_path(first).unlink()
    with pytest.raises(ArchiveError, match=f"archive {first.name} is missing"):
        check_archives(tmp_path, RING)


def test_the_newest_archive_missing_is_named_from_the_audit_log(
    tmp_path: Path, chain: tuple[list[dict[str, Any]], list[Path]]
) -> None:
    _, (_, second) = chain
    manifest_path(second).unlink()
    second.unlink()
    with pytest.raises(ArchiveError, match=f"archive {second.name} is missing"):
        check_archives(tmp_path, RING, last_recorded=second.name)


def test_unsigned_archives_pass_only_when_signatures_are_skipped(tmp_path: Path) -> None:
    rows = make_chain(random.Random(1), 5)
    path = _archive(tmp_path, rows)
    manifest = Manifest.from_json(manifest_path(path).read_text())
    write_manifest(path, replace(manifest, alg="none", signature="", key_fingerprint=""))
    with pytest.raises(ArchiveError, match="is unsigned"):
        check_archives(tmp_path, RING)
    assert check_archives(tmp_path, RING, skip_signatures=True)


def test_retention_below_six_months_is_refused_with_a_clear_error() -> None:
    assert AuditSettings(retention_days=180).retention_days == 180
    with pytest.raises(ValidationError, match="retention_days must be at least 180"):
        AuditSettings(retention_days=179)
