"""Keyword entries, the versioned library that holds them, and the matcher that scans a text.

An entry matches ``normalised`` (the default: on the folded text, so disguised variants of
its term are caught, see ``normalise``) or ``exact`` (on the raw text, for a term whose
punctuation or case is the point). Its action says what the filter does with a hit:
``block`` stops the answer, ``mask`` replaces the matched text with ``*``, ``flag`` lets it
through and reports it.

The ``Matcher`` builds one Aho-Corasick automaton per match mode when it is made, over the
compact encoding of ``alphabet``; ``scan`` then finds every hit, overlapping ones included,
in one pass per mode, and reports each in the original text's coordinates.

May import ``appliance.errors`` and the modules beside it.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ahocorasick

from appliance.content.alphabet import Alphabet, Positions, code_points
from appliance.content.normalise import normalise
from appliance.errors import InvalidRequest


class MatchMode(enum.StrEnum):
    NORMALISED = "normalised"
    EXACT = "exact"


class Action(enum.StrEnum):
    BLOCK = "block"
    MASK = "mask"
    FLAG = "flag"


class KeywordLibraryError(InvalidRequest):
    """A library the administrator supplied is refused; the message names the row."""

    code = "invalid_keyword_library"


@dataclass(frozen=True, slots=True)
class KeywordEntry:
    """One rule: its ``id`` is what an audit record and a library diff refer to."""

    id: str
    term: str
    category: str
    match: MatchMode = MatchMode.NORMALISED
    action: Action = Action.BLOCK

    def canonical(self) -> list[str]:
        return [self.id, self.term, self.category, str(self.match), str(self.action)]


@dataclass(frozen=True, slots=True)
class Hit:
    """An entry found in a text, at ``[start, end)`` of the original text."""

    entry: KeywordEntry
    start: int
    end: int


def _problem(entry: KeywordEntry) -> str | None:
    if not entry.id.strip():
        return "column id: empty id"
    if not entry.term.strip():
        return f"column term: empty term (id {entry.id!r})"
    if entry.match is MatchMode.NORMALISED and not normalise(entry.term).text:
        return (
            f"column term: {entry.term!r} (id {entry.id!r}) is only punctuation, symbols or"
            " spaces, which matching removes; give it match exact"
        )
    return None


class KeywordLibrary:
    """An immutable set of entries with a version: the SHA-256 of its canonical form (the
    entries sorted by id), so two libraries with the same rules have the same version
    whatever order they were written in."""

    def __init__(self, entries: Iterable[KeywordEntry], *, rows: Sequence[str] = ()) -> None:
        """Refuse an empty id or term and a duplicate id. ``rows`` names where each entry
        came from (``line 7`` of a CSV file) for the error; by default ``row N``."""
        self.entries = tuple(entries)
        first_row: dict[str, str] = {}
        for index, entry in enumerate(self.entries):
            row = rows[index] if index < len(rows) else f"row {index + 1}"
            problem = _problem(entry)
            if problem is not None:
                raise KeywordLibraryError(f"{row}, {problem}")
            if entry.id in first_row:
                raise KeywordLibraryError(
                    f"{row}, column id: duplicate id {entry.id!r} (first at {first_row[entry.id]})"
                )
            first_row[entry.id] = row
        canonical = sorted(entry.canonical() for entry in self.entries)
        text = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"))
        self.version = hashlib.sha256(text.encode()).hexdigest()

    def __len__(self) -> int:
        return len(self.entries)

    def by_id(self) -> dict[str, KeywordEntry]:
        return {entry.id: entry for entry in self.entries}


@dataclass(frozen=True)
class Key:
    """What an automaton key stands for: its length in symbols and its entries."""

    length: int
    entries: tuple[KeywordEntry, ...]


class Automaton:
    """One match mode's automaton and alphabet, and its longest term (in folded
    characters for ``normalised``, original ones for ``exact``): the stream's holdback."""

    def __init__(self, entries: Sequence[KeywordEntry], *, fold: bool) -> None:
        keys: dict[str, list[KeywordEntry]] = {}
        for entry in entries:
            keys.setdefault(normalise(entry.term).text if fold else entry.term, []).append(entry)
        self.alphabet = Alphabet(keys, fold=fold)
        self.longest = self.alphabet.longest
        self.automaton = ahocorasick.Automaton()
        for key, found in keys.items():
            symbols = self.alphabet.encode_key(key)
            self.automaton.add_word(symbols, Key(len(symbols), tuple(found)))
        self.automaton.make_automaton()

    def span(self, end: int, key: Key) -> tuple[int, int]:
        """The span, in groups of symbols, of a key that ends at symbol ``end``."""
        width = self.alphabet.width
        return (end + 1 - key.length) // width, (end + 1) // width

    def scan(self, points: Positions) -> list[Hit]:
        """Every hit of this mode's keys in the text of ``points`` (``code_points``)."""
        windows = self.alphabet.windows(points)
        hits: list[Hit] = []
        key: Key
        for end, key in self.automaton.iter(windows.symbols):
            first, stop = self.span(end, key)
            start, last = int(windows.origin[first]), int(windows.origin[stop - 1])
            hits.extend(Hit(entry, start, last + 1) for entry in key.entries)
        return hits


class Matcher:
    """The automatons of one library, built once; ``scan`` is safe to call from any number
    of requests (it keeps no state of its own between calls)."""

    def __init__(self, library: KeywordLibrary) -> None:
        self.library = library
        folded = [e for e in library.entries if e.match is MatchMode.NORMALISED]
        exact = [e for e in library.entries if e.match is MatchMode.EXACT]
        self.normalised = Automaton(folded, fold=True) if folded else None
        self.exact = Automaton(exact, fold=False) if exact else None

    def scan(self, text: str) -> list[Hit]:
        """Every hit in ``text``, overlapping ones included, by start, end and entry id."""
        points = code_points(text)  # once for both modes
        hits: list[Hit] = []
        for automaton in (self.normalised, self.exact):
            if automaton is not None:
                hits.extend(automaton.scan(points))
        return sorted(hits, key=lambda h: (h.start, h.end, h.entry.id))
