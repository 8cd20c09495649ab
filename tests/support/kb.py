"""Users and helpers of the knowledge-base API tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

EDITOR = "li.na"  # staff + kb-editor, /dept/finance
FINANCE_STAFF = "zhang.wei"
LEGAL_STAFF = "wang.fang"
NO_ROLE = "sun.li"


def md_file(name: str, text: str) -> tuple[str, tuple[str, bytes, str]]:
    return ("files", (name, text.encode("utf-8"), "text/markdown"))
