"""The matcher's fast path (a folding table, prefix tests in hashed tables, windows of the
text) finds exactly what a plain scan finds: one Aho-Corasick automaton over the whole
folded text, and one over the raw text for ``exact`` entries, with no encoding and no
pre-filter. The plain scan is kept here as the reference the fast path must agree with.

Libraries and texts are drawn from a small alphabet so that terms share their starts and
run past the depth the prefix tests look at, with characters that fold away (spaces,
punctuation, zero-width), into several (``ß``, ``⑩``, ``ﬁ``) or into another (full-width,
traditional, upper case). Each case runs with the prefix tables at full size and at 3 bits
(nearly every start collides, so windows open for nothing and must still find only real
hits), and with the start test beginning from pairs and from first characters.
"""

from __future__ import annotations

from unittest import mock

import ahocorasick
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.content import alphabet
from appliance.content.alphabet import Alphabet, code_points
from appliance.content.keywords import KeywordEntry, KeywordLibrary, Matcher, MatchMode
from appliance.content.normalise import normalise
from tests.support.content import synthetic_library, text_with

TERM_CHARS = "甲乙丙國国aAｂb"
TEXT_CHARS = TERM_CHARS + "ß⑩ﬁss1 \u200b，-"

Found = set[tuple[str, int, int]]


def reference_scan(library: KeywordLibrary, text: str) -> Found:
    """Every hit by a plain automaton over the folded text and one over the raw text."""
    folded = normalise(text)
    found: Found = set()
    for mode in MatchMode:
        automaton = ahocorasick.Automaton()
        keys: dict[str, list[str]] = {}
        for entry in library.entries:
            if entry.match is mode:
                key = entry.term if mode is MatchMode.EXACT else normalise(entry.term).text
                keys.setdefault(key, []).append(entry.id)
        if not keys:
            continue
        for key, ids in keys.items():
            automaton.add_word(key, (len(key), ids))
        automaton.make_automaton()
        haystack = text if mode is MatchMode.EXACT else folded.text
        for end, (length, ids) in automaton.iter(haystack):
            start, stop = end + 1 - length, end + 1
            if mode is MatchMode.NORMALISED:
                start, stop = folded.original_span(start, stop)
            found.update((entry_id, start, stop) for entry_id in ids)
    return found


def fast_scan(library: KeywordLibrary, text: str, *, hash_bits: int, sparse: float) -> Found:
    with mock.patch.multiple(
        alphabet, _HASH_BITS=hash_bits, _SHIFT=np.uint32(32 - hash_bits), _SPARSE=sparse
    ):
        matcher = Matcher(library)
        return {(h.entry.id, h.start, h.end) for h in matcher.scan(text)}


@st.composite
def libraries(draw: st.DrawFn) -> KeywordLibrary:
    terms = draw(
        st.lists(st.text(TERM_CHARS, min_size=1, max_size=7), min_size=1, max_size=12, unique=True)
    )
    modes = draw(st.lists(st.sampled_from(MatchMode), min_size=len(terms), max_size=len(terms)))
    return KeywordLibrary(
        KeywordEntry(f"K{index}", term, "c", mode)
        for index, (term, mode) in enumerate(zip(terms, modes, strict=True))
    )


@settings(max_examples=400, deadline=None)
@given(
    library=libraries(),
    text=st.text(TEXT_CHARS, max_size=120),
    hash_bits=st.sampled_from([3, 20]),
    sparse=st.sampled_from([0.0, 2.0]),
)
def test_the_fast_scan_finds_what_a_plain_scan_finds(
    library: KeywordLibrary, text: str, hash_bits: int, sparse: float
) -> None:
    assert fast_scan(library, text, hash_bits=hash_bits, sparse=sparse) == reference_scan(
        library, text
    )


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=80) | st.text(TEXT_CHARS + "ＡＢ①㎏\ud800\ue000", max_size=80))
def test_the_folding_table_gives_the_folded_text_and_its_map_back(text: str) -> None:
    keys = ["甲乙", "abc", "ss1", "国", "kg"]
    table = Alphabet(keys, fold=True)
    folded = normalise(text)
    codes, origin = table.codes(code_points(text))
    # The alphabet numbers its characters in sorted order from 1; any other character is 0.
    numbered = {char: code for code, char in enumerate(sorted(set("".join(keys))), start=1)}
    assert codes.tolist() == [numbered.get(char, 0) for char in folded.text]
    assert origin(np.arange(len(codes))).tolist() == list(folded.origin)


def test_the_synthetic_library_on_a_long_text_agrees_with_the_plain_scan() -> None:
    """Both ways the start test may begin, over a text long enough for its sampling."""
    library = synthetic_library(2_000, seed=5)
    text, planted = text_with(list(library.entries[::40]), 30_000, seed=7)
    expected = reference_scan(library, text)
    assert {(e.id, start, end) for e, start, end in planted} <= expected
    for sparse in (0.0, 2.0):
        assert fast_scan(library, text, hash_bits=20, sparse=sparse) == expected
