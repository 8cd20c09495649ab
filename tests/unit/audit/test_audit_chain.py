"""The canonical form and the hash chain."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from gmssl import sm3

from appliance.audit.chain import (
    FLOAT_FIELDS,
    GENESIS_HASH,
    HASHED_FIELDS,
    INT_FIELDS,
    canonical_bytes,
    digest,
    row_hash,
    seal,
)
from tests.support.audit_chain import make_chain, random_row


def test_sm3_matches_the_gmssl_reference() -> None:
    for data in (b"", b"abc", "审计日志".encode(), bytes(range(256)) * 9):
        assert digest("sm3", data) == sm3.sm3_hash(list(data))
    assert digest("sm3", b"abc") == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown chain hash"):
        digest("md5", b"x")


def test_canonical_form_does_not_depend_on_how_values_were_read() -> None:
    row = random_row(random.Random(1), datetime(2026, 1, 1, tzinfo=UTC))
    row |= {"seq": 7, "prev_hash": GENESIS_HASH}
    as_read = dict(row)
    # The same instant in another time zone, and jsonb's rewriting of numbers.
    as_read["created_at"] = row["created_at"].astimezone(timezone(timedelta(hours=8)))
    row["detail"] = {"n": 1e20, "f": 1.0, "t": 1.23e-7}
    as_read["detail"] = {"t": 1.23e-7, "f": 1, "n": 100000000000000000000}
    assert canonical_bytes(row) == canonical_bytes(as_read)


def _different(name: str, value: object) -> object:
    if name in INT_FIELDS:
        return 1 if value is None else int(value) + 1  # type: ignore[call-overload]
    if name in FLOAT_FIELDS:
        return 1.0 if value is None else float(value) + 1  # type: ignore[arg-type]
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    if isinstance(value, list):
        return [*value, "x"]
    if isinstance(value, dict):
        return {**value, "extra": 1}
    return f"{value}x"


def test_every_field_changes_the_hash() -> None:
    row = make_chain(random.Random(2), 1)[0]
    original = row_hash(row)
    for name in HASHED_FIELDS:
        if name == "hash_alg":
            continue
        assert row_hash({**row, name: _different(name, row[name])}) != original, name
    other_alg = "sm3" if row["hash_alg"] == "sha256" else "sha256"
    assert row_hash({**row, "hash_alg": other_alg}) != original


def test_naive_timestamps_are_refused() -> None:
    row = make_chain(random.Random(3), 1)[0]
    row["created_at"] = datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        canonical_bytes(row)


def test_seal_links_rows_and_returns_the_head() -> None:
    rows = make_chain(random.Random(4), 5)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["prev_hash"] == GENESIS_HASH
    for previous, current in itertools.pairwise(rows):
        assert current["prev_hash"] == previous["row_hash"]
    more = make_chain(random.Random(5), 2)
    head = seal(more, first_seq=6, prev_hash=rows[-1]["row_hash"])
    assert head == more[-1]["row_hash"] and more[0]["seq"] == 6
