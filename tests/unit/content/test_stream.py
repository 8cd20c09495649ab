"""The streaming filter never releases any part of a blocked term, wherever the deltas cut
it; masks and flags as a one-shot scan would; and releases clean text unchanged."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from appliance.content.keywords import (
    Action,
    Hit,
    KeywordEntry,
    KeywordLibrary,
    Matcher,
    MatchMode,
)
from appliance.content.stream import Emission, StreamFilter
from tests.support.content import clean_text, synthetic_library, text_with

LIBRARY = KeywordLibrary(
    [
        KeywordEntry("B1", "国家安全", "A.1"),
        KeywordEntry("B2", "placeholder", "A.1"),
        KeywordEntry("M1", "示例词", "A.4", action=Action.MASK),
        KeywordEntry("F1", "样本", "A.5", action=Action.FLAG),
        KeywordEntry("E1", "C++", "A.3", MatchMode.EXACT, Action.BLOCK),
    ]
)
MATCHER = Matcher(LIBRARY)


def run(matcher: Matcher, deltas: list[str]) -> tuple[list[Emission], Emission]:
    stream = StreamFilter(matcher)
    return [stream.feed(d) for d in deltas], stream.finish()


def cuts(text: str, pieces: int) -> list[list[str]]:
    """Every way to cut ``text`` into ``pieces`` non-empty deltas."""
    found = []
    for points in itertools.combinations(range(1, len(text)), pieces - 1):
        bounds = [0, *points, len(text)]
        found.append([text[a:b] for a, b in itertools.pairwise(bounds)])
    return found


@pytest.mark.parametrize(
    ("variant", "entry"),
    [("國 家\u200b安。全", "B1"), ("ＰＬＡＣＥ-holder", "B2"), ("C++", "E1")],
)
@pytest.mark.parametrize("pieces", [2, 3])
def test_a_term_cut_anywhere_is_blocked_before_any_of_it_is_released(
    variant: str, entry: str, pieces: int
) -> None:
    before, after = "开头的话，", "之后的话"
    text = before + variant + after
    for deltas in cuts(text, pieces):
        emissions, final = run(MATCHER, deltas)
        released = "".join(e.text for e in emissions) + final.text
        # What came before may be held back too (it could start another term), never more.
        assert before.startswith(released), deltas
        blocked = [e.blocked for e in emissions if e.blocked is not None]
        assert blocked and blocked[0].entry.id == entry
        assert (blocked[0].start, blocked[0].end) == (len(before), len(before) + len(variant))


def test_nothing_is_released_after_a_block() -> None:
    stream = StreamFilter(MATCHER)
    assert stream.feed("国家安全").blocked is not None
    later = stream.feed("更多的文字" * 10)
    assert later.text == "" and later.blocked is not None
    assert stream.finish().text == ""


def test_mask_replaces_the_original_span_and_goes_on() -> None:
    text = "这是示\u200b例词，还有示例詞。"
    emissions, final = run(MATCHER, list(text))
    assert "".join(e.text for e in emissions) + final.text == "这是****，还有***。"
    assert [(h.entry.id, h.start, h.end) for e in emissions for h in e.hits] == [
        ("M1", 2, 6),
        ("M1", 9, 12),
    ]


def test_flag_releases_unchanged_and_reports() -> None:
    emissions, final = run(MATCHER, ["一个样", "本而已"])
    assert "".join(e.text for e in emissions) + final.text == "一个样本而已"
    hits = [h for e in emissions for h in e.hits]
    assert [(h.entry.id, h.start, h.end) for h in hits] == [("F1", 2, 4)]
    assert all(e.blocked is None for e in emissions)


def test_the_holdback_is_the_longest_term_at_most() -> None:
    stream = StreamFilter(MATCHER)
    released = "".join(stream.feed(c).text for c in "与任何词都无关的一段文字")
    longest = max(len(e.term) for e in LIBRARY.entries)
    assert len("与任何词都无关的一段文字") - len(released) <= longest - 1


@pytest.fixture(scope="module")
def synthetic() -> tuple[KeywordLibrary, Matcher]:
    library = synthetic_library()
    return library, Matcher(library)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), sizes=st.lists(st.integers(1, 8), min_size=1))
def test_streamed_clean_text_comes_out_unchanged(
    synthetic: tuple[KeywordLibrary, Matcher], seed: int, sizes: list[int]
) -> None:
    text = clean_text(400, seed=seed)
    stream = StreamFilter(synthetic[1])
    out, position, step = [], 0, 0
    while position < len(text):
        size = sizes[step % len(sizes)]
        emission = stream.feed(text[position : position + size])
        assert emission.hits == () and emission.blocked is None
        out.append(emission.text)
        position, step = position + size, step + 1
    assert "".join(out) + stream.finish().text == text


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), size=st.integers(1, 8))
def test_the_stream_finds_what_a_one_shot_scan_finds(
    synthetic: tuple[KeywordLibrary, Matcher], seed: int, size: int
) -> None:
    library, matcher = synthetic
    entries = [e for e in library.entries[seed % 50 :: 997] if e.action is not Action.BLOCK]
    text, _ = text_with(entries, 600, seed=seed)
    stream = StreamFilter(matcher)
    out: list[str] = []
    hits: list[Hit] = []
    for position in range(0, len(text), size):
        emission = stream.feed(text[position : position + size])
        out.append(emission.text)
        hits.extend(emission.hits)
    out.append(stream.finish().text)
    expected = matcher.scan(text)
    assume(all(h.entry.action is not Action.BLOCK for h in expected))
    assert sorted((h.entry.id, h.start, h.end) for h in hits) == sorted(
        (h.entry.id, h.start, h.end) for h in expected
    )
    masked = list(text)
    for hit in expected:
        if hit.entry.action is Action.MASK:
            masked[hit.start : hit.end] = "*" * (hit.end - hit.start)
    assert "".join(out) == "".join(masked)


DENSE = KeywordLibrary(
    [
        KeywordEntry("m1", "甲乙", "c", action=Action.MASK),
        KeywordEntry("f1", "乙甲乙", "c", action=Action.FLAG),
        KeywordEntry("m2", "ab", "c", action=Action.MASK),
        KeywordEntry("f2", "Ab", "c", MatchMode.EXACT, Action.FLAG),
        KeywordEntry("b1", "丙丁丙", "c"),
        KeywordEntry("b2", "丁 a", "c", MatchMode.EXACT),
    ]
)
DENSE_MATCHER = Matcher(DENSE)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet="甲乙丙丁abAB \u200b，", max_size=50),
    sizes=st.lists(st.integers(1, 5), min_size=1, max_size=10),
)
def test_cut_anyhow_the_stream_agrees_with_the_scan(text: str, sizes: list[int]) -> None:
    stream = StreamFilter(DENSE_MATCHER)
    out: list[str] = []
    hits: list[Hit] = []
    blocked = None
    position = step = 0
    while position < len(text):
        size = sizes[step % len(sizes)]
        emission = stream.feed(text[position : position + size])
        out.append(emission.text)
        hits.extend(emission.hits)
        blocked = emission.blocked
        position, step = position + size, step + 1
    out.append(stream.finish().text)
    released = "".join(out)
    expected = DENSE_MATCHER.scan(text)
    blocks = [h for h in expected if h.entry.action is Action.BLOCK]
    if blocks:
        first = min(blocks, key=lambda h: h.end)
        assert blocked in blocks
        assert len(released) <= min(h.start for h in blocks)
        expected = [h for h in expected if h.end <= first.end]
    else:
        assert blocked is None
        assert len(released) == len(text)
    masked = list(text)
    for hit in expected:
        if hit.entry.action is Action.MASK:
            masked[hit.start : hit.end] = "*" * (hit.end - hit.start)
    assert released == "".join(masked)[: len(released)]
    reported = {(h.entry.id, h.start, h.end) for h in hits}
    assert {
        (h.entry.id, h.start, h.end) for h in expected if h.entry.action is not Action.BLOCK
    } <= reported
