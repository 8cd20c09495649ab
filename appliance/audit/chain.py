"""Canonical serialisation of an audit row and the hash chain over it.

Each row's hash is ``H(prev_hash || canonical(row))`` where the canonical form covers every
stored column except ``row_hash`` itself, ``seq`` and ``created_at`` included. The form is
chosen so that the same row read back through psycopg, or parsed from a ``pg_dump`` COPY
block, serialises to exactly the same bytes: timestamps in UTC with microseconds, floats by
their shortest round-trip ``repr``, JSON with sorted keys and numbers normalised as decimals
(``jsonb`` rewrites ``1e20`` as ``100000000000000000000``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives import hashes

from appliance.settings import ChainHash

GENESIS_HASH = "0" * 64

# Column order of the canonical form; changing it invalidates every existing chain.
HASHED_FIELDS: tuple[str, ...] = (
    "seq",
    "created_at",
    "request_id",
    "event_type",
    "outcome",
    "actor_subject",
    "actor_username",
    "actor_roles",
    "actor_groups",
    "client_id",
    "client_ip",
    "user_agent",
    "http_status",
    "model",
    "backend",
    "prompt_tokens",
    "completion_tokens",
    "latency_ms",
    "ttft_ms",
    "document_ids",
    "chunk_ids",
    "prompt",
    "reasoning",
    "response",
    "prompt_sha256",
    "response_sha256",
    "capture_mode",
    "detail",
    "writer_id",
    "prev_hash",
    "hash_alg",
)
STORED_FIELDS: tuple[str, ...] = (*HASHED_FIELDS, "row_hash")
FLOAT_FIELDS = frozenset({"latency_ms", "ttft_ms"})
INT_FIELDS = frozenset({"seq", "http_status", "prompt_tokens", "completion_tokens"})
ARRAY_FIELDS = frozenset({"actor_roles", "actor_groups", "document_ids", "chunk_ids"})


def format_timestamp(value: datetime) -> str:
    """UTC, microsecond precision: what ``timestamptz`` keeps."""
    if value.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical_json(value: Any) -> Any:
    """JSON value with numbers as normalised decimal strings, recursively."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value)).normalize()
        return {"$n": format(number, "f") if number == number.to_integral() else str(number)}
    if isinstance(value, Mapping):
        return {str(k): _canonical_json(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [_canonical_json(v) for v in value]
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _canonical_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "created_at":
        return format_timestamp(value)
    convert = _CONVERTERS.get(name, str)
    return convert(value)


_CONVERTERS: dict[str, Any] = {
    **{name: lambda v: repr(float(v)) for name in FLOAT_FIELDS},
    **{name: int for name in INT_FIELDS},
    **{name: lambda v: [str(x) for x in v] for name in ARRAY_FIELDS},
    "detail": _canonical_json,
}


def canonical_bytes(row: Mapping[str, Any]) -> bytes:
    """The exact bytes that are hashed for ``row`` (a mapping of column name to value)."""
    values = [_canonical_value(name, row[name]) for name in HASHED_FIELDS]
    return json.dumps(
        values, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
    ).encode("utf-8")


def digest(alg: str, data: bytes) -> str:
    """Hex digest with the chain's algorithm: SHA-256, or SM3 (GB/T 32905) for 国密."""
    if alg == ChainHash.SHA256:
        return hashlib.sha256(data).hexdigest()
    if alg == ChainHash.SM3:
        # OpenSSL's SM3 through cryptography: ~1000x faster than gmssl's pure Python one,
        # which the unit tests keep as the reference implementation.
        hasher = hashes.Hash(hashes.SM3())
        hasher.update(data)
        return hasher.finalize().hex()
    raise ValueError(f"unknown chain hash algorithm: {alg}")


def row_hash(row: Mapping[str, Any]) -> str:
    """Hash of ``row`` chained to its ``prev_hash``, with the row's own ``hash_alg``."""
    prev = str(row["prev_hash"]).encode("ascii")
    return digest(str(row["hash_alg"]), prev + canonical_bytes(row))


def seal(rows: Sequence[dict[str, Any]], *, first_seq: int, prev_hash: str) -> str:
    """Assign consecutive seqs from ``first_seq`` and fill prev/row hashes in place.

    Returns the new chain head. Each row must already carry ``created_at`` and ``hash_alg``.
    """
    head = prev_hash
    for offset, row in enumerate(rows):
        row["seq"] = first_seq + offset
        row["prev_hash"] = head
        row["row_hash"] = head = row_hash(row)
    return head
