"""Tampering with an in-memory copy of the audit log, as a database superuser without the
checkpoint signing key would (``tests/chaos/test_hostile_audit.py`` runs them).

Each kind returns a :class:`Tampered` copy saying where a correct verifier may name the
first bad row and whether it can know at all, from the database alone and with anchors (the
copy's signed checkpoints as the ``audit_anchor`` receiver holds them,
``appliance.audit.anchor``). Cutting rows after the last checkpoint and re-hashing rows
after it leave nothing to compare against even with anchors (their reach is the rows after
the last checkpoint: one ``audit.checkpoint_interval_s`` of events). Doing the same after
also deleting the checkpoints that pinned those rows, or deleting a timed checkpoint (one
the writer's timer placed between the multiples of ``checkpoint_every``), fools the
database alone and only the anchors tell.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from appliance.audit.chain import GENESIS_HASH, HASHED_FIELDS, row_hash
from appliance.audit.checkpoint import ED25519, UNSIGNED
from appliance.audit.verify import DEFAULT_CHECKPOINT_EVERY

Row = dict[str, Any]


@dataclass(frozen=True)
class Tampered:
    """A tampered copy: what was done, where, and whether a verifier can know."""

    kind: str
    rows: list[Row]
    checkpoints: list[Row]
    # The seqs a correct report may name as the first bad one.
    expected_at: range
    detectable: bool
    # With the anchors of every signed checkpoint of the untouched copy; None: as above.
    anchored: bool | None = None

    @property
    def detectable_with_anchors(self) -> bool:
        return self.detectable if self.anchored is None else self.anchored


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
    def __init__(
        self,
        rows: list[Row],
        checkpoints: list[Row],
        rng: random.Random,
        every: int = DEFAULT_CHECKPOINT_EVERY,
    ) -> None:
        self.rows, self.checkpoints, self.rng, self.every = rows, checkpoints, rng, every
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
            "delete_checkpoint": self.delete_checkpoint,
            "downgrade_checkpoint": self.downgrade_checkpoint,
            "rehash_and_delete_checkpoints": self.rehash_and_delete_checkpoints,
            "rehash_and_unsigned_checkpoints": self.rehash_and_unsigned_checkpoints,
            "truncate_after_last_checkpoint": self.truncate_after_last_checkpoint,
            "rehash_after_last_checkpoint": self.rehash_after_last_checkpoint,
            "truncate_tail_with_its_checkpoints": self.truncate_tail_with_its_checkpoints,
            "rehash_tail_with_its_checkpoints": self.rehash_tail_with_its_checkpoints,
        }

    def _due(self, seqs: list[int]) -> bool:
        """Whether one of ``seqs`` is a checkpoint the verifier requires (a multiple of
        ``checkpoint_every``), so that deleting it shows without anchors."""
        return any(s % self.every == 0 for s in seqs)

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

    def delete_checkpoint(self) -> Tampered:
        """One checkpoint row gone: the writer places one at every multiple of
        ``checkpoint_every``, so its absence is the finding; a timed one in between is
        missed by nothing but its anchor."""
        if not self.checkpoints:
            return self._with("delete_checkpoint", self.rows, 0, detectable=False)
        seq = self.rng.choice(self.cp_seqs)
        kept = [c for c in self.checkpoints if int(c["seq"]) != seq]
        at = range(seq, seq + 1)
        return Tampered(
            "delete_checkpoint", self.rows, kept, at, self._due([seq]), seq in self.signed
        )

    def downgrade_checkpoint(self) -> Tampered:
        """A signed checkpoint replaced by an unsigned copy (``alg: none``) of itself."""
        if not self.signed:
            return self._with("downgrade_checkpoint", self.rows, 0, detectable=False)
        seq = self.rng.choice(self.signed)
        checkpoints = [_unsigned(c) if int(c["seq"]) == seq else c for c in self.checkpoints]
        return Tampered("downgrade_checkpoint", self.rows, checkpoints, range(seq, seq + 1), True)

    def _rehash_before_last_checkpoint(
        self, kind: str, forge: Callable[[Row, dict[int, str]], Row | None], *, dropped: bool
    ) -> Tampered:
        """Edit a row at or before the last checkpoint, re-chain after it, and let
        ``forge`` rewrite (or drop: ``None``) each checkpoint from the edit on."""
        last = self.cp_seqs[-1] if self.cp_seqs else 0
        pos = self.rng.randrange(0, max(1, min(last, len(self.rows))))
        seq = self._seq(pos)
        rows = list(self.rows)
        rows[pos] = {**rows[pos], "response": _mutate(rows[pos]["response"], self.rng)}
        _rechain(rows, pos)
        head_of = {int(r["seq"]): r["row_hash"] for r in rows[pos:]}
        checkpoints = []
        for c in self.checkpoints:
            forged = forge(c, head_of) if int(c["seq"]) >= seq else c
            if forged is not None:
                checkpoints.append(forged)
        touched = [s for s in self.cp_seqs if s >= seq]
        before = max([s for s in self.cp_seqs if s < seq], default=0)
        at = range(before + 1, (touched[0] if touched else seq) + 1)
        # Deleted checkpoints show only where one was due; forged unsigned ones always do.
        detectable = self._due(touched) if dropped else bool(touched)
        anchored = detectable or any(s in self.signed for s in touched)
        return Tampered(kind, rows, checkpoints, at, detectable, anchored)

    def rehash_and_delete_checkpoints(self) -> Tampered:
        """Edit, re-chain, and delete every checkpoint that no longer matches."""
        return self._rehash_before_last_checkpoint(
            "rehash_and_delete_checkpoints", lambda c, heads: None, dropped=True
        )

    def rehash_and_unsigned_checkpoints(self) -> Tampered:
        """Edit, re-chain, and replace the checkpoints after it by unsigned ones that match."""
        return self._rehash_before_last_checkpoint(
            "rehash_and_unsigned_checkpoints",
            lambda c, heads: _unsigned({**c, "head_hash": heads[int(c["seq"])]}),
            dropped=False,
        )

    def truncate_after_last_checkpoint(self) -> Tampered:
        """Cut rows after the last checkpoint: nothing in the copy records they existed."""
        last = self.cp_seqs[-1] if self.cp_seqs else 0
        first = next((i for i, r in enumerate(self.rows) if int(r["seq"]) > last), None)
        if first is None:
            return self._with("truncate_after_last_checkpoint", self.rows, 0, detectable=False)
        keep = self.rng.randrange(max(first, 1), len(self.rows))
        rows = self.rows[:keep]
        return self._with("truncate_after_last_checkpoint", rows, last + 1, detectable=False)

    def rehash_after_last_checkpoint(self) -> Tampered:
        """Edit a row after the last checkpoint and re-chain the rest: nothing signed covers it."""
        last = self.cp_seqs[-1] if self.cp_seqs else 0
        first = next((i for i, r in enumerate(self.rows) if int(r["seq"]) > last), None)
        if first is None:
            return self._with("rehash_after_last_checkpoint", self.rows, 0, detectable=False)
        pos = self.rng.randrange(first, len(self.rows))
        rows = list(self.rows)
        rows[pos] = {**rows[pos], "response": _mutate(rows[pos]["response"], self.rng)}
        _rechain(rows, pos)
        return self._with("rehash_after_last_checkpoint", rows, self._seq(pos), detectable=False)

    def truncate_tail_with_its_checkpoints(self) -> Tampered:
        """Cut the last rows and delete every checkpoint past the new head: the database's
        last checkpoint now ends the chain; only an anchor past it records the rest."""
        keep = self.rng.randrange(1, len(self.rows))
        new_head = self._seq(keep - 1)
        kept = [c for c in self.checkpoints if int(c["seq"]) <= new_head]
        anchored = any(s > new_head for s in self.signed)
        at = range(new_head + 1, new_head + 2)
        return Tampered(
            "truncate_tail_with_its_checkpoints", self.rows[:keep], kept, at, False, anchored
        )

    def rehash_tail_with_its_checkpoints(self) -> Tampered:
        """Edit a row, re-chain the rest and delete every checkpoint from the edit on: the
        database shows a chain intact up to its last checkpoint and nothing signed after it,
        unless a deleted one was due; an anchor at or after the edit shows the rewrite."""
        pos = self._pos()
        seq = self._seq(pos)
        rows = list(self.rows)
        rows[pos] = {**rows[pos], "response": _mutate(rows[pos]["response"], self.rng)}
        _rechain(rows, pos)
        kept = [c for c in self.checkpoints if int(c["seq"]) < seq]
        touched = [s for s in self.cp_seqs if s >= seq]
        anchors = [s for s in self.signed if s >= seq]
        before = max([s for s in self.cp_seqs if s < seq], default=0)
        at = range(before + 1, (min(touched) if touched else seq) + 1)
        return Tampered(
            "rehash_tail_with_its_checkpoints", rows, kept, at, self._due(touched), bool(anchors)
        )


def _unsigned(checkpoint: Row) -> Row:
    """A checkpoint as a development install writes it: no signature, no key."""
    return {**checkpoint, "signature": "", "key_fingerprint": "", "alg": UNSIGNED}
