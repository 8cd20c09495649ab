"""A person's name as one string in and out, Keycloak's first and last name in between.

HR exports hold one name column: "张伟" or "Wei Zhang". Keycloak's user profile has
``firstName`` and ``lastName`` (and asks a user to fill in whichever is missing at the next
sign-in), so a Chinese name is split after its surname and a Western one at its last space.
"""

from __future__ import annotations

import unicodedata

# Two-character surnames common enough to get right (复姓).
_COMPOUND_SURNAMES = frozenset(
    {"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙", "宇文"}
)


def _is_cjk(text: str) -> bool:
    return bool(text) and all(unicodedata.name(ch, "").startswith("CJK") for ch in text)


def split_name(name: str) -> tuple[str, str]:
    """``(first, last)`` of a display name."""
    name = " ".join(name.split())
    if not name:
        return "", ""
    if _is_cjk(name):
        surname = 2 if name[:2] in _COMPOUND_SURNAMES and len(name) > 2 else 1
        if len(name) == 1:
            return name, name
        return name[surname:], name[:surname]
    first, _, last = name.rpartition(" ")
    return (first, last) if first else (name, name)


def join_name(first: str, last: str) -> str:
    """The display name of a Keycloak user (surname first for a Chinese name)."""
    if first == last:
        return first
    if _is_cjk(first + last):
        return last + first
    return " ".join(part for part in (first, last) if part)
