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
With numpy (one table lookup per character, no Python loop) the text becomes codes, and
only the *windows* that may hold a match are kept: every match starts with its term's
first three characters (all of them, for a shorter term), so each position where the next
one, two or three codes are the start of some term opens a window as long as the longest
term (pairs and triples are looked up in hashed tables: a collision only opens a
window for nothing). The windows, joined by code 0 where they do not touch, are what the
automaton reads.

The streamed filter encodes a delta character by character instead (``encode_char``) and
feeds all of it: a delta is a few characters, and it gives the same symbols.

May import ``appliance.content.normalise`` only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from appliance.content.normalise import fold_char

_SYMBOLS = 127  # values a symbol of a group may take
_UNKNOWN = 255  # a count not yet computed for this code point
_CODE_POINTS = 0x110000
_HASH_BITS = 20  # the hashed tables of first pairs and triples (a collision costs time only)
_MIX = (np.uint32(0x9E3779B1), np.uint32(0x85EBCA77), np.uint32(0xC2B2AE3D))
_SHIFT = np.uint32(32 - _HASH_BITS)
# Below this share of positions holding a key's first character (judged on every
# _SAMPLE-th position), the start test gathers those positions rather than hashing slices.
_SPARSE, _SAMPLE = 0.25, 64

Codes = npt.NDArray[np.uint32]
Positions = npt.NDArray[np.int64]


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


def _hash(*columns: Codes) -> Codes:
    """A multiplicative hash of a pair or a triple of codes, in ``_HASH_BITS`` bits."""
    mixed = columns[0] * _MIX[0]
    for column, factor in zip(columns[1:], _MIX[1:], strict=False):
        mixed ^= column * factor
    return mixed >> _SHIFT


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
        keys = list(keys)
        self.fold = fold
        ordered = sorted(set("".join(keys)))
        self._code = {char: code for code, char in enumerate(ordered, start=1)}
        self.width, self._table = _symbol_table(len(ordered) + 1)
        self._groups = [row.tobytes().decode("latin-1") for row in self._table]
        self.longest = max(map(len, keys), default=0)
        # Per code point: how many folded characters it gives, and the first one's code.
        self._count = np.full(_CODE_POINTS, _UNKNOWN if fold else 1, dtype=np.uint8)
        self._first = np.zeros(_CODE_POINTS, dtype=np.uint32)
        if not fold:
            for char, code in self._code.items():
                self._first[ord(char)] = code
        self._expanded: dict[int, list[int]] = {}
        self._char_symbols: dict[str, str] = {}
        # What may start a match: a key's first three codes, or all of a shorter one's.
        self._single = np.zeros(len(ordered) + 1, dtype=bool)
        self._leads = np.zeros(len(ordered) + 1, dtype=bool)
        self._leads[[self._code[key[0]] for key in keys if key]] = True
        self._starts: dict[int, npt.NDArray[np.bool_] | None] = {2: None, 3: None}
        for n in (1, 2, 3):
            heads = [key[:3] for key in keys if min(len(key), 3) == n]
            if not heads:
                continue
            firsts = np.array([[self._code[c] for c in h] for h in heads], dtype=np.uint32)
            if n == 1:
                self._single[firsts[:, 0]] = True
            else:
                table = np.zeros(1 << _HASH_BITS, dtype=bool)
                table[_hash(*firsts.T)] = True
                self._starts[n] = table

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
        """Fill in the folding of code points met for the first time."""
        for point in np.unique(points).tolist():
            codes = [self._code.get(c, 0) for c in fold_char(chr(point))]
            self._count[point] = len(codes)
            self._first[point] = codes[0] if codes else 0
            if len(codes) > 1:
                self._expanded[point] = codes

    def codes(self, text: str) -> tuple[Codes, Positions | None]:
        """The (folded) text's codes, and the original index of each (None: the same)."""
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        if not self.fold:
            return self._first[points], None
        counts = self._count[points]
        unknown = counts == _UNKNOWN
        if unknown.any():
            self._learn(points[unknown].astype(np.int64))
            counts = self._count[points]
        firsts = self._first[points]
        if int(counts.max(initial=0)) <= 1:
            kept = np.flatnonzero(counts)
            return firsts[kept], kept
        codes = np.repeat(firsts, counts)
        starts = np.cumsum(counts, dtype=np.int64) - counts
        for index in np.flatnonzero(counts > 1).tolist():
            expanded = self._expanded[int(points[index])]
            codes[starts[index] : starts[index] + len(expanded)] = expanded
        return codes, np.repeat(np.arange(len(points)), counts)

    def _opened(self, codes: Codes) -> Positions:
        """The positions where a match may start: those whose next codes start some key."""
        if not len(codes):
            return np.empty(0, dtype=np.int64)
        # Where few positions hold some key's first character (an exact-match alphabet,
        # mostly) only those are looked at; elsewhere whole slices hash faster than
        # gathering most of the positions one by one.
        if self._leads[codes[::_SAMPLE]].mean() < _SPARSE:
            return self._opened_at(codes, np.flatnonzero(self._leads[codes]))
        opened = self._single[codes]
        if self._starts[2] is not None or self._starts[3] is not None:
            mixed = codes[:-1] * _MIX[0] ^ codes[1:] * _MIX[1]
            if self._starts[2] is not None:
                opened[:-1] |= self._starts[2][mixed >> _SHIFT]
            if self._starts[3] is not None:
                opened[:-2] |= self._starts[3][(mixed[:-1] ^ codes[2:] * _MIX[2]) >> _SHIFT]
        return np.flatnonzero(opened)

    def _opened_at(self, codes: Codes, at: Positions) -> Positions:
        """``_opened`` for the positions ``at`` only."""
        first = codes[at]
        opened = self._single[first]
        if len(at) and (self._starts[2] is not None or self._starts[3] is not None):
            # Near the end the last code stands in for those past it: that can only open
            # a window for nothing (a key that does not fit cannot match there anyway).
            last = len(codes) - 1
            mixed = first * _MIX[0] ^ codes[np.minimum(at + 1, last)] * _MIX[1]
            if self._starts[2] is not None:
                opened |= self._starts[2][mixed >> _SHIFT]
            if self._starts[3] is not None:
                third = codes[np.minimum(at + 2, last)]
                opened |= self._starts[3][(mixed ^ third * _MIX[2]) >> _SHIFT]
        return at[opened]

    def windows(self, text: str) -> Windows:
        """The parts of ``text`` a match may lie in, as symbols (see the module's docstring)."""
        codes, origin = self.codes(text)
        opened = self._opened(codes)
        if not len(opened):
            return Windows("", np.empty(0, dtype=np.int64))
        # Windows [start, start + longest) that overlap or touch are merged into runs.
        ends = np.minimum(opened + self.longest, len(codes))
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
        out_origin[slots] = kept if origin is None else origin[kept]
        return Windows(self._table[out_codes].tobytes().decode("latin-1"), out_origin)
