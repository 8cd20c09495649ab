"""Tampering with a scratch copy of the audit database as its superuser would: triggers
disabled (``ALTER TABLE ... DISABLE TRIGGER ALL``), then UPDATE and DELETE by hand, checked by
the product's database verifier (:func:`appliance.audit.verify_db.verify_url`).

The copy is a scratch database of the local runtime's cluster (never the shared live one),
migrated to head and filled from a ``pg_dump --data-only`` of the live audit tables; each
tampering is undone by reloading that dump. Each is verified from the database alone and
with anchors: the copy's signed checkpoints as the ``audit_anchor`` receiver holds them
(``appliance.audit.anchor``). Cutting rows after the last checkpoint is undetectable by
construction even so (nothing records they existed) and is marked so; cutting them with
the checkpoints past the cut, or deleting a timed checkpoint (one between the multiples of
``checkpoint_every``), only the anchors show.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from appliance.audit.anchor import Anchor
from appliance.audit.chain import STORED_FIELDS, row_hash
from appliance.audit.checkpoint import ED25519, UNSIGNED, Checkpoint
from appliance.audit.verify import DEFAULT_CHECKPOINT_EVERY
from appliance.audit.verify_db import verify_url
from tests.support.postgres.databases import ScratchDb

TABLES = ("audit_events", "audit_checkpoints")
# Where a correct report names the first bad seq; whether it can know, without anchors and
# with them.
Move = tuple[range, bool, bool]


@dataclass(frozen=True)
class DbTrial:
    kind: str
    at: int
    detectable: bool
    detected: bool
    located: bool
    anchored: bool
    detected_anchored: bool


def _copy_blocks(dump: Path) -> dict[str, tuple[str, str]]:
    """The COPY statement and data of each table in a ``pg_dump --data-only`` file."""
    lines = dump.read_text().splitlines(keepends=True)
    blocks: dict[str, tuple[str, str]] = {}
    for i, line in enumerate(lines):
        if line.startswith("COPY public."):
            end = lines.index("\\.\n", i)
            table = line.split()[1].removeprefix("public.")
            blocks[table] = (line.rstrip().rstrip(";"), "".join(lines[i + 1 : end]))
    return blocks


@contextmanager
def _triggers_off(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """What the owner or a superuser can do: switch off the append-only triggers."""
    for table in TABLES:
        conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER ALL").format(sql.Identifier(table)))
    try:
        yield
    finally:
        for table in TABLES:
            conn.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER ALL").format(sql.Identifier(table)))


class SuperuserTamperer:
    """Tamperings of the scratch copy through SQL; each returns the range a correct report
    names as the first bad seq, and whether a verifier can know without and with anchors."""

    KINDS = (
        "db_edit_triggers_off",
        "db_delete_checkpoint",
        "db_downgrade_checkpoint",
        "db_rehash_and_delete_checkpoints",
        "db_truncate_after_last_checkpoint",
        "db_truncate_tail_with_its_checkpoints",
    )

    def __init__(
        self,
        db: ScratchDb,
        dump: Path,
        keys: list[Any],
        rng: random.Random,
        every: int = DEFAULT_CHECKPOINT_EVERY,
    ) -> None:
        self.db, self.keys, self.rng, self.every = db, keys, rng, every
        self.blocks = _copy_blocks(dump)
        self.reload()
        with db.superuser() as conn, conn.cursor(row_factory=dict_row) as cur:
            cps = cur.execute(
                "SELECT seq, head_hash, created_at, signature, key_fingerprint, alg "
                "FROM audit_checkpoints ORDER BY seq"
            ).fetchall()
            head = conn.execute("SELECT max(seq) FROM audit_events").fetchone()
        self.cp_seqs = [int(c["seq"]) for c in cps]
        self.signed = [int(c["seq"]) for c in cps if c["alg"] == ED25519]
        self.anchors = [
            Anchor(Checkpoint(**c), f"copy:{c['seq']}") for c in cps if c["alg"] == ED25519
        ]
        self.head = int(head[0]) if head and head[0] is not None else 0
        moves = (
            self.edit,
            self.delete_checkpoint,
            self.downgrade_checkpoint,
            self.rehash_and_delete_checkpoints,
            self.truncate_after_last_checkpoint,
            self.truncate_tail_with_its_checkpoints,
        )
        self.kinds: dict[str, Callable[[psycopg.Connection[Any]], Move]] = dict(
            zip(self.KINDS, moves, strict=True)
        )

    def reload(self) -> None:
        """The scratch tables as the dump has them (triggers off for the TRUNCATE)."""
        with self.db.superuser() as conn, _triggers_off(conn):
            conn.execute("TRUNCATE audit_checkpoints, audit_events")
            for table in ("audit_events", "audit_checkpoints"):
                statement, data = self.blocks[table]
                with conn.cursor().copy(statement) as copy:
                    copy.write(data)

    def verify(self, *, anchored: bool = False) -> Any:
        anchors = self.anchors if anchored else []
        return verify_url(self.db.owner_url, public_keys=self.keys, anchors=anchors)

    def trial(self, kind: str) -> DbTrial:
        with self.db.superuser() as conn, _triggers_off(conn):
            expected, detectable, anchored = self.kinds[kind](conn)
        report = self.verify()
        with_anchors = self.verify(anchored=True)
        self.reload()
        return DbTrial(
            kind=kind,
            at=expected.start,
            detectable=detectable,
            detected=not report.ok,
            located=report.first_bad_seq in expected,
            anchored=anchored,
            detected_anchored=not with_anchors.ok,
        )

    def edit(self, conn: psycopg.Connection[Any]) -> Move:
        seq = self.rng.randrange(1, self.head + 1)
        conn.execute(
            "UPDATE audit_events SET response = coalesce(response, '') || 'X' WHERE seq = %s",
            (seq,),
        )
        return range(seq, seq + 1), True, True

    def delete_checkpoint(self, conn: psycopg.Connection[Any]) -> Move:
        """Only a checkpoint the verifier requires (a multiple of ``checkpoint_every``) is
        missed without anchors; a timed one only by its anchor."""
        seq = self.rng.choice(self.cp_seqs)
        conn.execute("DELETE FROM audit_checkpoints WHERE seq = %s", (seq,))
        return range(seq, seq + 1), seq % self.every == 0, seq in self.signed

    def downgrade_checkpoint(self, conn: psycopg.Connection[Any]) -> Move:
        seq = self.rng.choice(self.signed)
        conn.execute(
            "UPDATE audit_checkpoints SET alg = %s, signature = '', key_fingerprint = '' "
            "WHERE seq = %s",
            (UNSIGNED, seq),
        )
        return range(seq, seq + 1), True, True

    def rehash_and_delete_checkpoints(self, conn: psycopg.Connection[Any]) -> Move:
        """Edit a row before the last checkpoint, recompute every hash after it, and delete
        the checkpoints that no longer match: only the missing checkpoints can tell."""
        seq = self.rng.randrange(1, self.cp_seqs[-1] + 1)
        columns = sql.SQL(", ").join(map(sql.Identifier, STORED_FIELDS))
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                sql.SQL("SELECT {} FROM audit_events WHERE seq >= %s ORDER BY seq").format(columns),
                (seq - 1,),
            )
            rows = cur.fetchall()
        start = 1 if int(rows[0]["seq"]) == seq - 1 else 0
        prev = rows[start - 1]["row_hash"] if start else rows[0]["prev_hash"]
        forged = []
        for i, row in enumerate(rows[start:]):
            changed = {**row, "prev_hash": prev}
            if i == 0:
                changed["response"] = (row["response"] or "") + "X"
            changed["row_hash"] = prev = row_hash(changed)
            forged.append((changed["response"], changed["prev_hash"], prev, changed["seq"]))
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE audit_events SET response = %s, prev_hash = %s, row_hash = %s "
                "WHERE seq = %s",
                forged,
            )
        conn.execute("DELETE FROM audit_checkpoints WHERE seq >= %s", (seq,))
        touched = [s for s in self.cp_seqs if s >= seq]
        before = max([s for s in self.cp_seqs if s < seq], default=0)
        due = any(s % self.every == 0 for s in touched)
        return range(before + 1, touched[0] + 1), due, due or bool(set(touched) & set(self.signed))

    def truncate_after_last_checkpoint(self, conn: psycopg.Connection[Any]) -> Move:
        last = self.cp_seqs[-1] if self.cp_seqs else 0
        keep = self.rng.randrange(last, self.head) if self.head > last else self.head
        conn.execute("DELETE FROM audit_events WHERE seq > %s", (keep,))
        return range(keep + 1, keep + 2), False, False

    def truncate_tail_with_its_checkpoints(self, conn: psycopg.Connection[Any]) -> Move:
        """Cut the rows after a random one and every checkpoint past it: the database then
        ends at its last checkpoint, and only an anchor past the cut records the rest."""
        keep = self.rng.randrange(1, self.head)
        conn.execute("DELETE FROM audit_events WHERE seq > %s", (keep,))
        conn.execute("DELETE FROM audit_checkpoints WHERE seq > %s", (keep,))
        return range(keep + 1, keep + 2), False, any(s > keep for s in self.signed)
