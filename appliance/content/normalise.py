"""The text a keyword match runs on, and the way back from it to the original text.

A user who wants a banned term through writes it disguised: full-width (``ＡＢＣ``),
traditional (``國``), in another case, or with spaces, punctuation or zero-width
characters between its characters. Folding each of these away, in the text and in the
library's terms alike, makes a term and its disguised variants the same string.

Each character is folded on its own, never with its neighbours, for two reasons: a
streamed answer arrives in pieces cut anywhere, and folding a piece must give what folding
the whole would; and every folded character then comes from exactly one original
character, which is the map back. The steps, per character:

1. NFKD: compatibility forms to their plain form (full-width to half-width, ``①`` to
   ``1``, ligatures split) and accents split off, so that an accent written as a separate
   combining mark and a precomposed letter end alike;
2. removal of what may be slipped between a term's characters: marks (``M*``, combining
   accents and variation selectors), punctuation (``P*``), symbols (``S*``, emoji
   included), separators (``Z*``), control and format characters (``Cc``, ``Cf``:
   U+200B, U+200D, U+FEFF and the like), and code points that are no character a reader
   sees (``Cs`` lone surrogates, ``Co`` private use, ``Cn`` unassigned);
3. OpenCC ``t2s``, character by character (so a phrase rule such as 乾隆 does not apply;
   terms are folded the same way, so both sides agree);
4. casefold (``ß`` becomes ``ss``), then steps 1 and 2 again for what casefold produced.

May import nothing of the appliance.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import opencc

# Unicode general categories removed from the folded text.
REMOVED_CATEGORIES = frozenset(
    {
        "Mn",
        "Mc",
        "Me",
        "Pc",
        "Pd",
        "Ps",
        "Pe",
        "Pi",
        "Pf",
        "Po",
        "Sm",
        "Sc",
        "Sk",
        "So",
        "Zs",
        "Zl",
        "Zp",
        "Cc",
        "Cf",
        "Cs",
        "Co",
        "Cn",
    }
)


@functools.cache
def _t2s() -> opencc.OpenCC:
    """One converter per process: loading its dictionaries costs milliseconds."""
    return opencc.OpenCC("t2s")


def _decompose(text: str) -> str:
    return "".join(
        c
        for c in unicodedata.normalize("NFKD", text)
        if unicodedata.category(c) not in REMOVED_CATEGORIES
    )


@functools.cache
def fold_char(char: str) -> str:
    """The folded form of one character: empty, one character or (rarely) several."""
    converted = "".join(_t2s().convert(c) for c in _decompose(char))
    return _decompose(converted.casefold())


@dataclass(frozen=True, slots=True)
class Normalised:
    """A folded text and, for each of its characters, the index of the original character
    it came from."""

    text: str
    origin: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original span ``[start, end)`` of the folded span ``[start, end)``: from the
        first character's origin to just after the last one's, so characters removed
        between them (a zero-width space inside a term) lie inside it."""
        return self.origin[start], self.origin[end - 1] + 1


def normalise(text: str) -> Normalised:
    """Fold ``text`` character by character (see the module's docstring)."""
    parts: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = fold_char(char)
        if folded:
            parts.append(folded)
            origin.extend([index] * len(folded))
    return Normalised("".join(parts), tuple(origin))
