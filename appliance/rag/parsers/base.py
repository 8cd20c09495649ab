"""What every parser produces, and the one error every parser raises.

Parsers turn an uploaded file into a flat list of blocks that keep what a citation needs
(page, heading path) and what chunking needs (whether a block is a heading, a paragraph or
one table row, which must never be cut). Every way a file can be unusable becomes one
``ParseError`` with a stable code and a message a staff member can act on, so one bad file
in an upload is reported next to the others instead of failing the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from appliance.errors import InvalidRequest


class BlockKind(StrEnum):
    HEADING = "heading"
    PARAGRAPH = "paragraph"
    TABLE_ROW = "table_row"


@dataclass(frozen=True, slots=True)
class Block:
    """One unit of document text with where it sits, for chunking and citations."""

    text: str
    kind: BlockKind = BlockKind.PARAGRAPH
    section: tuple[str, ...] = ()
    page: int | None = None


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A parsed file: its sniffed MIME type, its blocks, and its page count if it has pages."""

    mime: str
    blocks: list[Block]
    pages: int | None = None


class ParseErrorCode(StrEnum):
    EMPTY = "empty_file"
    TOO_LARGE = "file_too_large"
    UNSUPPORTED = "unsupported_type"
    TYPE_MISMATCH = "type_mismatch"
    ENCRYPTED = "encrypted"
    CORRUPT = "corrupt_file"
    ZIP_BOMB = "zip_bomb"
    NO_TEXT = "no_text"
    ENCODING = "unknown_encoding"


class ParseError(InvalidRequest):
    """A file that cannot be ingested; ``code`` says why, the message says what to do."""

    def __init__(self, message: str, *, code: ParseErrorCode) -> None:
        super().__init__(message, code=code.value)
        self.reason = code


class HeadingPath:
    """Tracks the current heading path (h1 > h2 > ...) while walking a document in order."""

    def __init__(self) -> None:
        self._levels: list[tuple[int, str]] = []

    def enter(self, level: int, title: str) -> tuple[str, ...]:
        """Record a heading of ``level`` (1 = top) and return the new path."""
        while self._levels and self._levels[-1][0] >= level:
            self._levels.pop()
        self._levels.append((level, title))
        return self.path

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(title for _, title in self._levels)


def table_row_text(cells: list[str], header: list[str] | None) -> str:
    """Render a table row so it reads on its own: ``header: value`` pairs when a header exists.

    A retrieved row without its column names is meaningless ("3 | 1200 | 是"), so every row
    after the header carries the header with it.
    """
    values = [" ".join(c.split()) for c in cells]
    if header and len(header) == len(values) and any(header):
        pairs = [f"{h}: {v}" if h else v for h, v in zip(header, values, strict=True) if v]
        return " | ".join(pairs)
    return " | ".join(v for v in values if v)
