"""The compact encoding the matcher's automatons run on, and the pre-filter that spares
them most of a text.

pyahocorasick looks a node's children up by a linear scan, so over Chinese text, where the
root has a child for each of thousands of characters, a character costs close to a microsecond.
Each character a library's terms use is therefore given a code, and each code is written
as a fixed-width group of byte-sized symbols (``width`` of them, at most 127 values each):
no node then has more than 127 children. The first symbol of a group is drawn from
128-254 and the others from 1-127, so a term's symbols can only match where a character's
group starts; every character the terms never use shares code 0 (its first symbol 255,
which no term has) and so can never be part of a match.

Even so the automaton costs tens of nanoseconds a symbol, so a whole text is not fed to it.
With numpy (table lookups, no Python loop) the text becomes codes, and only the *windows*
that may hold a match are kept. The code points are looked up once in a folding table (a
code, or "removed", or "several characters" for the rare ``ß``), so folding a text is one
lookup a character. A window opens where the next codes are the start of some term, tested
one more code at a time and only where the shorter start passed: first pairs (over every
position; or first characters, where few positions hold one), then, at the positions left,
triples and the first four codes, each in a hashed table (a collision only opens a window
for nothing). A window is as long as the longest term whose first four codes (all of a
shorter one's) stand there. The windows, joined by code 0 where they do not touch, are what
the automaton reads. Lookups use ``take`` with ``mode="clip"`` on indices that are in range
by construction: numpy's fancy indexing checks each index and costs several times more.

The streamed filter encodes a delta character by character instead (``encode_char``) and
feeds all of it: a delta is a few characters, and it gives the same symbols.

May import ``appliance.content.normalise`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from appliance.content.normalise import fold_char

_SYMBOLS = 127  # values a symbol of a group may take
_CODE_POINTS = 0x110000
# What the folding table holds for a code point that has no single code: folded away,
# folded into several characters (their codes in ``_expanded``), not yet computed. Each is
# above any code, and ``_REMOVED`` below the other two, so one ``max`` tells the common case.
_REMOVED, _EXPANDS, _UNKNOWN = np.uint32(0xFFFFFFFD), np.uint32(0xFFFFFFFE), np.uint32(0xFFFFFFFF)
_DEPTH = 4  # the codes of a term's start a window is opened on
_HASH_BITS = 20  # the hashed tables of starts (a collision costs time only)
_MIX = (np.uint32(0x9E3779B1), np.uint32(0x85EBCA77), np.uint32(0xC2B2AE3D), np.uint32(0x27D4EB2F))
_SHIFT = np.uint32(32 - _HASH_BITS)
_IS_KEY, _STARTS_KEY = 1, 2  # a start table's flags: some key is this start / starts so
# Below this share of positions holding a key's first character (judged on every
# _SAMPLE-th position), the start test begins from those positions rather than from pairs.
_SPARSE, _SAMPLE = 0.05, 64
# The pair test goes through the text in blocks of this many codes, so that its temporary
# arrays stay in the core's cache (measured faster; folding, one lookup, is not).
_BLOCK = 1 << 15

Codes = npt.NDArray[np.uint32]
Positions = npt.NDArray[np.int64]
_EMPTY: Positions = np.empty(0, dtype=np.int64)
Origin = Callable[[Positions], Positions]  # folded positions to original ones


def _same(at: Positions) -> Positions:
    """The way back where folding kept every character as one."""
    return at


def _listed(origin: Positions) -> Origin:
    """The way back read from the original position of each folded character, only where a
    window needs it."""
    return lambda at: origin[at]


def code_points(text: str) -> Positions:
    """The code points of ``text`` (a lone surrogate as itself), which ``Alphabet`` reads."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return points.astype(np.int64)


def _symbol_table(size: int) -> tuple[int, npt.NDArray[np.uint8]]:
    """(width, table): row ``code`` of the table is that code's group of symbols."""
    width = 1
    while _SYMBOLS**width < size:
        width += 1
    base = 2
    while base**width < size:
        base += 1
    codes = np.arange(size)
    table = np.empty((size, width), dtype=np.uint8)
    for k in range(width):
        digit = (codes // base ** (width - 1 - k)) % base
        table[:, k] = digit + (128 if k == 0 else 1)
    table[0, 0] = 255  # code 0: a character no term uses
    return width, table


def _bucket(mixed: Codes) -> Positions:
    """The slot of a hashed table for a start mixed as ``c0 * _MIX[0] ^ c1 * _MIX[1] ...``."""
    return (mixed >> _SHIFT).astype(np.int64)


@dataclass(frozen=True)
class Windows:
    """The symbols the automaton reads for one text, and for each group of them the
    original character it came from (-1 for the code 0 that joins two windows)."""

    symbols: str
    origin: Positions


class Alphabet:
    """The codes of the characters one automaton's keys use; ``fold``: whether text is
    folded (``normalise``) before it is encoded, or encoded as it is."""

    def __init__(self, keys: Iterable[str], *, fold: bool) -> None:
        keys = [key for key in keys if key]
        self.fold = fold
        ordered = sorted(set("".join(keys)))
        self._code = {char: code for code, char in enumerate(ordered, start=1)}
        self.width, self._table = _symbol_table(len(ordered) + 1)
        self._groups = [row.tobytes().decode("latin-1") for row in self._table]
        self.longest = max(map(len, keys), default=0)
        # Per code point: its code (0 for a character no key uses), or one of the sentinels.
        self._folding = np.full(_CODE_POINTS, _UNKNOWN if fold else 0, dtype=np.uint32)
        if not fold:
            for char, code in self._code.items():
                self._folding[ord(char)] = code
        self._expanded: dict[int, list[int]] = {}
        self._char_symbols: dict[str, str] = {}
        self._starts, self._reach = self._start_tables(keys, len(ordered) + 1)
        self._single = bool((self._starts[0] & _IS_KEY).any())  # some key is one code long

    def _start_tables(
        self, keys: list[str], size: int
    ) -> tuple[list[npt.NDArray[np.uint8]], npt.NDArray[np.generic]]:
        """Per start length below ``_DEPTH``, the flags of the starts the keys have (the first
        code's table indexed by code, the others hashed); and for a key's first ``_DEPTH``
        codes, hashed, the length of the longest key that starts with them."""
        coded = [[self._code[c] for c in key] for key in keys]
        lengths = np.array([len(k) for k in coded], dtype=np.int64)
        starts = [np.zeros(size, dtype=np.uint8)]
        starts += [np.zeros(1 << _HASH_BITS, dtype=np.uint8) for _ in range(2, _DEPTH)]
        reach = np.zeros(1 << _HASH_BITS, dtype=np.min_scalar_type(self.longest))
        for n in range(1, _DEPTH + 1):
            rows = lengths >= n
            if not rows.any():
                break
            heads = np.array([k[:n] for k, row in zip(coded, rows, strict=True) if row])
            if n == 1:
                slots = heads[:, 0].astype(np.int64)
            else:
                mixed = heads[:, 0].astype(np.uint32) * _MIX[0]
                for k in range(1, n):
                    mixed ^= heads[:, k].astype(np.uint32) * _MIX[k]
                slots = _bucket(mixed)
            if n == _DEPTH:
                np.maximum.at(reach, slots, lengths[rows].astype(reach.dtype))
            else:
                starts[n - 1][slots[lengths[rows] == n]] |= _IS_KEY
                starts[n - 1][slots[lengths[rows] > n]] |= _STARTS_KEY
        return starts, reach

    def encode_key(self, folded: str) -> str:
        """The symbols of a key (a term, already folded when ``fold``)."""
        return "".join(self._groups[self._code[c]] for c in folded)

    def encode_char(self, char: str) -> str:
        """The symbols of one original character (empty when folding removes it)."""
        found = self._char_symbols.get(char)
        if found is None:
            text = fold_char(char) if self.fold else char
            found = "".join(self._groups[self._code.get(c, 0)] for c in text)
            self._char_symbols[char] = found
        return found

    def _learn(self, points: Positions) -> None:
        """Fill in the folding of code points met for the first time (several characters'
        codes are stored before the table says so, for a scan running beside)."""
        for point in np.unique(points).tolist():
            codes = [self._code.get(c, 0) for c in fold_char(chr(point))]
            if len(codes) == 1:
                self._folding[point] = codes[0]
            elif codes:
                self._expanded[point] = codes
                self._folding[point] = _EXPANDS
            else:
                self._folding[point] = _REMOVED

    def codes(self, points: Positions) -> tuple[Codes, Origin]:
        """The (folded) codes of the text of ``points`` (``code_points``), and the way back
        from their positions to the original ones."""
        codes: Codes = self._folding.take(points, mode="clip")
        if not self.fold:
            return codes, _same
        if codes.max(initial=0) >= _EXPANDS:
            return self._unusual(points)
        kept = np.flatnonzero(codes != _REMOVED)
        if len(kept) == len(codes):
            return codes, _same
        return codes.take(kept, mode="clip"), _listed(kept)

    def _unusual(self, points: Positions) -> tuple[Codes, Origin]:
        """``codes`` for a text with characters met for the first time or that fold into
        several characters."""
        codes = self._folding.take(points, mode="clip")
        unknown = codes == _UNKNOWN
        if unknown.any():
            self._learn(points[unknown])
            codes = self._folding.take(points, mode="clip")
        if codes.max() == _EXPANDS:
            return self._expand(points, codes)
        return self.codes(points)  # every character known now, none folding into several

    def _expand(self, points: Positions, codes: Codes) -> tuple[Codes, Origin]:
        """``codes`` for a text with characters that fold into several."""
        counts = (codes != _REMOVED).astype(np.int64)
        many = np.flatnonzero(codes == _EXPANDS)
        expansions = [self._expanded[point] for point in points[many].tolist()]
        counts[many] = [len(expanded) for expanded in expansions]
        out = np.repeat(codes, counts)
        starts = np.cumsum(counts) - counts
        for index, expanded in zip(many.tolist(), expansions, strict=True):
            out[starts[index] : starts[index] + len(expanded)] = expanded
        return out, _listed(np.repeat(np.arange(len(points)), counts))

    def _opened(self, codes: Codes) -> tuple[Positions, Positions]:
        """Where a window opens (in order, a position possibly more than once), and how long
        it must be there: as long as the longest key whose start (its first ``_DEPTH`` codes,
        or all of a shorter one's) stands there."""
        size = len(codes)
        first = self._starts[0]
        found: list[tuple[Positions, Positions]] = []
        if size < 2 or first.take(codes[::_SAMPLE], mode="clip").astype(bool).mean() < _SPARSE:
            # Few positions hold a key's first character (an exact-match alphabet, mostly):
            # only those are looked at. Elsewhere whole slices of pairs hash faster.
            at = np.flatnonzero(first.take(codes, mode="clip") != 0)
            flags = first.take(codes.take(at, mode="clip"), mode="clip")
            mixed = codes.take(at, mode="clip") * _MIX[0]
            level = 1
        else:
            blocks = [self._pairs(codes, start) for start in range(0, size - 1, _BLOCK)]
            at, flags, mixed = (np.concatenate(parts) for parts in zip(*blocks, strict=True))
            level = 2
            if self._single:
                singles = np.flatnonzero((first.take(codes, mode="clip") & _IS_KEY) != 0)
                found.append((singles, np.ones_like(singles)))
        while True:
            here = at[(flags & _IS_KEY) != 0]
            found.append((here, np.full_like(here, level)))
            longer = (flags & _STARTS_KEY) != 0
            at, mixed = at[longer], mixed[longer]
            # Past the end the last code stands in for the missing ones: that can only open
            # a window for nothing (a key that does not fit cannot match there anyway).
            mixed = mixed ^ codes.take(at + level, mode="clip") * _MIX[level]
            level += 1
            if level == _DEPTH:
                reach = self._reach.take(_bucket(mixed), mode="clip").astype(np.int64)
                some = reach > 0
                found.append((at[some], reach[some]))
                break
            flags = self._starts[level - 1].take(_bucket(mixed), mode="clip")
        found = [(where, reach) for where, reach in found if len(where)]
        if len(found) < 2:
            return found[0] if found else (_EMPTY, _EMPTY)
        where, reach = (np.concatenate(parts) for parts in zip(*found, strict=True))
        order = np.argsort(where, kind="stable")
        return where[order], reach[order]

    def _pairs(self, codes: Codes, start: int) -> tuple[Positions, npt.NDArray[np.uint8], Codes]:
        """The positions of one block whose pair of codes (theirs and the next one) may be a
        key's start, with the pair's flags and its mix for the next codes."""
        stop = min(start + _BLOCK, len(codes) - 1)
        mixed = codes[start:stop] * _MIX[0]
        mixed ^= codes[start + 1 : stop + 1] * _MIX[1]
        flags = self._starts[1].take(_bucket(mixed), mode="clip")
        at = np.flatnonzero(flags != 0)  # several times faster on booleans than on bytes
        return at + start, flags.take(at, mode="clip"), mixed.take(at, mode="clip")

    def windows(self, points: Positions) -> Windows:
        """The parts of the text of ``points`` a match may lie in, as symbols (see the
        module's docstring)."""
        codes, origin = self.codes(points)
        opened, reach = self._opened(codes)
        if not len(opened):
            return Windows("", _EMPTY)
        # Windows [start, start + reach) that overlap or touch are merged into runs (a
        # position opened twice lies in one run, which ends where its longer window does).
        ends = np.minimum(opened + reach, len(codes))
        new_run = np.ones(len(opened), dtype=bool)
        new_run[1:] = opened[1:] > np.maximum.accumulate(ends)[:-1]
        firsts = np.flatnonzero(new_run)
        run_starts = opened[firsts]
        lengths = np.maximum.reduceat(ends, firsts) - run_starts
        before = np.cumsum(lengths) - lengths
        kept = np.arange(int(lengths.sum())) + np.repeat(run_starts - before, lengths)
        # Each run is preceded by one code 0, so no match runs from one into the next.
        slots = kept - np.repeat(run_starts - before - np.arange(1, len(firsts) + 1), lengths)
        out_codes = np.zeros(int(slots[-1]) + 1, dtype=np.uint32)
        out_origin = np.full(len(out_codes), -1, dtype=np.int64)
        out_codes[slots] = codes[kept]
        out_origin[slots] = origin(kept)
        return Windows(self._table[out_codes].tobytes().decode("latin-1"), out_origin)
