"""An HR export as rows for ``appliance users import``.

Columns ``username, name, email, department, roles`` (header names case-insensitive, in any
order; ``roles`` separated by ``;`` or ``|``, default ``staff``). Excel on a Chinese Windows
saves CSV as GB18030, other tools as UTF-8 with a BOM: both are read, UTF-8 first. Rows are
not validated here: the gateway validates each one and reports it ok or with its reason.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

COLUMNS = ("username", "name", "email", "department", "roles")
ENCODINGS = ("utf-8-sig", "gb18030")


class CsvFormatError(ValueError):
    """The file cannot be read as an HR export at all (encoding, missing header)."""


def decode(data: bytes) -> str:
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvFormatError("the file is neither UTF-8 nor GB18030 text")


def parse_rows(text: str) -> list[dict[str, object]]:
    """One dict per data row, with the known columns only; blank lines skipped."""
    reader = csv.DictReader(io.StringIO(text))
    header = {name.strip().lower(): name for name in reader.fieldnames or []}
    if "username" not in header:
        raise CsvFormatError(f"the header must name the columns {', '.join(COLUMNS)}")
    rows: list[dict[str, object]] = []
    for raw in reader:
        values = {col: (raw.get(header[col]) or "").strip() for col in COLUMNS if col in header}
        if not any(values.values()):
            continue
        row: dict[str, object] = {k: v for k, v in values.items() if k != "roles" and v}
        row["username"] = values.get("username", "")
        roles = str(values.get("roles", "")).replace("|", ";")
        if roles:
            row["roles"] = [role.strip() for role in roles.split(";") if role.strip()]
        rows.append(row)
    return rows


def read_rows(path: Path) -> list[dict[str, object]]:
    return parse_rows(decode(path.read_bytes()))
