"""Data grades (数据安全法, GB/T 43697-2024): a knowledge base's or document's grade, and
a caller's clearance, on one ordered scale.

The scale is the setting ``rag.grades``, its names lowest first (一般, 重要, 核心 by
default); the database stores a grade as its level, 1 for the lowest, so renaming a grade
is a change of settings and no migration. A document without a grade of its own takes its
knowledge base's. Retrieval returns a chunk only when its grade's level is at most the
caller's clearance, a predicate inside the SQL (``appliance.rag.retrieve``).

A clearance comes from the access token (``Principal.clearance``). Reading one never fails:
a missing, empty or unknown clearance is the lowest level, so a mistyped attribute in the
directory can only narrow what someone reads, never widen it. A grade set by an editor is
strict instead: a name not on the scale is refused, since guessing would misfile the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from appliance.errors import InvalidRequest

LOWEST = 1


def level_of(grade: str, names: Sequence[str]) -> int:
    """The level (1 = lowest) of a grade an editor names; ``InvalidRequest`` (400) if the
    scale has no such grade."""
    wanted = grade.strip()
    if wanted in names:
        return names.index(wanted) + 1
    raise InvalidRequest(
        f"There is no data grade {grade!r}; the grades are {', '.join(names)}.",
        code="unknown_grade",
    )


def clearance_level(clearance: str, names: Sequence[str]) -> int:
    """The level a caller may read up to: their clearance's, the lowest when it is missing
    or not on the scale."""
    wanted = clearance.strip()
    return names.index(wanted) + 1 if wanted in names else LOWEST


def name_of(level: int, names: Sequence[str]) -> str:
    """The name of a stored level. A level above the scale (the scale was shortened since)
    is named as the highest grade; no clearance reaches it, so it stays out of every
    answer until it is graded again."""
    return names[min(max(level, LOWEST), len(names)) - 1]


def highest(levels: Iterable[int]) -> int | None:
    """The highest of some levels, None when there are none (an answer citing nothing)."""
    return max(levels, default=None)
