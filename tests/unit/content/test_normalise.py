"""Disguised variants of a term fold to the term itself and are found where they stand in
the original text: full-width, traditional, upper case, and characters slipped between."""

from __future__ import annotations

import opencc
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.content.keywords import KeywordEntry, KeywordLibrary, Matcher
from appliance.content.normalise import normalise

# Harmless words whose traditional form differs from the simplified one, and Latin ones.
TERMS = ("国家发展", "经济数据", "电视节目", "学习资料", "银行账户", "placeholder", "abc2x")
INSERTED = ("\u200b", "\u200d", "\ufeff", "\u2060", " ", "\u3000", "。", "-", "*", "·", "\u00ad")
PREFIX, SUFFIX = "前面的文字 text ", " 后面的文字"

LIBRARY = KeywordLibrary(KeywordEntry(f"T{i}", t, "A.1") for i, t in enumerate(TERMS))
MATCHER = Matcher(LIBRARY)
S2T = opencc.OpenCC("s2t")


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def traditional(text: str) -> str:
    return str(S2T.convert(text))


def upper(text: str) -> str:
    return text.upper()


DISGUISES = (full_width, traditional, upper)


@st.composite
def disguised(draw: st.DrawFn) -> tuple[int, str]:
    """(index of the term, a disguised variant of it)."""
    index = draw(st.integers(0, len(TERMS) - 1))
    text = TERMS[index]
    for disguise in draw(st.lists(st.sampled_from(DISGUISES), unique=True)):
        text = disguise(text)
    chars = list(text)
    for position in draw(st.lists(st.integers(1, len(chars) - 1), max_size=4)):
        chars[position] = draw(st.sampled_from(INSERTED)) + chars[position]
    return index, "".join(chars)


@settings(max_examples=300, deadline=None)
@given(disguised())
def test_a_disguised_term_is_found_at_its_original_span(case: tuple[int, str]) -> None:
    index, variant = case
    text = PREFIX + variant + SUFFIX
    hits = [(h.entry.id, h.start, h.end) for h in MATCHER.scan(text)]
    assert hits == [(f"T{index}", len(PREFIX), len(PREFIX) + len(variant))]


def test_each_disguise_on_its_own() -> None:
    for variant in (
        "國家發展",
        "ＰＬＡＣＥＨＯＬＤＥＲ",
        "国\u200b家\u200d发\ufeff展",
        "国 家。发-展",
        "PlaceHolder",
    ):
        assert normalise(variant).text in {"国家发展", "placeholder"}


def test_the_map_points_each_folded_character_at_its_origin() -> None:
    folded = normalise("Ａ\u200b國 ß")
    assert folded.text == "a国ss"
    assert folded.origin == (0, 2, 4, 4)
    assert folded.original_span(1, 4) == (2, 5)


def test_terms_and_text_fold_alike() -> None:
    assert normalise("ＡＢＣ，２").text == normalise("abc2").text == "abc2"


def test_code_points_no_reader_sees_are_removed_not_an_error() -> None:
    """A lone surrogate (a JSON escape can carry one), private use and unassigned code
    points slipped into a term neither hide it nor stop the filter."""
    text = "国\ud800家\ue000发\U000e0001展\U0010fffd"
    assert normalise(text).text == "国家发展"
    assert [(h.start, h.end) for h in MATCHER.scan(text)] == [(0, 7)]
