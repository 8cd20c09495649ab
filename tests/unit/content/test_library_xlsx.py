"""The library as an Excel workbook: the same columns and checks as the CSV file, export and
import that give each other back, cells Excel typed as numbers, and damaged or oversized
files refused with a message instead of a crash."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook

from appliance.content.keywords import Action, KeywordEntry, KeywordLibrary, KeywordLibraryError
from appliance.content.library_csv import HEADER, export_csv, import_csv
from appliance.content.library_xlsx import MAX_UNPACKED_BYTES, export_xlsx, import_xlsx
from appliance.errors import PayloadTooLarge
from tests.support.content import synthetic_library


def _workbook(*rows: tuple[object, ...]) -> bytes:
    """A workbook as a spreadsheet program writes it: typed cells, not all text."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_export_and_import_give_each_other_back_and_match_the_csv() -> None:
    library = synthetic_library(2_000, seed=7)
    again = import_xlsx(export_xlsx(library))
    assert again.entries == library.entries and again.version == library.version
    assert export_csv(again) == export_csv(library)
    assert import_csv(export_csv(again)).entries == library.entries


def test_text_that_looks_like_a_formula_or_a_number_stays_text() -> None:
    library = KeywordLibrary(
        [
            KeywordEntry("0012", "=HYPERLINK(1)", "c,d"),
            KeywordEntry("b", "+86 123", "类别", action=Action.FLAG),
        ]
    )
    assert import_xlsx(export_xlsx(library)).entries == library.entries


def test_cells_typed_as_numbers_read_as_shown_and_an_empty_match_is_normalised() -> None:
    data = _workbook(HEADER, (1001, "一", "c", None, "mask"), (), (2.0, "二", "c", "exact", "flag"))
    library = import_xlsx(data)
    assert [e.id for e in library.entries] == ["1001", "2"]
    assert library.entries[0].action is Action.MASK


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (((1, "一", "c", None, "block"), ("b", None, "c", None, "block")), "row 3, column term"),
        (((1, "一", "c", None, "stop"),), "row 2, column action: 'stop' is not one of"),
        (((1, "一", "c", "fuzzy", "block"),), "row 2, column match: 'fuzzy' is not one of"),
        (((1, "一", "c", None, "block", "extra"),), "row 2: 6 columns, the header has 5"),
        (((1, "一", "c", None, "block"), (1, "二", "c", None, "block")), "duplicate id '1'"),
    ],
)
def test_an_error_names_the_row_and_column(rows: tuple[tuple[object, ...]], message: str) -> None:
    with pytest.raises(KeywordLibraryError, match=message):
        import_xlsx(_workbook(HEADER, *rows))


def test_a_wrong_header_or_no_header_is_named() -> None:
    with pytest.raises(KeywordLibraryError, match="row 1: the header must be"):
        import_xlsx(_workbook(("id", "word", "category", "match", "action")))
    with pytest.raises(KeywordLibraryError, match="row 1: no header"):
        import_xlsx(_workbook())


def _damaged(data: bytes) -> bytes:
    """The workbook with its worksheet's XML cut in half."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            part = source.read(member)
            target.writestr(
                member, part[: len(part) // 2] if "worksheets/" in member.filename else part
            )
    return out.getvalue()


@pytest.mark.parametrize(
    "data",
    [b"", b"id,term,category,match,action\n", b"PK\x03\x04 not really a zip"],
    ids=["empty", "csv", "truncated-zip"],
)
def test_a_file_that_is_not_a_workbook_is_refused(data: bytes) -> None:
    with pytest.raises(KeywordLibraryError, match="not an Excel workbook"):
        import_xlsx(data)


def test_a_damaged_workbook_is_refused_with_a_message() -> None:
    data = _damaged(export_xlsx(synthetic_library(50, seed=1)))
    with pytest.raises(KeywordLibraryError, match="the workbook cannot be read"):
        import_xlsx(data)


def test_a_workbook_that_unpacks_to_too_much_is_refused_before_it_is_read() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("xl/worksheets/sheet1.xml", b"\0" * (MAX_UNPACKED_BYTES + 1))
    assert len(out.getvalue()) < 1024 * 1024
    with pytest.raises(PayloadTooLarge) as refused:
        import_xlsx(out.getvalue())
    assert refused.value.status_code == 413 and refused.value.code == "workbook_too_large"
