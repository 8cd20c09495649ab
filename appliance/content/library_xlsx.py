"""The keyword library as an Excel workbook (.xlsx): the same columns, checks and messages
as the CSV file (``library_csv``), for administrators who keep the library in a
spreadsheet and would otherwise have to save it as CSV in the right encoding.

The first worksheet is read: a header row ``id,term,category,match,action``, then one entry
a row; errors name the row and column as the CSV's name the line. A cell Excel typed as a
number (an id such as ``1001``) reads as the digits it shows. Every exported cell is text,
so an id keeps its leading zeros and a term that starts with ``=`` stays a term, never a
formula. A file that is not a workbook, or whose parts unpack to more than
``MAX_UNPACKED_BYTES``, is refused before it is parsed.
``import_xlsx(export_xlsx(library))`` gives the library back.

May import ``appliance.errors`` and the modules beside it.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils.exceptions import InvalidFileException

from appliance.content.keywords import KeywordLibrary, KeywordLibraryError
from appliance.content.library_csv import HEADER, library_from_records
from appliance.errors import PayloadTooLarge

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# 10,000 entries unpack to a few MiB; far more is a zip bomb, not a library.
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
SHEET_TITLE = "keywords"


def _text(value: object) -> str:
    """A cell as the text it shows: whole numbers without ``.0``, dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _check_size(data: bytes) -> None:
    """Refuse a file that is no zip container, or that unpacks to too much, before any of
    it is unpacked."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except zipfile.BadZipFile:
        raise KeywordLibraryError("the file is not an Excel workbook (.xlsx)") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise PayloadTooLarge(
            f"the workbook unpacks to {unpacked} bytes, more than {MAX_UNPACKED_BYTES}",
            code="workbook_too_large",
        )


def _records(rows: Iterator[tuple[object, ...]]) -> Iterator[tuple[str, list[str]]]:
    for number, row in enumerate(rows, start=1):
        cells = [_text(value) for value in row]
        while cells and not cells[-1]:
            cells.pop()
        if cells and len(cells) < len(HEADER):
            cells += [""] * (len(HEADER) - len(cells))
        yield f"row {number}", cells


# What openpyxl raises for a damaged workbook: a missing part, malformed XML, a bad value.
_UNREADABLE = (
    InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, IndexError,
    OSError, EOFError, SyntaxError,
)  # fmt: skip


def import_xlsx(data: bytes) -> KeywordLibrary:
    """Read a library from the first worksheet; raise ``KeywordLibraryError`` naming the
    first bad row and column, or for a file that is not a readable workbook."""
    _check_size(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            if not workbook.worksheets:
                raise KeywordLibraryError("the workbook has no worksheet")
            rows = workbook.worksheets[0].iter_rows(values_only=True)
            return library_from_records(_records(rows), first="row 1")
        finally:
            workbook.close()
    except KeywordLibraryError:
        raise
    except _UNREADABLE as exc:
        raise KeywordLibraryError(f"the workbook cannot be read ({exc})") from None


def export_xlsx(library: KeywordLibrary) -> bytes:
    """The library as a workbook of one sheet, the header then the entries in order."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_TITLE)

    def row(values: list[str] | tuple[str, ...]) -> list[Any]:
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"  # text even when it starts with "=": never a formula
            cells.append(cell)
        return cells

    sheet.append(row(HEADER))
    for entry in library.entries:
        sheet.append(row(entry.canonical()))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
