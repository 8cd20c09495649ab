"""The data grade scale: levels from names, clearances that never fail upwards, the setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from appliance.errors import InvalidRequest
from appliance.rag.config import RagSettings
from appliance.rag.grades import LOWEST, clearance_level, highest, level_of, name_of

SCALE = ["一般", "重要", "核心"]


def test_the_default_scale_is_the_three_grades_lowest_first() -> None:
    assert RagSettings().grades == SCALE


@pytest.mark.parametrize(("name", "level"), [("一般", 1), ("重要", 2), ("核心", 3), (" 重要 ", 2)])
def test_a_grade_name_gives_its_level(name: str, level: int) -> None:
    assert level_of(name, SCALE) == level


@pytest.mark.parametrize("name", ["", "绝密", "core", "一般 重要", "3"])
def test_a_grade_not_on_the_scale_is_refused_with_its_code(name: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        level_of(name, SCALE)
    assert refused.value.code == "unknown_grade"
    assert "一般, 重要, 核心" in refused.value.message


@pytest.mark.parametrize(
    ("clearance", "level"),
    [("", 1), ("一般", 1), ("重要", 2), ("核心", 3), ("核心 ", 3), ("绝密", 1), ("3", 1)],
)
def test_a_clearance_off_the_scale_or_missing_is_the_lowest(clearance: str, level: int) -> None:
    assert clearance_level(clearance, SCALE) == level


def test_levels_are_ordered_as_the_names_are_listed() -> None:
    levels = [level_of(name, SCALE) for name in SCALE]
    assert levels == sorted(levels) == [LOWEST, 2, 3]
    assert [name_of(level, SCALE) for level in levels] == SCALE


def test_a_level_beyond_a_shortened_scale_is_named_as_its_highest() -> None:
    assert name_of(3, ["公开", "内部"]) == "内部"
    assert clearance_level("内部", ["公开", "内部"]) == 2 < 3


def test_the_highest_of_no_levels_is_none() -> None:
    assert highest([]) is None
    assert highest([1, 3, 2]) == 3


def test_names_are_configurable_and_checked() -> None:
    custom = RagSettings(grades=[" L1", "L2 ", "L3", "L4"])
    assert custom.grades == ["L1", "L2", "L3", "L4"]
    assert clearance_level("L4", custom.grades) == 4
    for bad in ([], ["一般", ""], ["一般", "一般"]):
        with pytest.raises(ValidationError):
            RagSettings(grades=bad)
