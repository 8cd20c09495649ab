"""A synthetic keyword library and texts for it: deterministic, so a test or a benchmark
that fails can be rerun on the very same input.

GB/T 45654 asks for at least 10,000 entries; a real library cannot be committed, so its
stand-in has the same shape: terms of 2-12 characters, mostly Chinese, some Latin, spread
over the appendix A categories, with the three actions and a few ``exact`` entries.

Every term contains at least one *marker* character (a tenth of the Chinese characters,
and the Latin letters q, x, z and j), and ``clean_text`` never contains one, nor anything
that folds into one: so no term can occur in it, by construction rather than by checking
with the code under test. ``text_with`` plants chosen entries' terms into such text.
"""

from __future__ import annotations

import functools
import random
import string

from appliance.content.keywords import Action, KeywordEntry, KeywordLibrary, MatchMode
from appliance.content.normalise import fold_char

CATEGORIES = (
    "A.1 违反社会主义核心价值观",
    "A.2 歧视性内容",
    "A.3 商业违法违规",
    "A.4 侵犯他人合法权益",
    "A.5 特定服务类型的安全需求",
)
LATIN_MARKERS = "qxzj"
LATIN_CLEAN = "".join(c for c in string.ascii_lowercase if c not in LATIN_MARKERS)
CLEAN_PUNCTUATION = "，。、；：？！ \n"


@functools.cache
def _cjk() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(term characters, markers among them, characters only clean text uses): CJK
    characters that fold to themselves, so no clean character folds into a marker."""
    stable = [chr(c) for c in range(0x4E00, 0x9FA6) if fold_char(chr(c)) == chr(c)]
    terms = tuple(stable[:3000])
    return terms, terms[::10], tuple(stable[3000:3600])


@functools.cache
def _plain() -> tuple[str, ...]:
    """The Chinese characters clean text is written in: all but the markers."""
    terms, markers, others = _cjk()
    excluded = set(markers)
    return tuple(c for c in terms if c not in excluded) + others


def _term(rng: random.Random) -> str:
    terms, markers, _ = _cjk()
    length = rng.randint(2, 12)
    if rng.random() < 0.8:
        chars = [rng.choice(terms) for _ in range(length)]
        chars[rng.randrange(length)] = rng.choice(markers)
    else:
        chars = [rng.choice(string.ascii_lowercase) for _ in range(length)]
        chars[rng.randrange(length)] = rng.choice(LATIN_MARKERS)
    return "".join(chars)


def synthetic_library(size: int = 10_000, seed: int = 0) -> KeywordLibrary:
    """``size`` entries with distinct terms; about 70% block, 20% mask, 10% flag, 5% exact."""
    rng = random.Random(seed)
    seen: set[str] = set()
    entries: list[KeywordEntry] = []
    while len(entries) < size:
        term = _term(rng)
        if term in seen:
            continue
        seen.add(term)
        action = rng.choices(list(Action), weights=(70, 20, 10))[0]
        match = MatchMode.EXACT if rng.random() < 0.05 else MatchMode.NORMALISED
        entries.append(
            KeywordEntry(f"S{len(entries):05d}", term, rng.choice(CATEGORIES), match, action)
        )
    return KeywordLibrary(entries)


def clean_text(length: int, seed: int = 0) -> str:
    """About ``length`` characters of Chinese with Latin words, digits and punctuation, in
    which no synthetic library's term can occur."""
    rng = random.Random(seed)
    plain = _plain()
    parts: list[str] = []
    size = 0
    while size < length:
        roll = rng.random()
        if roll < 0.08:
            word = "".join(rng.choice(LATIN_CLEAN) for _ in range(rng.randint(2, 9)))
            piece = f" {word.capitalize() if rng.random() < 0.3 else word} "
        elif roll < 0.12:
            piece = str(rng.randint(0, 9999))
        elif roll < 0.22:
            piece = rng.choice(CLEAN_PUNCTUATION)
        else:
            piece = "".join(rng.choice(plain) for _ in range(rng.randint(1, 6)))
        parts.append(piece)
        size += len(piece)
    return "".join(parts)[:length]


def text_with(
    entries: list[KeywordEntry], length: int, seed: int = 0
) -> tuple[str, list[tuple[KeywordEntry, int, int]]]:
    """Clean text of about ``length`` characters with each entry's term planted once, and
    where each was planted ``(entry, start, end)``."""
    rng = random.Random(seed)
    gap = max(1, length // (len(entries) + 1))
    parts: list[str] = []
    planted: list[tuple[KeywordEntry, int, int]] = []
    offset = 0
    for index, entry in enumerate(entries):
        filler = clean_text(gap, seed=rng.randrange(1 << 30) + index)
        parts += [filler, entry.term]
        offset += len(filler)
        planted.append((entry, offset, offset + len(entry.term)))
        offset += len(entry.term)
    parts.append(clean_text(gap, seed=rng.randrange(1 << 30)))
    return "".join(parts), planted
