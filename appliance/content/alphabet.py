"""The compact encoding the matcher's automatons run on.

pyahocorasick looks a node's children up by a linear scan, so over Chinese text, where the
root has a child for each of thousands of characters, every character costs microseconds.
Each character a library's terms use is therefore given a code, and each code is written
as a fixed-width group of byte-sized symbols (``width`` of them, at most 127 values each):
no node then has more than 127 children. The first symbol of a group is drawn from
128-254 and the others from 1-127, so a term's symbols can only match where a character's
group starts; every character the terms never use shares one group (its first symbol
255, which no term has) and so can never be part of a match.

A whole text is encoded with numpy (one table lookup per character) and the streamed
filter encodes a delta character by character; both give the same symbols.

May import ``appliance.content.normalise`` only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from appliance.content.normalise import fold_char

_SYMBOLS = 127  # values a symbol of a group may take
_UNKNOWN = 255  # a count not yet computed for this code point
_CODE_POINTS = 0x110000

Array = npt.NDArray[np.int64]


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


@dataclass
class Encoded:
    """A text as symbols, and the way back from a folded index to the original index."""

    symbols: str
    counts: npt.NDArray[np.uint8] | None  # folded characters per original one; None: one each
    _origin: Array | None = field(default=None, init=False, repr=False)

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the folded (or, unfolded, original) span ``[start, end)``."""
        if self.counts is None:
            return start, end
        if self._origin is None:
            self._origin = np.repeat(np.arange(len(self.counts)), self.counts)
        return int(self._origin[start]), int(self._origin[end - 1]) + 1


class Alphabet:
    """The codes of the characters one automaton's keys use; ``fold``: whether text is
    folded (``normalise``) before it is encoded, or encoded as it is."""

    def __init__(self, chars: Iterable[str], *, fold: bool) -> None:
        self.fold = fold
        ordered = sorted(set(chars))
        self._code = {char: code for code, char in enumerate(ordered, start=1)}
        self.width, self._table = _symbol_table(len(ordered) + 1)
        self._groups = [row.tobytes().decode("latin-1") for row in self._table]
        # Per code point: how many folded characters it gives, and the first one's code.
        self._count = np.full(_CODE_POINTS, _UNKNOWN if fold else 1, dtype=np.uint8)
        self._first = np.zeros(_CODE_POINTS, dtype=np.uint32)
        if not fold:
            for char, code in self._code.items():
                self._first[ord(char)] = code
        self._expanded: dict[int, list[int]] = {}
        self._char_symbols: dict[str, str] = {}

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

    def _learn(self, points: Array) -> None:
        """Fill in the folding of code points met for the first time."""
        for point in np.unique(points).tolist():
            codes = [self._code.get(c, 0) for c in fold_char(chr(point))]
            self._count[point] = len(codes)
            self._first[point] = codes[0] if codes else 0
            if len(codes) > 1:
                self._expanded[point] = codes

    def encode(self, text: str) -> Encoded:
        """The symbols of a whole text, one table lookup per character."""
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        if not self.fold:
            return Encoded(self._table[self._first[points]].tobytes().decode("latin-1"), None)
        counts = self._count[points]
        unknown = counts == _UNKNOWN
        if unknown.any():
            self._learn(points[unknown].astype(np.int64))
            counts = self._count[points]
        firsts = self._first[points]
        if int(counts.max(initial=0)) <= 1:
            codes = firsts[counts == 1]
        else:
            codes = np.repeat(firsts, counts)
            starts = np.cumsum(counts, dtype=np.int64) - counts
            for index in np.flatnonzero(counts > 1).tolist():
                expanded = self._expanded[int(points[index])]
                codes[starts[index] : starts[index] + len(expanded)] = expanded
        return Encoded(self._table[codes].tobytes().decode("latin-1"), counts)
