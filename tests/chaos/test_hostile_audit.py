"""Hostile input, 5: random tampering with a copy of the audit log, checked by the product's
verifier (``appliance.audit.verify``, what ``appliance audit verify`` and the auditor API run).

The copy is the live log's first rows (as many as the scale allows, extended past the first
signed checkpoint when that is near, plus a tail after a checkpoint) with their checkpoints,
read once from the shared PostgreSQL; every tampering is applied to an in-memory copy of
that copy (:mod:`tests.support.audit_tamper`), never to the database. The untouched copy,
and a ``pg_dump`` of the whole live log, must verify clean (no false alarm); then each
tampering must be reported, ideally at the row it touched. The same dump is loaded into a
scratch database of the runtime's cluster, where the superuser's own moves are made in SQL
(:mod:`tests.support.audit_superuser`: append-only triggers disabled, then UPDATE/DELETE)
and the database verifier must report them too.

The attacker is a database superuser without the checkpoint signing key: they can edit,
delete, insert and reorder rows, recompute every row hash after an edit, delete checkpoints
or replace signed ones with unsigned copies (``alg: none``) that match a re-hashed chain;
they cannot sign. Verification requires a signed checkpoint at every multiple of
``audit.checkpoint_every``, so all of these must be detected: zero undetected, asserted.

Every tampering is also verified with anchors: the untouched copy's signed checkpoints as
the ``audit_anchor`` receiver holds them (``appliance.audit.anchor``, ``verify --anchors``).
The superuser's moves that fool the database alone (cutting the tail together with the
checkpoints past the cut, re-hashing after the database's last checkpoint once the later
ones are deleted, deleting a timed checkpoint) must each be detected with them: zero
undetected with anchors, asserted per kind. What stays undetectable even so is counted
apart: cutting or re-hashing rows after the last checkpoint of all (nothing signed, inside
or outside the database, covers them). Their bound is the rows after that checkpoint:
fewer than ``audit.checkpoint_every`` (1000), and in a running appliance at most one
``audit.checkpoint_interval_s`` (10 s) of events.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import random
import subprocess
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from appliance.audit.anchor import Anchor
from appliance.audit.chain import STORED_FIELDS
from appliance.audit.checkpoint import ED25519, Checkpoint, load_public_key
from appliance.audit.verify import DEFAULT_CHECKPOINT_EVERY, verify_rows
from appliance.audit.verify_db import libpq_url, verify_dump
from appliance.db.migrate import upgrade
from tests.support.audit_superuser import SuperuserTamperer
from tests.support.audit_tamper import Row, Tamperer
from tests.support.postgres.databases import Cluster
from tests.support.record import REPO, record, scaled

PUBLIC_KEY = REPO / "var" / "secrets" / "audit_checkpoint_key.pem.pub"
PG_DUMP = Path("/usr/lib/postgresql/15/bin/pg_dump")
SEED = 20261128
SIGNED_REACH = 20_000
TAIL = 137
_ROWS_SQL = f"SELECT {', '.join(STORED_FIELDS)} FROM audit_events WHERE seq <= %s ORDER BY seq"
_CHECKPOINTS_SQL = (
    "SELECT seq, head_hash, created_at, signature, key_fingerprint, alg "
    "FROM audit_checkpoints ORDER BY seq"
)


def _ensure_a_signed_checkpoint(services: Mapping[str, Any]) -> None:
    """The copy must reach a signed checkpoint, whatever use the log has seen: on a fresh
    install the log may hold fewer than ``checkpoint_every`` rows. Requests with a forged
    token are refused and audited one row each, so sending them until the writer places its
    next checkpoint extends the log the product's own way."""
    url = libpq_url(str(services["database_url"]))
    with psycopg.connect(url) as conn:
        head = conn.execute("SELECT coalesce(max(seq), 0) FROM audit_events").fetchone()
        signed = conn.execute(
            "SELECT count(*) FROM audit_checkpoints WHERE alg = %s AND seq <= %s",
            (ED25519, SIGNED_REACH),
        ).fetchone()
    if signed and signed[0]:
        return
    missing = DEFAULT_CHECKPOINT_EVERY - int(head[0] if head else 0) % DEFAULT_CHECKPOINT_EVERY
    forged = {"Authorization": "Bearer not.a.token"}
    with httpx.Client(base_url=str(services["gateway_url"]), timeout=30) as client:
        for _ in range(missing + 5):
            assert client.get("/v1/models", headers=forged).status_code == 401
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM audit_checkpoints WHERE alg = %s", (ED25519,)
            ).fetchone()
        if row and row[0]:
            return
        time.sleep(1)
    raise AssertionError("no signed checkpoint after a checkpoint's worth of audited refusals")


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


def _verify(
    rows: list[Row], checkpoints: list[Row], keys: list[Any], anchors: list[Anchor] | None = None
) -> Any:
    return verify_rows(rows, public_keys=keys, checkpoints=checkpoints, anchors=anchors or [])


def _anchors(checkpoints: list[Row]) -> list[Anchor]:
    """The copy's signed checkpoints, as the anchor receiver got them from the writer."""
    return [
        Anchor(Checkpoint(**c), f"anchor:{c['seq']}") for c in checkpoints if c["alg"] == ED25519
    ]


# Kinds against the checkpoints themselves, which the verifier must detect since signed
# checkpoints are required (timed ones, between the required ones, only with anchors); and
# those it cannot know of without anchors, or at all.
CHECKPOINT_KINDS = (
    "delete_checkpoint",
    "downgrade_checkpoint",
    "rehash_and_delete_checkpoints",
    "rehash_and_unsigned_checkpoints",
)
UNDETECTABLE_KINDS = (
    "delete_tail",
    "edit_and_rehash",
    "truncate_after_last_checkpoint",
    "rehash_after_last_checkpoint",
    "db_truncate_after_last_checkpoint",
    # Without anchors only: they delete timed checkpoints, or the ones past the tampering.
    "delete_checkpoint",
    "rehash_and_delete_checkpoints",
    "truncate_tail_with_its_checkpoints",
    "rehash_tail_with_its_checkpoints",
    "db_delete_checkpoint",
    "db_rehash_and_delete_checkpoints",
    "db_truncate_tail_with_its_checkpoints",
)
# The superuser's moves past the database's last checkpoint that anchors must expose.
ANCHORED_KINDS = (
    "truncate_tail_with_its_checkpoints",
    "rehash_tail_with_its_checkpoints",
    "db_truncate_tail_with_its_checkpoints",
)

# The copy, set before the worker processes fork so they share it.
_COPY: dict[str, Any] = {}


@dataclass(frozen=True)
class Trial:
    kind: str
    at: int
    detectable: bool
    detected: bool
    located: bool
    anchored: bool
    detected_anchored: bool


def _trial(n: int) -> Trial:
    """Tampering number ``n``: its kind by rotation, its place from its own seed."""
    tamperer = Tamperer(_COPY["rows"], _COPY["checkpoints"], random.Random(SEED + n))
    kinds = list(tamperer.kinds)
    tampered = tamperer.kinds[kinds[n % len(kinds)]]()
    report = _verify(tampered.rows, tampered.checkpoints, _COPY["keys"])
    anchored = _verify(tampered.rows, tampered.checkpoints, _COPY["keys"], _COPY["anchors"])
    return Trial(
        kind=tampered.kind,
        at=tampered.expected_at.start,
        detectable=tampered.detectable,
        detected=not report.ok,
        located=report.first_bad_seq in tampered.expected_at,
        anchored=tampered.detectable_with_anchors,
        detected_anchored=not anchored.ok,
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


def _superuser_trials(services: Mapping[str, Any], dump: Path, keys: list[Any]) -> list[Trial]:
    """The superuser's moves in SQL on a scratch database filled from the live dump."""
    cluster = Cluster.from_endpoints(services)
    db = cluster.create(f"hostile_audit_{uuid.uuid4().hex[:10]}")
    try:
        upgrade(db.owner_url, "head")
        tamperer = SuperuserTamperer(db, dump, keys, random.Random(SEED + 1))
        baseline = tamperer.verify()
        assert baseline.ok, f"false alarm on the scratch copy: {baseline.to_dict()}"
        assert tamperer.verify(anchored=True).ok, "false alarm on the scratch copy's anchors"
        return [
            Trial(**asdict(t))
            for _ in range(scaled(1, 4))
            for t in map(tamperer.trial, tamperer.kinds)
        ]
    finally:
        cluster.drop(db.name)


def test_every_tampering_of_a_log_copy_is_detected(
    services: Mapping[str, Any], tmp_path: Path
) -> None:
    started = time.monotonic()
    keys = [load_public_key(PUBLIC_KEY)] if PUBLIC_KEY.exists() else []
    _ensure_a_signed_checkpoint(services)
    rows, checkpoints = _load_copy(str(services["database_url"]), scaled(3000, 10000))
    baseline = _verify(rows, checkpoints, keys)
    assert baseline.ok, f"false alarm on the untouched copy: {baseline.to_dict()}"
    anchors = _anchors(checkpoints)
    anchored_baseline = _verify(rows, checkpoints, keys, anchors)
    assert anchored_baseline.ok, f"false alarm with anchors: {anchored_baseline.to_dict()}"
    kinds = list(Tamperer(rows, checkpoints, random.Random(SEED)).kinds)
    count = scaled(3 * len(kinds), 1000)
    _COPY.update(rows=rows, checkpoints=checkpoints, keys=keys, anchors=anchors)
    # Each trial is independent (its own seed), so they spread over the machine's cores.
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 1) as pool:
        trials: list[Trial] = pool.map(_trial, range(count), chunksize=10)
    rng = random.Random(SEED)
    dump_path = tmp_path / "audit.sql"
    dump = _dump_figures(str(services["owner_database_url"]), dump_path, keys, rng)
    memory_s = time.monotonic() - started
    trials += _superuser_trials(services, dump_path, keys)
    detected: collections.Counter[str] = collections.Counter()
    tried: collections.Counter[str] = collections.Counter()
    inherent: collections.Counter[str] = collections.Counter()
    undetected: collections.Counter[str] = collections.Counter()
    detected_anchored: collections.Counter[str] = collections.Counter()
    undetected_anchored: collections.Counter[str] = collections.Counter()
    located = 0
    misses: list[dict[str, Any]] = []
    anchored_misses: list[dict[str, Any]] = []
    for trial in trials:
        kind = trial.kind.split(":")[0]
        tried[kind] += 1
        if trial.detected_anchored:
            detected_anchored[kind] += 1
        elif trial.anchored:
            undetected_anchored[kind] += 1
            anchored_misses.append({"kind": trial.kind, "at": trial.at})
        if trial.detected:
            detected[kind] += 1
            located += trial.located
        elif trial.detectable:
            undetected[kind] += 1
            misses.append({"kind": trial.kind, "at": trial.at})
        else:
            inherent[kind] += 1
    last_cp = max((int(c["seq"]) for c in checkpoints), default=0)
    signed = [int(c["seq"]) for c in checkpoints if c["alg"] == ED25519]
    record(
        "hostile_audit_tamper",
        {
            "copy_rows": len(rows),
            "copy_checkpoints": len(checkpoints),
            "copy_signed_checkpoints": len(signed),
            "tamperings": len(trials),
            "superuser_tamperings": len(trials) - count,
            "seed": SEED,
            "false_alarm_on_untouched_copy": not baseline.ok,
            "tried_per_kind": dict(tried),
            "detected_per_kind": dict(detected),
            "located_at_the_right_row": located,
            "undetected_per_kind": dict(undetected),
            "undetectable_by_design_per_kind": dict(inherent),
            "anchors": len(anchors),
            "detected_with_anchors_per_kind": dict(detected_anchored),
            "undetected_with_anchors_per_kind": {
                kind: undetected_anchored[kind] for kind in sorted(tried)
            },
            "anchored_misses": anchored_misses,
            "checkpoint_every": DEFAULT_CHECKPOINT_EVERY,
            "rows_after_last_checkpoint": len(rows) - last_cp,
            "rows_after_last_signed_checkpoint": len(rows) - max(signed, default=0),
            "misses": misses,
            **dump,
            "duration_s": round(time.monotonic() - started, 1),
            "in_memory_and_dump_duration_s": round(memory_s, 1),
            "checks": {
                "0 undetected among the kinds the verifier can detect": not misses,
                "0 undetected with anchors, per kind": not anchored_misses,
                "every edited pg_dump line detected": dump["dump_detected"]
                == dump["dump_tamperings"],
                "undetectable outcomes only after the last checkpoint, fewer than "
                "checkpoint_every rows": len(rows) - last_cp < DEFAULT_CHECKPOINT_EVERY,
            },
        },
    )
    assert not misses, f"tamperings not detected: {misses}"
    assert not anchored_misses, f"tamperings not detected with anchors: {anchored_misses}"
    for kind in ANCHORED_KINDS:
        assert detected_anchored[kind] > 0, f"{kind}: never detected with anchors"
    assert dump["dump_detected"] == dump["dump_tamperings"]
    assert sum(detected.values()) + sum(inherent.values()) == len(trials)
    # The superuser's moves against the checkpoints were each tried, and none went unseen.
    for kind in (*CHECKPOINT_KINDS, *SuperuserTamperer.KINDS):
        assert tried[kind] > 0, f"{kind} was never tried"
    assert not set(inherent) - set(UNDETECTABLE_KINDS), f"undetectable: {dict(inherent)}"
    assert len(rows) - last_cp < DEFAULT_CHECKPOINT_EVERY
