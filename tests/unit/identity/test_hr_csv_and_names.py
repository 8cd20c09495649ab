"""HR exports (UTF-8 with BOM or GB18030, Chinese names) and names in and out of Keycloak."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.identity.hr_csv import CsvFormatError, parse_rows, read_rows
from appliance.identity.names import join_name, split_name

EXPORT = (
    "Username,Name,Email,Department,Roles\n"
    "zhang.san,张三,zhang.san@example.cn,/dept/finance,staff;kb-editor\n"
    "\n"
    "ouyang.xiu,欧阳修,,/dept/legal,\n"
)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030", "utf-8"])
def test_export_is_read_in_either_encoding(encoding: str, tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    path.write_bytes(EXPORT.encode(encoding))
    assert read_rows(path) == [
        {
            "username": "zhang.san",
            "name": "张三",
            "email": "zhang.san@example.cn",
            "department": "/dept/finance",
            "roles": ["staff", "kb-editor"],
        },
        {"username": "ouyang.xiu", "name": "欧阳修", "department": "/dept/legal"},
    ]


def test_a_file_without_the_username_column_is_refused() -> None:
    with pytest.raises(CsvFormatError):
        parse_rows("name,email\n张三,a@b.cn\n")


def test_binary_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    path.write_bytes(b"\xff\xfe\x00\x81\x30\xff")
    with pytest.raises(CsvFormatError):
        read_rows(path)


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("张伟", "伟", "张"),
        ("欧阳娜娜", "娜娜", "欧阳"),
        ("Wei Zhang", "Wei", "Zhang"),
        ("Anne Marie Smith", "Anne Marie", "Smith"),
        ("Madonna", "Madonna", "Madonna"),
    ],
)
def test_names_round_trip(name: str, first: str, last: str) -> None:
    assert split_name(name) == (first, last)
    assert join_name(first, last) == name
