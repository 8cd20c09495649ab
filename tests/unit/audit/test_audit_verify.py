"""verify_rows against every kind of tampering, including 250 random ones."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.audit.chain import HASHED_FIELDS, row_hash, seal
from appliance.audit.checkpoint import CheckpointSigner
from appliance.audit.verify import Reason, VerifyReport, verify_rows
from tests.support.audit_chain import make_chain, random_row

Rows = list[dict[str, Any]]
EDITABLE = [f for f in HASHED_FIELDS if f not in {"seq", "hash_alg"}] + ["row_hash"]


def _edit(rows: Rows, rng: random.Random) -> tuple[Rows, int, Reason]:
    i = rng.randrange(len(rows))
    field = rng.choice(EDITABLE)
    value = rows[i][field]
    if isinstance(value, datetime):
        new: object = value + timedelta(seconds=rng.choice([-1, 1]))
    elif isinstance(value, list):
        new = [*value, "injected"]
    elif isinstance(value, dict):
        new = {**value, "injected": True}
    elif isinstance(value, int | float):
        new = value + 1
    else:
        new = "tampered" if value != "tampered" else "other"
    rows[i][field] = new
    return rows, i + 1, Reason.EDITED


def _delete(rows: Rows, rng: random.Random) -> tuple[Rows, int, Reason]:
    i = rng.randrange(len(rows) - 1)
    del rows[i]
    return rows, i + 1, Reason.DELETED


def _delete_and_renumber(rows: Rows, rng: random.Random) -> tuple[Rows, int, Reason]:
    i = rng.randrange(len(rows) - 1)
    del rows[i]
    for row in rows[i:]:
        row["seq"] -= 1
    return rows, i + 1, Reason.DELETED


def _insert(rows: Rows, rng: random.Random, *, consistent: bool) -> tuple[Rows, int, Reason]:
    k = rng.randrange(1, len(rows) + 1)
    forged = random_row(rng, datetime(2026, 11, 28, tzinfo=UTC))
    prev = rows[k - 2]["row_hash"] if k > 1 else "0" * 64
    seal([forged], first_seq=k, prev_hash=prev)
    if not consistent:
        forged["row_hash"] = "f" * 64
    for row in rows[k - 1 :]:
        row["seq"] += 1
    rows.insert(k - 1, forged)
    return rows, k, Reason.INSERTED


def _swap(rows: Rows, rng: random.Random) -> tuple[Rows, int, Reason]:
    i, j = sorted(rng.sample(range(len(rows)), 2))
    rows[i]["seq"], rows[j]["seq"] = rows[j]["seq"], rows[i]["seq"]
    rows.sort(key=lambda r: r["seq"])
    return rows, i + 1, Reason.REORDERED


def _append_unlinked(rows: Rows, rng: random.Random) -> tuple[Rows, int, Reason]:
    forged = random_row(rng, datetime(2026, 11, 28, tzinfo=UTC))
    seal([forged], first_seq=len(rows) + 1, prev_hash=rng.randbytes(32).hex())
    return [*rows, forged], len(rows) + 1, Reason.INSERTED


TAMPERINGS: dict[str, Callable[[Rows, random.Random], tuple[Rows, int, Reason]]] = {
    "edit": _edit,
    "delete": _delete,
    "delete_renumber": _delete_and_renumber,
    "insert_consistent": lambda r, g: _insert(r, g, consistent=True),
    "insert_garbage": lambda r, g: _insert(r, g, consistent=False),
    "swap": _swap,
    "append_unlinked": _append_unlinked,
}


def test_an_intact_chain_verifies() -> None:
    rows = make_chain(random.Random(0), 50)
    report = verify_rows(rows)
    assert report.ok and report.count == 50 and report.head_seq == 50
    assert report.head_hash == rows[-1]["row_hash"]


def test_an_empty_chain_verifies() -> None:
    assert verify_rows([]).ok


@pytest.mark.parametrize("seed", range(250))
def test_random_tampering_is_found_at_the_right_place(seed: int) -> None:
    rng = random.Random(seed)
    rows = make_chain(rng, rng.randrange(3, 40))
    name = list(TAMPERINGS)[seed % len(TAMPERINGS)]
    tampered, bad_seq, reason = TAMPERINGS[name](copy.deepcopy(rows), rng)
    report = verify_rows(tampered)
    assert not report.ok, name
    assert (report.first_bad_seq, report.reason) == (bad_seq, reason), (name, report)


def test_duplicate_seq_is_an_insertion() -> None:
    rows = make_chain(random.Random(1), 5)
    rows.insert(3, {**rows[2], "request_id": "forged"})
    report = verify_rows(rows)
    assert (report.first_bad_seq, report.reason) == (3, Reason.INSERTED)


def test_rows_out_of_order_are_reported() -> None:
    rows = make_chain(random.Random(1), 5)
    rows[1], rows[2] = rows[2], rows[1]
    report = verify_rows(rows)
    assert not report.ok and report.reason in {Reason.REORDERED, Reason.DELETED}


def _checkpoints(rows: Rows, signer: CheckpointSigner, every: int) -> Rows:
    out = []
    for row in rows:
        if row["seq"] % every == 0:
            at = row["created_at"]
            out.append(
                {
                    "seq": row["seq"],
                    "head_hash": row["row_hash"],
                    "created_at": at,
                    "signature": signer.sign(row["seq"], row["row_hash"], at),
                    "key_fingerprint": signer.fingerprint,
                    "alg": signer.alg,
                }
            )
    return out


def _verify_signed(rows: Rows, checkpoints: Rows, key: Ed25519PrivateKey) -> VerifyReport:
    """Verify as the auditor does: ``key``'s public half trusted, a checkpoint due every 10."""
    return verify_rows(
        rows, checkpoints=checkpoints, public_keys=[key.public_key()], checkpoint_every=10
    )


def _signed_chain(seed: int, n_rows: int) -> tuple[Rows, Rows, Ed25519PrivateKey]:
    """A chain of ``n_rows``, its checkpoints every 10 rows, and the key that signed them."""
    key = Ed25519PrivateKey.generate()
    rows = make_chain(random.Random(seed), n_rows)
    return rows, _checkpoints(rows, CheckpointSigner(key), 10), key


def _signed_but_one(seed: int, n_rows: int, dropped: int) -> tuple[Rows, Rows, Ed25519PrivateKey]:
    """``_signed_chain`` without the checkpoint at row ``dropped``."""
    rows, checkpoints, key = _signed_chain(seed, n_rows)
    return rows, [c for c in checkpoints if c["seq"] != dropped], key


def _rehash_edit(rows: Rows) -> None:
    """Someone with the database but not the key edits row 14 and recomputes the chain."""
    rows[13]["prompt"] = "rewritten"
    seal(rows[13:], first_seq=14, prev_hash=rows[12]["row_hash"])


def test_signed_checkpoints_verify_with_the_right_key_only() -> None:
    rows, checkpoints, key = _signed_chain(7, 30)
    good = _verify_signed(rows, checkpoints, key)
    assert good.ok and good.signed_checkpoints_verified == 3
    assert not good.signatures_skipped and not good.warning
    stranger = Ed25519PrivateKey.generate().public_key()
    bad = verify_rows(rows, checkpoints=checkpoints, public_keys=[stranger])
    assert (bad.first_bad_seq, bad.reason) == (10, Reason.BAD_CHECKPOINT)


def test_a_forged_checkpoint_is_found() -> None:
    rows, checkpoints, key = _signed_chain(8, 30)
    checkpoints[1]["head_hash"] = "e" * 64
    report = verify_rows(rows, checkpoints=checkpoints, public_keys=[key.public_key()])
    assert (report.first_bad_seq, report.reason) == (20, Reason.BAD_CHECKPOINT)


def test_a_rewritten_chain_no_longer_matches_its_checkpoint() -> None:
    rows, checkpoints, key = _signed_chain(9, 30)
    _rehash_edit(rows)
    assert verify_rows(rows).ok
    report = _verify_signed(rows, checkpoints, key)
    assert (report.first_bad_seq, report.reason) == (11, Reason.EDITED)


def test_a_truncated_tail_is_found_through_checkpoints() -> None:
    rows = make_chain(random.Random(10), 30)
    checkpoints = _checkpoints(rows, CheckpointSigner(None), 10)
    report = verify_rows(
        rows[:25], checkpoints=checkpoints, checkpoint_every=10, skip_signatures=True
    )
    assert (report.first_bad_seq, report.reason) == (26, Reason.DELETED)


def test_unsigned_checkpoints_fail_unless_signatures_are_skipped() -> None:
    rows = make_chain(random.Random(11), 10)
    checkpoints = _checkpoints(rows, CheckpointSigner(None), 5)
    skipped = verify_rows(rows, checkpoints=checkpoints, checkpoint_every=5, skip_signatures=True)
    assert skipped.ok and skipped.signatures_skipped
    assert "NOT verified" in skipped.warning and skipped.to_dict()["warning"] == skipped.warning
    report = verify_rows(rows, checkpoints=checkpoints, checkpoint_every=5)
    assert (report.ok, report.first_bad_seq, report.reason) == (False, 5, Reason.BAD_CHECKPOINT)
    assert report.message == "checkpoint 5 is unsigned"
    # Keys do not help an unsigned checkpoint.
    key = Ed25519PrivateKey.generate().public_key()
    with_key = verify_rows(rows, checkpoints=checkpoints, public_keys=[key], checkpoint_every=5)
    assert (with_key.first_bad_seq, with_key.reason) == (5, Reason.BAD_CHECKPOINT)


def test_a_checkpoint_signed_by_an_unknown_key_fails() -> None:
    rows = make_chain(random.Random(13), 20)
    checkpoints = _checkpoints(rows, CheckpointSigner(Ed25519PrivateKey.generate()), 10)
    trusted = Ed25519PrivateKey.generate().public_key()
    report = verify_rows(rows, checkpoints=checkpoints, public_keys=[trusted], checkpoint_every=10)
    assert (report.ok, report.first_bad_seq, report.reason) == (False, 10, Reason.BAD_CHECKPOINT)
    assert "unknown key" in report.message
    # No keys at all: nothing is trusted, so every checkpoint is unknown.
    keyless = verify_rows(rows, checkpoints=checkpoints, checkpoint_every=10)
    assert (keyless.first_bad_seq, keyless.reason) == (10, Reason.BAD_CHECKPOINT)


def test_deleting_the_checkpoints_does_not_hide_a_rehashed_edit() -> None:
    """The attack the signatures exist for: edit, re-hash, and drop the checkpoints."""
    rows, checkpoints, key = _signed_chain(14, 35)
    _rehash_edit(rows)
    keys = [key.public_key()]
    kept = [c for c in checkpoints if c["seq"] < 14]
    report = verify_rows(rows, checkpoints=kept, public_keys=keys, checkpoint_every=10)
    assert (report.ok, report.first_bad_seq, report.reason) == (
        False,
        20,
        Reason.MISSING_CHECKPOINT,
    )
    # Replacing them by unsigned copies of the new heads fails on the first copy.
    forged = [c for c in _checkpoints(rows, CheckpointSigner(None), 10) if c["seq"] >= 14]
    replaced = verify_rows(
        rows, checkpoints=[*kept, *forged], public_keys=keys, checkpoint_every=10
    )
    assert (replaced.first_bad_seq, replaced.reason) == (20, Reason.BAD_CHECKPOINT)


def test_a_missing_checkpoint_in_the_middle_is_named() -> None:
    rows, checkpoints, key = _signed_but_one(15, 45, dropped=20)
    report = _verify_signed(rows, checkpoints, key)
    assert (report.ok, report.first_bad_seq, report.reason) == (
        False,
        20,
        Reason.MISSING_CHECKPOINT,
    )
    assert report.message == "checkpoint due at row 20 missing"


def test_a_head_past_the_last_checkpoint_is_named() -> None:
    rows, checkpoints, key = _signed_but_one(16, 37, dropped=30)
    report = _verify_signed(rows, checkpoints, key)
    assert (report.ok, report.first_bad_seq, report.reason) == (
        False,
        30,
        Reason.HEAD_NOT_CHECKPOINTED,
    )
    assert "head 37 is 17 rows past the last checkpoint (20)" in report.message
    # Fewer than checkpoint_every rows after the last checkpoint is the normal state.
    assert _verify_signed(rows[:29], checkpoints, key).ok


def test_skipping_signatures_still_requires_the_checkpoints() -> None:
    rows = make_chain(random.Random(17), 25)
    report = verify_rows(rows, checkpoint_every=10, skip_signatures=True)
    assert (report.first_bad_seq, report.reason) == (10, Reason.MISSING_CHECKPOINT)
    # checkpoint_every 0: the writer places none, so none are due.
    assert verify_rows(rows, checkpoint_every=0).ok


def test_report_recomputes_hash_the_same_way_as_the_writer() -> None:
    rows = make_chain(random.Random(12), 3)
    assert all(row_hash(r) == r["row_hash"] for r in rows)
