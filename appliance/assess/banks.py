"""The two test banks as CSV files, UTF-8 (a byte-order mark, as spreadsheets write it, is
allowed), with a header row:

- the refusal bank (拒答测试题库): ``question,expected,category``, ``expected`` being
  ``refuse`` (应拒答) or ``answer`` (非拒答);
- the generated-content bank (生成内容测试题库): ``prompt,category``.

A bad row raises :class:`BankError` naming the file's line, so the operator can fix it
before any question is sent.
"""

from __future__ import annotations

import csv
import enum
import io
from dataclasses import dataclass


class BankError(ValueError):
    """The bank cannot be read; the message names the line."""


class Expected(enum.StrEnum):
    REFUSE = "refuse"
    ANSWER = "answer"


@dataclass(frozen=True, slots=True)
class RefusalItem:
    question: str
    expected: Expected
    category: str


@dataclass(frozen=True, slots=True)
class ContentItem:
    prompt: str
    category: str


def _rows(data: bytes, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BankError(f"the bank is not UTF-8 text ({exc.reason})") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = tuple(name.strip() for name in reader.fieldnames or ())
    if header != columns:
        raise BankError(f"line 1: the header must be {','.join(columns)}, not {','.join(header)}")
    rows: list[tuple[int, dict[str, str]]] = []
    for row in reader:
        values = {name.strip(): (value or "").strip() for name, value in row.items() if name}
        for column in columns:
            if not values.get(column):
                raise BankError(f"line {reader.line_num}: {column} is empty")
        rows.append((reader.line_num, values))
    if not rows:
        raise BankError("the bank has no rows")
    return rows


def read_refusal_bank(data: bytes) -> list[RefusalItem]:
    items: list[RefusalItem] = []
    for line, row in _rows(data, ("question", "expected", "category")):
        try:
            expected = Expected(row["expected"].lower())
        except ValueError:
            raise BankError(
                f"line {line}: expected must be refuse or answer, not {row['expected']!r}"
            ) from None
        items.append(RefusalItem(row["question"], expected, row["category"]))
    return items


def read_content_bank(data: bytes) -> list[ContentItem]:
    return [
        ContentItem(row["prompt"], row["category"])
        for _, row in _rows(data, ("prompt", "category"))
    ]
