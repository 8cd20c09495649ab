"""Reading the audit tables out of a plain-SQL ``pg_dump`` file, with no database.

An auditor verifies a backup copy offline: the COPY blocks of ``audit_events`` and
``audit_checkpoints`` are parsed with PostgreSQL's text COPY escaping and typed the way
psycopg would return them, so the chain hashes recompute exactly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

_COPY_RE = re.compile(
    r"^COPY (?:\S+\.)?(\"?)(audit_events|audit_checkpoints)\1 \((.*)\) FROM stdin;$"
)
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
# COPY TEXT output escapes only these; octal and hex forms appear in input, never output.
_ESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)


def _unescape_copy(field: str) -> str | None:
    if field == r"\N":
        return None
    return _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), field)


def parse_text_array(literal: str) -> list[str]:
    """A one-dimensional PostgreSQL ``text[]`` literal such as ``{a,"b c","d\\"e"}``."""
    if not (literal.startswith("{") and literal.endswith("}")):
        raise ValueError(f"not an array literal: {literal[:40]!r}")
    body = literal[1:-1]
    items: list[str] = []
    i = 0
    while i < len(body):
        if body[i] == '"':
            i += 1
            chars: list[str] = []
            while body[i] != '"':
                if body[i] == "\\":
                    i += 1
                chars.append(body[i])
                i += 1
            items.append("".join(chars))
            i += 2  # closing quote and the comma
        else:
            end = body.find(",", i)
            end = len(body) if end < 0 else end
            items.append(body[i:end])
            i = end + 1
    return items


_CONVERT: dict[str, Callable[[str], Any]] = {
    "seq": int,
    "http_status": int,
    "prompt_tokens": int,
    "completion_tokens": int,
    "latency_ms": float,
    "ttft_ms": float,
    "created_at": datetime.fromisoformat,
    "actor_roles": parse_text_array,
    "actor_groups": parse_text_array,
    "document_ids": parse_text_array,
    "chunk_ids": parse_text_array,
    "detail": json.loads,
}


def _convert(name: str, value: str) -> Any:
    """Type one field; a value that no longer parses was altered after the dump was written.
    It is kept as text: it then fails its row's hash and is reported as an edit of that row,
    not as a crash of the verifier."""
    try:
        return _CONVERT.get(name, str)(value)
    except (ValueError, IndexError):
        return value


def _rows(lines: Iterator[str], columns: list[str]) -> Iterator[dict[str, Any]]:
    for raw_line in lines:
        line = raw_line.rstrip("\n")
        if line == r"\.":
            return
        row: dict[str, Any] = {}
        for name, raw in zip(columns, line.split("\t"), strict=True):
            value = _unescape_copy(raw)
            row[name] = value if value is None else _convert(name, value)
        yield row
    raise ValueError("dump ends inside a COPY block")


def read_dump(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(audit_events rows sorted by seq, audit_checkpoints rows) from a plain-SQL dump."""
    found: dict[str, list[dict[str, Any]]] = {}
    with path.open(encoding="utf-8") as handle:
        lines = iter(handle)
        for line in lines:
            match = _COPY_RE.match(line.rstrip("\n"))
            if match:
                columns = [c.strip().strip('"') for c in match.group(3).split(",")]
                found[match.group(2)] = list(_rows(lines, columns))
    if "audit_events" not in found:
        raise ValueError(f"{path}: no COPY block for audit_events (a plain-SQL pg_dump?)")
    events = sorted(found["audit_events"], key=lambda r: int(r["seq"]))
    return events, found.get("audit_checkpoints", [])
