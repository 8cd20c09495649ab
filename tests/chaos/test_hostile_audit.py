"""Hostile input, 5: random tampering with a copy of the audit log, checked by the product's
verifier (``appliance.audit.verify``, what ``appliance audit verify`` and the auditor API run).

The copy is the live log's first rows (as many as the scale allows, extended past the first
signed checkpoint when that is near, plus a tail after a checkpoint) with their checkpoints,
read once from the shared PostgreSQL; every tampering is applied to an in-memory copy of
that copy, never to the database. The untouched copy, and a ``pg_dump`` of the whole live
log, must verify clean (no false alarm); then each tampering must be reported, ideally at
the row it touched.

The attacker is a database superuser without the checkpoint signing key: they can edit,
delete, insert and reorder rows, recompute every row hash after an edit, and rewrite the
unsigned checkpoints too (development installs write those); they cannot sign. Two
outcomes are undetectable by construction, and are counted apart rather than as misses:
cutting rows off the end after the last checkpoint (nothing records that they existed), and
a full re-hash after the last signed checkpoint. Their bound is the number of rows after
that checkpoint, at most ``audit.checkpoint_every`` (1000) in a running appliance.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import random
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from appliance.audit.chain import GENESIS_HASH, HASHED_FIELDS, STORED_FIELDS, row_hash
from appliance.audit.checkpoint import ED25519, load_public_key
from appliance.audit.verify import verify_rows
from appliance.audit.verify_db import libpq_url, verify_dump
from tests.support.record import REPO, record, scaled

PUBLIC_KEY = REPO / "var" / "secrets" / "audit_checkpoint_key.pem.pub"
PG_DUMP = Path("/usr/lib/postgresql/15/bin/pg_dump")
SEED = 20261128
SIGNED_REACH = 20_000
TAIL = 137
Row = dict[str, Any]
_ROWS_SQL = f"SELECT {', '.join(STORED_FIELDS)} FROM audit_events WHERE seq <= %s ORDER BY seq"
_CHECKPOINTS_SQL = (
    "SELECT seq, head_hash, created_at, signature, key_fingerprint, alg "
    "FROM audit_checkpoints ORDER BY seq"
)


@dataclass(frozen=True)
class Tampered:
    """A tampered copy: what was done, where, and whether a verifier can know."""

    kind: str
    rows: list[Row]
    checkpoints: list[Row]
    # The seqs a correct report may name as the first bad one.
    expected_at: range
    detectable: bool


def _load_copy(url: str, limit: int) -> tuple[list[Row], list[Row]]:
    with psycopg.connect(libpq_url(url), row_factory=dict_row) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        checkpoints = conn.execute(_CHECKPOINTS_SQL).fetchall()
        signed = [int(c["seq"]) for c in checkpoints if c["alg"] == ED25519]
        # Far enough to hold the first signed checkpoint when the log has one within reach,
        # and a tail after the last checkpoint, as a live log always has.
        base = max(limit, signed[0]) if signed and signed[0] <= SIGNED_REACH else limit
        size = base + TAIL
        rows = conn.execute(_ROWS_SQL, (size,)).fetchall()
    head = int(rows[-1]["seq"])
    return rows, [c for c in checkpoints if int(c["seq"]) <= head]


def _mutate(value: Any, rng: random.Random) -> Any:
    """A different value of the same kind (what a careful forger would write)."""
    if value is None:
        return rng.choice(["x", "forged"])
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice([-1, 1, 1000])
    if isinstance(value, float):
        return value + 0.5
    if isinstance(value, str):
        return value[:-1] + ("X" if value[-1:] != "X" else "Y") if value else "X"
    if isinstance(value, list):
        return [*value, "forged"] if not value or rng.random() < 0.5 else value[:-1]
    if isinstance(value, dict):
        return {**value, "forged": True}
    return value + timedelta(microseconds=rng.choice([-1, 1, 3_600_000_000]))


def _rechain(rows: list[Row], start: int) -> None:
    """Recompute links and hashes from position ``start`` on, as a forger without the key."""
    prev = rows[start - 1]["row_hash"] if start else GENESIS_HASH
    for i in range(start, len(rows)):
        rows[i] = {**rows[i], "prev_hash": prev}
        rows[i]["row_hash"] = prev = row_hash(rows[i])


class Tamperer:
    def __init__(self, rows: list[Row], checkpoints: list[Row], rng: random.Random) -> None:
        self.rows, self.checkpoints, self.rng = rows, checkpoints, rng
        self.cp_seqs = sorted(int(c["seq"]) for c in checkpoints)
        self.signed = sorted(int(c["seq"]) for c in checkpoints if c["alg"] == ED25519)
        self.kinds: dict[str, Callable[[], Tampered]] = {
            "edit_field": self.edit_field,
            "edit_row_hash": self.edit_row_hash,
            "delete_one": self.delete_one,
            "delete_range": self.delete_range,
            "delete_tail": self.delete_tail,
            "insert_forged_row": self.insert,
            "insert_duplicate_seq": self.insert_duplicate,
            "swap_rows": self.swap,
            "swap_contents_keep_seq": self.swap_contents,
            "edit_and_rehash": self.edit_and_rehash,
        }

    def _pos(self, low: int = 0, spare: int = 0) -> int:
        return self.rng.randrange(low, len(self.rows) - spare)

    def _seq(self, pos: int) -> int:
        return int(self.rows[pos]["seq"])

    def _with(self, kind: str, rows: list[Row], at: int, *, detectable: bool = True) -> Tampered:
        return Tampered(kind, rows, self.checkpoints, range(at, at + 1), detectable)

    def edit_field(self) -> Tampered:
        pos = self._pos()
        field = self.rng.choice([f for f in HASHED_FIELDS if f not in ("seq", "prev_hash")])
        rows = list(self.rows)
        rows[pos] = {**rows[pos], field: _mutate(rows[pos][field], self.rng)}
        return self._with(f"edit_field:{field}", rows, self._seq(pos))

    def edit_row_hash(self) -> Tampered:
        pos = self._pos()
        rows = list(self.rows)
        rows[pos] = {**rows[pos], "row_hash": _mutate(rows[pos]["row_hash"], self.rng)}
        return self._with("edit_row_hash", rows, self._seq(pos))

    def delete_one(self) -> Tampered:
        pos = self._pos(spare=1)
        return self._with("delete_one", self.rows[:pos] + self.rows[pos + 1 :], self._seq(pos))

    def delete_range(self) -> Tampered:
        pos = self._pos(spare=2)
        end = self.rng.randrange(pos + 1, min(len(self.rows) - 1, pos + 500) + 1)
        return self._with("delete_range", self.rows[:pos] + self.rows[end:], self._seq(pos))

    def delete_tail(self) -> Tampered:
        """Cut the last rows: detectable only when a checkpoint lies beyond the new head."""
        keep = self.rng.randrange(1, len(self.rows))
        new_head = self._seq(keep - 1)
        beyond = [s for s in self.cp_seqs if s > new_head]
        return self._with("delete_tail", self.rows[:keep], new_head + 1, detectable=bool(beyond))

    def insert(self) -> Tampered:
        """A well-formed forged row (right hash, right link) with the later rows renumbered."""
        pos = self._pos(low=1, spare=1)
        forged = {**self.rows[pos - 1], "seq": self._seq(pos), "response": "forged answer"}
        forged["prev_hash"] = self.rows[pos - 1]["row_hash"]
        forged["row_hash"] = row_hash(forged)
        later = [{**r, "seq": int(r["seq"]) + 1} for r in self.rows[pos:]]
        return self._with("insert_forged_row", [*self.rows[:pos], forged, *later], self._seq(pos))

    def insert_duplicate(self) -> Tampered:
        pos = self._pos(low=1)
        forged = {**self.rows[pos], "actor_username": "someone.else"}
        forged["row_hash"] = row_hash(forged)
        rows = [*self.rows[: pos + 1], forged, *self.rows[pos + 1 :]]
        return self._with("insert_duplicate_seq", rows, self._seq(pos))

    def swap(self) -> Tampered:
        a = self._pos(spare=1)
        b = self.rng.randrange(a + 1, min(len(self.rows), a + 50))
        rows = list(self.rows)
        rows[a], rows[b] = rows[b], rows[a]
        return self._with("swap_rows", rows, self._seq(a))

    def swap_contents(self) -> Tampered:
        """Rows change places and take each other's seq, so the order still looks right."""
        a = self._pos(spare=1)
        b = self.rng.randrange(a + 1, min(len(self.rows), a + 50))
        rows = list(self.rows)
        rows[a], rows[b] = {**rows[b], "seq": self._seq(a)}, {**rows[a], "seq": self._seq(b)}
        return self._with("swap_contents_keep_seq", rows, self._seq(a))

    def edit_and_rehash(self) -> Tampered:
        """Edit a row, re-chain everything after it and rewrite the unsigned checkpoints; only
        a signed checkpoint at or after the edit can expose it, somewhere up to that one."""
        pos = self._pos()
        seq = self._seq(pos)
        rows = list(self.rows)
        rows[pos] = {**rows[pos], "response": _mutate(rows[pos]["response"], self.rng)}
        _rechain(rows, pos)
        head_of = {int(r["seq"]): r["row_hash"] for r in rows[pos:]}
        checkpoints = [
            {**c, "head_hash": head_of.get(int(c["seq"]), c["head_hash"])}
            if c["alg"] != ED25519
            else c
            for c in self.checkpoints
        ]
        exposing = [s for s in self.signed if s >= seq]
        before = max([s for s in self.signed if s < seq], default=0)
        at = range(before + 1, (exposing[0] if exposing else seq) + 1)
        return Tampered("edit_and_rehash", rows, checkpoints, at, bool(exposing))


def _verify(rows: list[Row], checkpoints: list[Row], keys: list[Any]) -> Any:
    return verify_rows(rows, public_keys=keys, checkpoints=checkpoints)


# The copy, set before the worker processes fork so they share it.
_COPY: dict[str, Any] = {}


@dataclass(frozen=True)
class Trial:
    kind: str
    at: int
    detectable: bool
    detected: bool
    located: bool


def _trial(n: int) -> Trial:
    """Tampering number ``n``: its kind by rotation, its place from its own seed."""
    tamperer = Tamperer(_COPY["rows"], _COPY["checkpoints"], random.Random(SEED + n))
    kinds = list(tamperer.kinds)
    tampered = tamperer.kinds[kinds[n % len(kinds)]]()
    report = _verify(tampered.rows, tampered.checkpoints, _COPY["keys"])
    return Trial(
        kind=tampered.kind,
        at=tampered.expected_at.start,
        detectable=tampered.detectable,
        detected=not report.ok,
        located=report.first_bad_seq in tampered.expected_at,
    )


def _dump_figures(
    owner_url: str, dump: Path, keys: list[Any], rng: random.Random
) -> dict[str, int]:
    """pg_dump of the live audit tables verifies clean; edited data lines in it do not."""
    subprocess.run(
        [str(PG_DUMP), "--dbname", libpq_url(owner_url), "--data-only", "--table", "audit_events",
         "--table", "audit_checkpoints", "--file", str(dump)],
        check=True, timeout=300,
    )  # fmt: skip
    clean = verify_dump(dump, public_keys=keys)
    assert clean.ok, f"false alarm on the untouched pg_dump: {clean.to_dict()}"
    lines = dump.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("COPY public.audit_events"))
    end = lines.index("\\.\n", start)
    detected = tries = 0
    for _ in range(scaled(1, 3)):
        i = rng.randrange(start + 1, end)
        fields = lines[i].split("\t")
        j = rng.choice([k for k, f in enumerate(fields[:-1]) if f not in ("\\N", "{}", "")])
        fields[j] = fields[j][:-1] + ("7" if fields[j][-1] != "7" else "8")
        tampered = dump.with_suffix(".tampered.sql")
        tampered.write_text("".join([*lines[:i], "\t".join(fields), *lines[i + 1 :]]))
        tries += 1
        detected += not verify_dump(tampered, public_keys=keys).ok
    return {"dump_rows_verified": clean.count, "dump_tamperings": tries, "dump_detected": detected}


def test_every_tampering_of_a_log_copy_is_detected(
    services: Mapping[str, Any], tmp_path: Path
) -> None:
    started = time.monotonic()
    keys = [load_public_key(PUBLIC_KEY)] if PUBLIC_KEY.exists() else []
    rows, checkpoints = _load_copy(str(services["database_url"]), scaled(3000, 10000))
    baseline = _verify(rows, checkpoints, keys)
    assert baseline.ok, f"false alarm on the untouched copy: {baseline.to_dict()}"
    count = scaled(60, 1000)
    _COPY.update(rows=rows, checkpoints=checkpoints, keys=keys)
    # Each trial is independent (its own seed), so they spread over the machine's cores.
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 1) as pool:
        trials = pool.map(_trial, range(count), chunksize=10)
    detected: collections.Counter[str] = collections.Counter()
    tried: collections.Counter[str] = collections.Counter()
    inherent: collections.Counter[str] = collections.Counter()
    located = 0
    misses: list[dict[str, Any]] = []
    for trial in trials:
        kind = trial.kind.split(":")[0]
        tried[kind] += 1
        if trial.detected:
            detected[kind] += 1
            located += trial.located
        elif trial.detectable:
            misses.append({"kind": trial.kind, "at": trial.at})
        else:
            inherent[kind] += 1
    rng = random.Random(SEED)
    dump = _dump_figures(str(services["owner_database_url"]), tmp_path / "audit.sql", keys, rng)
    last_cp = max((int(c["seq"]) for c in checkpoints), default=0)
    signed = [int(c["seq"]) for c in checkpoints if c["alg"] == ED25519]
    record(
        "hostile_audit_tamper",
        {
            "copy_rows": len(rows),
            "copy_checkpoints": len(checkpoints),
            "copy_signed_checkpoints": len(signed),
            "tamperings": count,
            "seed": SEED,
            "false_alarm_on_untouched_copy": not baseline.ok,
            "tried_per_kind": dict(tried),
            "detected_per_kind": dict(detected),
            "located_at_the_right_row": located,
            "undetectable_by_design_per_kind": dict(inherent),
            "rows_after_last_checkpoint": len(rows) - last_cp,
            "rows_after_last_signed_checkpoint": len(rows) - max(signed, default=0),
            "misses": misses,
            **dump,
            "duration_s": round(time.monotonic() - started, 1),
        },
    )
    assert not misses, f"tamperings not detected: {misses}"
    assert dump["dump_detected"] == dump["dump_tamperings"]
    assert sum(detected.values()) + sum(inherent.values()) == count
