"""The library refuses what it cannot hold, versions its content, and the matcher finds
every hit (overlapping ones included) of a 10,000-entry library and none where there is none."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.content.keywords import (
    Action,
    KeywordEntry,
    KeywordLibrary,
    KeywordLibraryError,
    Matcher,
    MatchMode,
)
from appliance.content.normalise import normalise
from tests.support.content import clean_text, synthetic_library, text_with


@pytest.fixture(scope="module")
def library() -> KeywordLibrary:
    return synthetic_library()


@pytest.fixture(scope="module")
def matcher(library: KeywordLibrary) -> Matcher:
    return Matcher(library)


def test_a_duplicate_id_is_refused_naming_both_rows() -> None:
    entries = [
        KeywordEntry("a", "一", "c"),
        KeywordEntry("b", "二", "c"),
        KeywordEntry("a", "三", "c"),
    ]
    with pytest.raises(
        KeywordLibraryError, match=r"row 3, column id: duplicate id 'a' \(first at row 1\)"
    ):
        KeywordLibrary(entries)


@pytest.mark.parametrize("term", ["", "   ", "，。！"])
def test_an_empty_term_is_refused_naming_its_row(term: str) -> None:
    with pytest.raises(KeywordLibraryError, match="row 2, column term"):
        KeywordLibrary([KeywordEntry("a", "一", "c"), KeywordEntry("b", term, "c")])


def test_punctuation_may_be_a_term_matched_exactly() -> None:
    library = KeywordLibrary([KeywordEntry("p", "！！！", "c", MatchMode.EXACT)])
    assert [(h.start, h.end) for h in Matcher(library).scan("好！！！吗！！")] == [(1, 4)]


def test_the_version_is_the_content_not_the_order() -> None:
    a, b = KeywordEntry("a", "一", "c"), KeywordEntry("b", "二", "c", action=Action.MASK)
    assert KeywordLibrary([a, b]).version == KeywordLibrary([b, a]).version
    changed = KeywordEntry("b", "二", "c", action=Action.FLAG)
    assert KeywordLibrary([a, changed]).version != KeywordLibrary([a, b]).version


def test_overlapping_and_nested_hits_are_all_reported() -> None:
    library = KeywordLibrary(
        [
            KeywordEntry("1", "国家安全", "c"),
            KeywordEntry("2", "家安", "c"),
            KeywordEntry("3", "安全法", "c"),
            KeywordEntry("4", "国家安全", "d", action=Action.FLAG),
        ]
    )
    found = [(h.entry.id, h.start, h.end) for h in Matcher(library).scan("《国家安全法》")]
    assert found == [("1", 1, 5), ("4", 1, 5), ("2", 2, 4), ("3", 3, 6)]


def test_exact_entries_match_only_the_raw_text() -> None:
    library = KeywordLibrary([KeywordEntry("e", "C++", "c", MatchMode.EXACT)])
    assert [(h.start, h.end) for h in Matcher(library).scan("c++ C++ Ｃ＋＋")] == [(4, 7)]


def test_an_empty_library_finds_nothing() -> None:
    assert Matcher(KeywordLibrary([])).scan("任何文字") == []


def test_every_planted_term_of_the_synthetic_library_is_found(
    library: KeywordLibrary, matcher: Matcher
) -> None:
    entries = list(library.entries[::97])
    text, planted = text_with(entries, 20_000, seed=3)
    found = {(h.entry.id, h.start, h.end) for h in matcher.scan(text)}
    assert {(e.id, start, end) for e, start, end in planted} <= found


def test_no_hit_in_text_generated_to_avoid_the_library(matcher: Matcher) -> None:
    assert matcher.scan(clean_text(50_000, seed=11)) == []


def test_the_synthetic_library_has_the_shape_the_standard_asks_for(
    library: KeywordLibrary,
) -> None:
    assert len(library) >= 10_000
    assert len({e.category for e in library.entries}) == 5
    assert all(2 <= len(e.term) <= 12 for e in library.entries)
    assert {e.match for e in library.entries} == set(MatchMode)
    assert {e.action for e in library.entries} == set(Action)


SMALL = KeywordLibrary(
    [
        KeywordEntry(str(i), term, "c", match)
        for i, (term, match) in enumerate(
            [
                ("甲", MatchMode.NORMALISED),
                ("甲乙", MatchMode.NORMALISED),
                ("乙甲乙", MatchMode.NORMALISED),
                ("丙丙丙", MatchMode.NORMALISED),
                ("ab", MatchMode.NORMALISED),
                ("Ab", MatchMode.EXACT),
                ("乙 甲", MatchMode.EXACT),
            ]
        )
    ]
)


def _plain_search(library: KeywordLibrary, text: str) -> set[tuple[str, int, int]]:
    """Every occurrence of every term by str.find: slow, obviously right."""
    folded = normalise(text)
    found = set()
    for entry in library.entries:
        exact = entry.match is MatchMode.EXACT
        haystack, needle = (
            (text, entry.term) if exact else (folded.text, normalise(entry.term).text)
        )
        at = haystack.find(needle)
        while at != -1:
            end = at + len(needle)
            span = (at, end) if exact else folded.original_span(at, end)
            found.add((entry.id, *span))
            at = haystack.find(needle, at + 1)
    return found


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="甲乙丙丁abAB \u200b，", max_size=60))
def test_the_scan_agrees_with_a_plain_substring_search(text: str) -> None:
    found = {(h.entry.id, h.start, h.end) for h in Matcher(SMALL).scan(text)}
    assert found == _plain_search(SMALL, text)
