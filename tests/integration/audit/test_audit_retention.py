"""Audit retention on the real PostgreSQL: rows past the policy move to a signed archive
through the migrations' login, verification continues across the boundary, tampering with
an archive is named, and no runtime login can delete an audit row, archived or not. The
checkpoint the archive run signs reaches the syslog anchor (a private rsyslog with the
``audit_anchor`` role's configuration), and one it cannot send fails the command."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import sql
from psycopg.types.json import Jsonb

from appliance.audit.anchor import read_anchors
from appliance.audit.archive import manifest_path
from appliance.audit.capture import event_to_row
from appliance.audit.chain import STORED_FIELDS, seal
from appliance.audit.checkpoint import (
    Checkpoint,
    CheckpointSigner,
    generate_key,
    load_private_key,
)
from appliance.audit.retention import ARCHIVED_THROUGH, RetentionError, archive_expired
from appliance.audit.verify import Reason
from appliance.audit.verify_db import verify_url
from appliance.db import roles
from appliance.db.migrate import upgrade
from appliance.settings import AuditSettings, CaptureMode
from tests.support.audit_events import begin
from tests.support.audit_rsyslog import private_rsyslog
from tests.support.postgres.databases import ScratchDb
from tests.support.process import free_port, wait_until

REVISION = "2026_12_07_audit_archive_delete"
EVERY = 10
OLD_ROWS = 25
NEW_ROWS = 6
APPLIANCE = Path(sys.executable).parent / "appliance"


def _insert(conn: psycopg.Connection[Any], rows: list[dict[str, Any]], signer: Any) -> None:
    """Rows (sealed) and their checkpoints as the writer would have stored them."""
    columns = sql.SQL(", ").join(map(sql.Identifier, STORED_FIELDS))
    marks = sql.SQL(", ").join(sql.Placeholder() * len(STORED_FIELDS))
    insert = sql.SQL("INSERT INTO audit_events ({}) VALUES ({})").format(columns, marks)
    for row in rows:
        conn.execute(insert, [Jsonb(row[f]) if f == "detail" else row[f] for f in STORED_FIELDS])
        if row["seq"] % EVERY == 0:
            cp = Checkpoint.signed(signer, row["seq"], row["row_hash"], row["created_at"])
            conn.execute(
                "INSERT INTO audit_checkpoints VALUES (%s, %s, %s, %s, %s, %s)",
                (cp.seq, cp.head_hash, cp.created_at, cp.signature, cp.key_fingerprint, cp.alg),
            )


def _rows(first_seq: int, prev_hash: str, count: int, age: timedelta) -> list[dict[str, Any]]:
    start = datetime.now(UTC) - age
    rows = []
    for i in range(count):
        row = event_to_row(begin(f"r{first_seq + i}"), mode=CaptureMode.FULL, writer_id="h:1:1")
        row["created_at"] = start + timedelta(seconds=i)
        row["hash_alg"] = "sha256"
        rows.append(row)
    seal(rows, first_seq=first_seq, prev_hash=prev_hash)
    return rows


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "checkpoint.pem"
    generate_key(path)
    return path


@pytest.fixture
def chain_db(scratch_db: ScratchDb, key_file: Path) -> Iterator[ScratchDb]:
    """25 rows 400 days old, then 6 from today, checkpointed every 10 rows."""
    upgrade(scratch_db.owner_url, REVISION)
    signer = CheckpointSigner(_key(key_file))
    old = _rows(1, "0" * 64, OLD_ROWS, timedelta(days=400))
    new = _rows(OLD_ROWS + 1, old[-1]["row_hash"], NEW_ROWS, timedelta(minutes=5))
    with psycopg.connect(scratch_db.owner_libpq, autocommit=True) as conn:
        _insert(conn, old + new, signer)
    yield scratch_db


def _key(path: Path) -> Ed25519PrivateKey:
    return load_private_key(path)


def _settings(**anchor: str) -> AuditSettings:
    return AuditSettings(retention_days=365, checkpoint_every=EVERY, **anchor)


def _verify(db: ScratchDb, key_file: Path, archive_dir: Path | None) -> Any:
    return verify_url(
        db.gateway_libpq,
        public_keys=[_key(key_file).public_key()],
        checkpoint_every=EVERY,
        archive_dir=archive_dir,
    )


def _archive(db: ScratchDb, key_file: Path, directory: Path, **anchor: str) -> Any:
    signer = CheckpointSigner(_key(key_file))
    settings = _settings(**anchor)
    return archive_expired(db.owner_libpq, directory, settings, signer=signer, operator="root")


def test_archive_moves_old_rows_and_verify_spans_the_boundary(
    chain_db: ScratchDb, key_file: Path, tmp_path: Path
) -> None:
    archives = tmp_path / "archives"
    run = _archive(chain_db, key_file, archives)
    assert run is not None
    # Up to the newest checkpoint older than the policy: 20, not the 25 old rows.
    assert (run.manifest.first_seq, run.manifest.last_seq, run.manifest.rows) == (1, 20, 20)
    assert run.event_seq == OLD_ROWS + NEW_ROWS + 1
    with psycopg.connect(chain_db.gateway_libpq) as conn:
        assert conn.execute("SELECT min(seq), count(*) FROM audit_events").fetchone() == (21, 12)
        detail = conn.execute(
            "SELECT detail FROM audit_events WHERE event_type = 'audit.archive'"
        ).fetchone()
    assert detail is not None
    assert detail[0]["file"] == run.archive.name
    assert detail[0]["last_seq"] == 20
    with gzip.open(run.archive, "rt") as handle:
        assert [json.loads(line)["seq"] for line in handle] == list(range(1, 21))

    report = _verify(chain_db, key_file, archives)
    assert report.ok, report.message
    assert (report.count, report.archives, report.archived_through) == (32, 1, 20)
    # Without the archives the live chain is checked to start where they ended.
    report = _verify(chain_db, key_file, None)
    assert report.ok, report.message
    assert (report.count, report.archived_through) == (12, 20)
    # Nothing more is old enough up to a checkpoint: a second run does nothing.
    assert _archive(chain_db, key_file, archives) is None


def test_the_archive_runs_checkpoint_reaches_the_anchor_and_verifies_against_it(
    chain_db: ScratchDb, key_file: Path, tmp_path: Path
) -> None:
    """The record of the archive is pinned outside the database too: a superuser who later
    drops it, and the checkpoint at it, is caught by the anchor as for the gateway's."""
    archives = tmp_path / "archives"
    with private_rsyslog(tmp_path / "rsyslog") as receiver:
        run = _archive(
            chain_db,
            key_file,
            archives,
            anchor_syslog=receiver.target,
            anchor_ca_file=str(receiver.ca_file),
        )
        wait_until(lambda: read_anchors([receiver.file]) != [], "the anchor line", timeout_s=20)
        anchors = read_anchors([receiver.file])
    # The audit.archive event (seq 32, between the multiples of 10) and the checkpoint at it.
    assert [c.seq for c in run.checkpoints] == [OLD_ROWS + NEW_ROWS + 1]
    assert run.unanchored == ()
    assert [a.checkpoint for a in anchors] == list(run.checkpoints)

    report = _verify_anchored(chain_db, key_file, archives, anchors)
    assert report.ok, report.message
    assert (report.anchors_verified, report.archived_through) == (1, 20)
    with chain_db.superuser() as conn:
        conn.execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
        conn.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER")
        conn.execute("DELETE FROM audit_events WHERE seq = 32")
        conn.execute("DELETE FROM audit_checkpoints WHERE seq = 32")
    report = _verify_anchored(chain_db, key_file, archives, anchors)
    assert (report.ok, report.first_bad_seq) == (False, 32), report


def _verify_anchored(db: ScratchDb, key_file: Path, archives: Path, anchors: list[Any]) -> Any:
    return verify_url(
        db.gateway_libpq,
        public_keys=[_key(key_file).public_key()],
        checkpoint_every=EVERY,
        archive_dir=archives,
        anchors=anchors,
    )


def test_a_target_the_sender_cannot_use_archives_nothing(
    chain_db: ScratchDb, key_file: Path, tmp_path: Path
) -> None:
    with pytest.raises(RetentionError, match=r"audit\.anchor_syslog: anchor target 'anchor'"):
        _archive(chain_db, key_file, tmp_path / "archives", anchor_syslog="anchor")
    with psycopg.connect(chain_db.gateway_libpq) as conn:
        assert conn.execute("SELECT min(seq), count(*) FROM audit_events").fetchone() == (1, 31)
    assert not (tmp_path / "archives").exists()


def test_tampered_missing_or_unmanifested_archives_fail_naming_the_file(
    chain_db: ScratchDb, key_file: Path, tmp_path: Path
) -> None:
    archives = tmp_path / "archives"
    run = _archive(chain_db, key_file, archives)
    name = run.archive.name
    original = run.archive.read_bytes()

    lines = gzip.decompress(original).decode().splitlines()
    row = json.loads(lines[4])
    row["prompt"] = "改过的问题"
    lines[4] = json.dumps(row, ensure_ascii=False)
    run.archive.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    report = _verify(chain_db, key_file, archives)
    assert not report.ok
    assert report.reason == Reason.ARCHIVE
    assert name in report.message

    run.archive.write_bytes(original)
    assert _verify(chain_db, key_file, archives).ok
    manifest = manifest_path(run.archive)
    saved = manifest.read_bytes()
    manifest.unlink()
    report = _verify(chain_db, key_file, archives)
    assert (report.ok, report.reason) == (False, Reason.ARCHIVE)
    assert f"{name}: its manifest" in report.message

    run.archive.unlink()
    report = _verify(chain_db, key_file, archives)
    assert (report.ok, report.reason) == (False, Reason.ARCHIVE)
    assert f"archive {name} is missing" in report.message
    manifest.write_bytes(saved)
    report = _verify(chain_db, key_file, archives)
    assert f"archive {name} is missing" in report.message


def test_no_runtime_login_may_delete_audit_rows_even_after_an_archive(
    chain_db: ScratchDb, key_file: Path, tmp_path: Path
) -> None:
    _archive(chain_db, key_file, tmp_path / "archives")
    declare = "SELECT set_config(%s, '1000', true)"
    with (
        psycopg.connect(chain_db.gateway_libpq) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(declare, (ARCHIVED_THROUGH,))
        conn.execute("DELETE FROM audit_events WHERE seq = 21")
    with chain_db.superuser() as conn:
        conn.execute(sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(roles.BACKUP)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM audit_events WHERE seq = 21")
    # The owner itself deletes only rows its transaction declares archived.
    for statement, declared in (
        ("DELETE FROM audit_events WHERE seq = 21", None),
        ("DELETE FROM audit_events WHERE seq = 22", "21"),
        ("DELETE FROM audit_checkpoints WHERE seq = 30", "1000"),
        ("UPDATE audit_events SET prompt = 'x' WHERE seq = 22", "1000"),
    ):
        with (
            psycopg.connect(chain_db.owner_libpq) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
        ):
            if declared is not None:
                conn.execute("SELECT set_config(%s, %s, true)", (ARCHIVED_THROUGH, declared))
            conn.execute(statement)
    assert _verify(chain_db, key_file, tmp_path / "archives").ok


def test_the_cli_archives_and_verifies(chain_db: ScratchDb, key_file: Path, tmp_path: Path) -> None:
    archives = tmp_path / "archives"
    env = {
        **os.environ,
        "APPLIANCE_SETTINGS_FILE": str(tmp_path / "none.env"),
        "APPLIANCE_MIGRATION_DATABASE_URL": chain_db.owner_url,
        "APPLIANCE_DATABASE_URL": chain_db.gateway_url,
        "APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE": str(key_file),
        "APPLIANCE_AUDIT__CHECKPOINT_EVERY": str(EVERY),
        "APPLIANCE_AUDIT__RETENTION_DAYS": "365",
    }

    def cli(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(APPLIANCE), "audit", *args],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    done = cli("archive", "--archive-dir", str(archives))
    assert done.returncode == 0, done.stderr
    assert "archived rows 1..20 (20)" in done.stdout
    verified = cli("verify", "--archive-dir", str(archives))
    assert verified.returncode == 0, verified.stderr
    assert "rows up to 20 archived (1 archive files verified)" in verified.stdout
    shutil.rmtree(archives)
    archives.mkdir()
    broken = cli("verify", "--archive-dir", str(archives))
    assert broken.returncode == 1
    assert "audit-000000000001-000000000020.jsonl.gz is missing" in broken.stderr
    refused = cli("archive", "--archive-dir", str(archives))
    assert refused.returncode == 1
    assert "nothing archived" in refused.stderr
    short = cli("archive", "--archive-dir", str(archives), APPLIANCE_AUDIT__RETENTION_DAYS="30")
    assert short.returncode == 1
    assert "retention_days must be at least 180" in short.stderr


def test_the_cli_fails_when_the_anchor_does_not_take_the_checkpoint(
    chain_db: ScratchDb, key_file: Path, tmp_path: Path
) -> None:
    """Nothing listens at the anchor: the rows are archived (the transaction committed), the
    archive line is printed, and the command exits 1 naming the checkpoint, so the timer's
    unit shows failed."""
    archives = tmp_path / "archives"
    target = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "APPLIANCE_SETTINGS_FILE": str(tmp_path / "none.env"),
        "APPLIANCE_MIGRATION_DATABASE_URL": chain_db.owner_url,
        "APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE": str(key_file),
        "APPLIANCE_AUDIT__CHECKPOINT_EVERY": str(EVERY),
        "APPLIANCE_AUDIT__ANCHOR_SYSLOG": target,
    }
    done = subprocess.run(
        [str(APPLIANCE), "audit", "archive", "--archive-dir", str(archives)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "archived rows 1..20 (20)" in done.stdout
    assert f"error: checkpoints 32 not sent to the audit anchor {target}" in done.stderr
    assert "nothing archived" not in done.stderr
    report = _verify(chain_db, key_file, archives)
    assert report.ok, report.message
    assert report.archived_through == 20
