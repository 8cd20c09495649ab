"""The keyword library as a CSV file: what the security administrator edits (in a
spreadsheet, often) and imports, and what an export gives back.

The file is UTF-8, with or without a byte-order mark (Excel on Windows writes one, and
needs one to read Chinese correctly, so an export writes it), with the header
``id,term,category,match,action``. ``match`` may be left empty (``normalised``). Every
error names the line and the column, so a 10,000-row file can be fixed where it is wrong.
``export_csv(import_csv(data)) == data`` for any file ``export_csv`` wrote.

May import the modules beside it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from typing import TypeVar

from appliance.content.keywords import (
    Action,
    KeywordEntry,
    KeywordLibrary,
    KeywordLibraryError,
    MatchMode,
)

HEADER = ("id", "term", "category", "match", "action")
BOM = "\ufeff"


_Choice = TypeVar("_Choice", MatchMode, Action)


def _choice(kind: type[_Choice], value: str, where: str, column: str) -> _Choice:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(m) for m in kind)
        raise KeywordLibraryError(
            f"{where}, column {column}: {value!r} is not one of {allowed}"
        ) from None


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise KeywordLibraryError(f"line {line}: not UTF-8 (byte {exc.start})") from None


def library_from_records(
    records: Iterable[tuple[str, Sequence[str]]], *, first: str
) -> KeywordLibrary:
    """Read a library from its rows, each with where it is (``line 3``, ``row 3``), the
    header first; blank rows are skipped; ``first`` names the first row, where a missing
    header is reported. The checks of a CSV file and of a spreadsheet."""
    entries: list[KeywordEntry] = []
    rows: list[str] = []
    header_seen = False
    for where, record in records:
        if not record:
            continue
        if not header_seen:
            if tuple(c.strip() for c in record) != HEADER:
                raise KeywordLibraryError(
                    f"{where}: the header must be {','.join(HEADER)}, not {','.join(record)}"
                )
            header_seen = True
            continue
        if len(record) != len(HEADER):
            raise KeywordLibraryError(
                f"{where}: {len(record)} columns, the header has {len(HEADER)}"
            )
        entry_id, term, category, match, action = record
        entries.append(
            KeywordEntry(
                entry_id,
                term,
                category,
                _choice(MatchMode, match or MatchMode.NORMALISED, where, "match"),
                _choice(Action, action, where, "action"),
            )
        )
        rows.append(where)
    if not header_seen:
        raise KeywordLibraryError(f"{first}: no header ({','.join(HEADER)})")
    return KeywordLibrary(entries, rows=rows)


def import_csv(data: bytes) -> KeywordLibrary:
    """Read a library; raise ``KeywordLibraryError`` naming the first bad line and column."""
    reader = csv.reader(io.StringIO(_decode(data), newline=""), strict=True)

    def records() -> Iterator[tuple[str, list[str]]]:
        line = 1
        for record in reader:
            yield f"line {line}", record
            line = reader.line_num + 1

    try:
        return library_from_records(records(), first="line 1")
    except csv.Error as exc:
        raise KeywordLibraryError(f"line {reader.line_num}: {exc}") from None


def export_csv(library: KeywordLibrary) -> bytes:
    """The library as UTF-8 CSV with a byte-order mark, entries in the library's order."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(entry.canonical() for entry in library.entries)
    return (BOM + out.getvalue()).encode()


def example_library() -> KeywordLibrary:
    """The placeholder library shipped with the package: one harmless term per category of
    GB/T 45654-2025 appendix A, to show the format and to try the filter with."""
    data = resources.files("appliance.content").joinpath("example_keywords.csv").read_bytes()
    return import_csv(data)
