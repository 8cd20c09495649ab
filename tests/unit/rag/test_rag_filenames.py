"""Uploaded file names are kept as labels: no path, no control characters, bounded."""

from __future__ import annotations

import pytest

from appliance.rag.filenames import MAX_NAME_CHARS, safe_filename


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("报销制度.pdf", "报销制度.pdf"),
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("C:\\Users\\x\\合同.docx", "合同.docx"),
        ("a\x00b.txt", "ab.txt"),
        ("red\x1b[31m\r\n.txt", "red[31m.txt"),
        ("evil\u202etxt.exe", "eviltxt.exe"),
        ("zero\u200bwidth.md", "zerowidth.md"),
        ("．．／．．／etc／shadow.txt", "shadow.txt"),
        ("ｒｅｐｏｒｔ.pdf", "report.pdf"),
        ("..", "unnamed"),
        ("dir/", "unnamed"),
        ("\x00\x01", "unnamed"),
    ],
)
def test_names_are_reduced_to_a_safe_label(raw: str, kept: str) -> None:
    assert safe_filename(raw) == kept


def test_long_names_are_bounded_and_keep_their_extension() -> None:
    name = safe_filename("年" * 5000 + ".xlsx")
    assert len(name) == MAX_NAME_CHARS and name.endswith(".xlsx")
