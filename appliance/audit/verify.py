"""Verifying the audit chain: pure functions over rows, whatever they were read from.

Rows must come in ascending ``seq`` order (the database query and the dump reader both sort).
The first broken position is reported with a reason an auditor can act on:

- ``edited``: a row's content no longer matches its hash;
- ``deleted``: a sequence number is missing, or the rows after a deletion were renumbered
  (their content hashes under a higher seq than they now carry), or the tail is shorter
  than a checkpoint says;
- ``inserted``: a row that is not part of the chain sits at this position (duplicate seq,
  broken link, or later rows renumbered upwards to make room);
- ``reordered``: rows carry each other's positions;
- ``bad_checkpoint_signature``: a checkpoint is unsigned, signed by a key that is not
  trusted, or its signature does not match;
- ``missing_checkpoint``: the writer places a checkpoint at every multiple of
  ``checkpoint_every`` (``appliance.audit.store``), and one of them is gone;
- ``head_not_checkpointed``: the head lies ``checkpoint_every`` rows or more past the last
  checkpoint, so the tail is pinned by nothing (the last due checkpoint is gone);
- ``bad_anchor_signature``: an anchor (a checkpoint read back from outside the database,
  ``appliance.audit.anchor``) is unsigned, signed by an untrusted key, or its signature
  does not match: the receiver's file itself was written to;
- ``archive``: an archive file of rows that left the database is missing, altered or
  unsigned, or its manifest is (``appliance.audit.archive``); the message names the file;
- ``anchor_mismatch``: an anchored checkpoint is missing from the database or has another
  head there. Anchors also pin the chain like checkpoints do: the row at an anchored seq must
  end the chain at the anchored head (else ``edited``), and the chain must reach the last
  anchored seq (else ``deleted``), whatever the database's own checkpoints now say.

Signatures are required unless the caller skips them explicitly (``skip_signatures``, a
development chain with unsigned checkpoints): without them, whoever can rewrite the rows
can rewrite the checkpoints too, and deleting the checkpoints must not make a re-hashed
chain verify either.

Rows archived out of the database (``appliance.audit.archive``) are either walked first
(the archives' rows, then the live ones) or, where the archives are not at hand, skipped:
the walk then starts after the last archived row, at its hash (``start``), so the live chain
must begin exactly where the newest archive ended.

Classification looks at the neighbourhood of the first failure only; everything after it is
unverified, whatever it contains.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from appliance.audit.anchor import Anchor
from appliance.audit.chain import GENESIS_HASH, row_hash
from appliance.audit.checkpoint import UNSIGNED, key_ring, signature_valid

RowLike = Mapping[str, Any]
_WINDOW = 64


class Reason(StrEnum):
    EDITED = "edited"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    BAD_CHECKPOINT = "bad_checkpoint_signature"
    MISSING_CHECKPOINT = "missing_checkpoint"
    HEAD_NOT_CHECKPOINTED = "head_not_checkpointed"
    BAD_ANCHOR = "bad_anchor_signature"
    ANCHOR_MISMATCH = "anchor_mismatch"
    ARCHIVE = "archive"


# What AuditSettings.checkpoint_every defaults to: the spacing the writer uses unless the
# settings say otherwise. Callers that know the writer's setting pass it.
DEFAULT_CHECKPOINT_EVERY = 1000
SKIPPED_SIGNATURES_WARNING = (
    "checkpoint signatures were NOT verified (skip_signatures): whoever can write to the "
    "database could have rewritten the chain and its checkpoints"
)


@dataclass(slots=True)
class VerifyReport:
    ok: bool
    count: int
    first_bad_seq: int | None = None
    reason: Reason | None = None
    message: str = ""
    head_seq: int | None = None
    head_hash: str = GENESIS_HASH
    checkpoints: int = 0
    signed_checkpoints_verified: int = 0
    signatures_skipped: bool = False
    anchors: int = 0
    anchors_verified: int = 0
    archived_through: int = 0
    archives: int = 0

    @property
    def warning(self) -> str:
        return SKIPPED_SIGNATURES_WARNING if self.signatures_skipped else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "count": self.count,
            "first_bad_seq": self.first_bad_seq,
            "reason": None if self.reason is None else str(self.reason),
            "message": self.message,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "checkpoints": self.checkpoints,
            "signed_checkpoints_verified": self.signed_checkpoints_verified,
            "signatures_skipped": self.signatures_skipped,
            "anchors": self.anchors,
            "anchors_verified": self.anchors_verified,
            "archived_through": self.archived_through,
            "archives": self.archives,
            "warning": self.warning,
        }


@dataclass(frozen=True, slots=True)
class _Failure:
    seq: int
    reason: Reason
    message: str


def _hash_ok(row: RowLike, seq: int | None = None) -> bool:
    candidate = row if seq is None else {**row, "seq": seq}
    try:
        return bool(row_hash(candidate) == row["row_hash"])
    except (ValueError, TypeError, KeyError):
        return False


def _classify(
    row: RowLike,
    expected: int,
    next_row: RowLike | None,
    seq_of: Mapping[str, int],
) -> _Failure:
    """Why a row whose own hash fails is wrong: moved (and which way) or edited."""
    seq = int(row["seq"])
    candidates = {expected, seq - 1, seq + 1}
    if row["prev_hash"] == GENESIS_HASH:
        candidates.add(1)
    if row["prev_hash"] in seq_of:
        candidates.add(seq_of[row["prev_hash"]] + 1)
    candidates.discard(seq)
    original = next((c for c in sorted(candidates) if c > 0 and _hash_ok(row, c)), None)
    if original is None:
        if next_row is not None and _hash_ok(next_row, seq):
            return _Failure(seq, Reason.INSERTED, f"row {seq} was inserted; later rows shifted")
        return _Failure(seq, Reason.EDITED, f"row {seq} does not match its hash")
    if original < seq:
        return _Failure(original, Reason.INSERTED, f"row(s) inserted at {original}")
    if row["prev_hash"] in seq_of:
        return _Failure(seq, Reason.REORDERED, f"row {seq} belongs at position {original}")
    return _Failure(seq, Reason.DELETED, f"row(s) before {original} deleted; rest renumbered")


def _rest(pending: RowLike | None, rows: Iterator[RowLike]) -> Iterator[RowLike]:
    if pending is not None:
        yield pending
    yield from rows


def _walk(
    rows: Iterator[RowLike], checkpoints: Mapping[int, RowLike], start: tuple[int, str] | None
) -> tuple[int, int | None, str, _Failure | None]:
    """Check links and hashes in order; returns (count, head seq, head hash, first failure).

    ``start``: (seq, hash) of the last row before ``rows``, when the chain's first rows were
    archived and are not walked.
    """
    count = 0
    prev_seq: int | None = None if start is None else start[0]
    prev_hash = GENESIS_HASH if start is None else start[1]
    recent: deque[tuple[str, int]] = deque(maxlen=_WINDOW)
    last_good_checkpoint = 0 if start is None else start[0]
    pending = next(rows, None)
    while pending is not None:
        row, pending = pending, next(rows, None)
        count += 1
        seq = int(row["seq"])
        expected = 1 if prev_seq is None else prev_seq + 1
        failure: _Failure | None = None
        if prev_seq is not None and seq <= prev_seq:
            reason = Reason.INSERTED if seq == prev_seq else Reason.REORDERED
            failure = _Failure(seq, reason, f"row {seq} out of sequence after {prev_seq}")
        elif not _hash_ok(row):
            seq_of = dict(recent)
            for later in _rest(pending, rows):
                count += 1
                seq_of[str(later["row_hash"])] = int(later["seq"])
            return count, prev_seq, prev_hash, _classify(row, expected, pending, seq_of)
        elif seq > expected:
            failure = _Failure(expected, Reason.DELETED, f"rows {expected}..{seq - 1} missing")
        elif row["prev_hash"] != prev_hash:
            failure = _Failure(seq, Reason.INSERTED, f"row {seq} does not link to row {prev_seq}")
        elif seq in checkpoints and checkpoints[seq]["head_hash"] != row["row_hash"]:
            since = last_good_checkpoint + 1
            failure = _Failure(
                since, Reason.EDITED, f"chain rewritten between {since} and checkpoint {seq}"
            )
        if failure is not None:
            count += sum(1 for _ in _rest(pending, rows))
            return count, prev_seq, prev_hash, failure
        if seq in checkpoints:
            last_good_checkpoint = seq
        prev_seq, prev_hash = seq, str(row["row_hash"])
        recent.append((prev_hash, seq))
    return count, prev_seq, prev_hash, None


def _signature_failure(ring: dict[str, Ed25519PublicKey], seq: int, cp: RowLike) -> _Failure | None:
    """Why checkpoint ``seq`` cannot be trusted, or None when a trusted key signed it."""
    if cp["alg"] == UNSIGNED:
        return _Failure(seq, Reason.BAD_CHECKPOINT, f"checkpoint {seq} is unsigned")
    key_fingerprint = str(cp["key_fingerprint"])
    if key_fingerprint not in ring:
        return _Failure(
            seq,
            Reason.BAD_CHECKPOINT,
            f"checkpoint {seq} is signed by an unknown key ({key_fingerprint[:16]})",
        )
    if signature_valid(
        ring,
        seq=seq,
        head_hash=str(cp["head_hash"]),
        created_at=cp["created_at"],
        signature=str(cp["signature"]),
        key_fingerprint=key_fingerprint,
    ):
        return None
    return _Failure(seq, Reason.BAD_CHECKPOINT, f"checkpoint {seq} signature invalid")


def _due_failure(present: Iterable[int], head_seq: int | None, every: int) -> _Failure | None:
    """The first checkpoint the writer must have placed (``appliance.audit.store``) that is
    not there: in the middle of the chain a hole, at the end an unpinned head."""
    if every <= 0 or head_seq is None:
        return None
    have = set(present)
    missing = next((s for s in range(every, head_seq + 1, every) if s not in have), None)
    if missing is None:
        return None
    if missing + every > head_seq:
        last = max((s for s in have if s < missing), default=0)
        return _Failure(
            missing,
            Reason.HEAD_NOT_CHECKPOINTED,
            f"head {head_seq} is {head_seq - last} rows past the last checkpoint ({last}); "
            f"the one due at {missing} is missing",
        )
    return _Failure(missing, Reason.MISSING_CHECKPOINT, f"checkpoint due at row {missing} missing")


def _anchor_failures(
    ring: dict[str, Ed25519PublicKey],
    anchors: Iterable[Anchor],
    by_seq: Mapping[int, RowLike],
    *,
    skip_signatures: bool,
) -> tuple[dict[int, RowLike], list[_Failure]]:
    """The anchors a trusted key signed (as checkpoint rows, by seq), and the first failure
    of each kind: a bad signature, or a database checkpoint missing or unlike its anchor."""
    pinned: dict[int, RowLike] = {}
    bad: list[_Failure] = []
    mismatched: list[_Failure] = []
    for anchor in sorted(anchors, key=lambda a: a.checkpoint.seq):
        cp = anchor.checkpoint
        row: RowLike = {
            "seq": cp.seq,
            "head_hash": cp.head_hash,
            "created_at": cp.created_at,
            "signature": cp.signature,
            "key_fingerprint": cp.key_fingerprint,
            "alg": cp.alg,
        }
        if not (skip_signatures and (cp.alg == UNSIGNED or not ring)):
            failure = _signature_failure(ring, cp.seq, row)
            if failure is not None:
                message = f"anchor ({anchor.source}): {failure.message}"
                bad.append(_Failure(cp.seq, Reason.BAD_ANCHOR, message))
                continue
        earlier = pinned.get(cp.seq)
        if earlier is not None and earlier["head_hash"] != cp.head_hash:
            message = f"two anchors of checkpoint {cp.seq} differ ({anchor.source})"
            mismatched.append(_Failure(cp.seq, Reason.ANCHOR_MISMATCH, message))
        pinned[cp.seq] = row
        stored = by_seq.get(cp.seq)
        if stored is None:
            mismatched.append(
                _Failure(
                    cp.seq,
                    Reason.ANCHOR_MISMATCH,
                    f"checkpoint {cp.seq} anchored ({anchor.source}) is missing from the database",
                )
            )
        elif stored["head_hash"] != cp.head_hash:
            mismatched.append(
                _Failure(
                    cp.seq,
                    Reason.ANCHOR_MISMATCH,
                    f"checkpoint {cp.seq} in the database has another head than its anchor "
                    f"({anchor.source})",
                )
            )
    return pinned, [*bad[:1], *mismatched[:1]]


def verify_rows(
    rows: Iterable[RowLike],
    *,
    public_keys: Iterable[Ed25519PublicKey] = (),
    checkpoints: Iterable[RowLike] = (),
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    skip_signatures: bool = False,
    anchors: Iterable[Anchor] = (),
    start: tuple[int, str] | None = None,
    start_recorded_at: int | None = None,
) -> VerifyReport:
    """Verify a chain (rows in ascending seq) and its checkpoints; report the first break.

    Every checkpoint must be signed by one of ``public_keys``, and one must exist at every
    multiple of ``checkpoint_every`` (the writer's setting; 0: none are written) up to the
    head. ``skip_signatures`` accepts unsigned checkpoints (and any, with no keys given):
    development chains only; the report then carries a warning. ``anchors`` (checkpoints
    read back from outside the database) must each be in ``checkpoints`` with the same head,
    and pin the chain as trusted checkpoints do (see the module docstring). ``start``
    (seq, hash) is where archived rows that are not in ``rows`` ended, as the ``audit.archive``
    row at ``start_recorded_at`` says: a trusted checkpoint must cover that row, or whoever
    can write to the database could delete the oldest rows and append such a record.
    """
    ring = key_ring(public_keys)
    by_seq = {int(c["seq"]): c for c in checkpoints}
    # Heads are compared only against checkpoints that are signed by a trusted key, or that
    # cannot be checked (unsigned, or no keys given) when signatures are skipped.
    trusted: dict[int, RowLike] = {}
    failures: list[_Failure] = []
    verified = 0
    for seq, cp in sorted(by_seq.items()):
        if skip_signatures and (cp["alg"] == UNSIGNED or not ring):
            trusted[seq] = cp
            continue
        bad = _signature_failure(ring, seq, cp)
        if bad is None:
            trusted[seq] = cp
            verified += 1
        elif not failures:
            failures.append(bad)
    anchor_list = list(anchors)
    pinned, anchor_failures = _anchor_failures(
        ring, anchor_list, by_seq, skip_signatures=skip_signatures
    )
    failures.extend(anchor_failures)
    # An anchor's head wins over the database's checkpoint at the same seq: only the anchor
    # is out of the database owner's reach.
    trusted.update(pinned)
    count, head_seq, head_hash, chain_failure = _walk(iter(rows), trusted, start)
    if chain_failure is not None:
        failures.append(chain_failure)
    elif trusted and max(trusted) > (head_seq or 0):
        missing = (head_seq or 0) + 1
        failures.append(
            _Failure(missing, Reason.DELETED, f"rows from {missing} to {max(trusted)} missing")
        )
    if start is not None and start_recorded_at is not None:
        covered = any(start_recorded_at <= s <= (head_seq or 0) for s in trusted)
        if not covered:
            failures.append(
                _Failure(
                    start_recorded_at,
                    Reason.ARCHIVE,
                    f"the archive record at seq {start_recorded_at}, which says the live chain "
                    f"starts after seq {start[0]}, is covered by no trusted checkpoint",
                )
            )
    due = _due_failure(by_seq, head_seq, checkpoint_every)
    if due is not None:
        failures.append(due)
    report = VerifyReport(
        ok=not failures,
        count=count,
        head_seq=head_seq,
        head_hash=head_hash,
        checkpoints=len(by_seq),
        signed_checkpoints_verified=verified,
        signatures_skipped=skip_signatures,
        anchors=len(anchor_list),
        anchors_verified=len(pinned),
        archived_through=0 if start is None else start[0],
    )
    if failures:
        # At the same seq, what the chain shows (rows deleted, edited) names the row better
        # than the anchor's absence from the database does.
        first = min(failures, key=lambda f: (f.seq, f.reason == Reason.ANCHOR_MISMATCH))
        report.first_bad_seq, report.reason, report.message = first.seq, first.reason, first.message
    return report
