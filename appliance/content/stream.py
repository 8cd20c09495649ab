"""The filter for a streamed answer: text deltas in, text safe to send out.

The gateway relays a model's answer as SSE deltas of a few characters; a banned term may
be cut across any number of them. The filter holds back the end of what it has been fed
until no term can still be completing there, and releases the rest: with ``L`` the longest
term (in folded characters, and in original ones for ``exact`` terms), every match that
ends later starts within the last ``L - 1`` characters, so everything before them is
released. A term is therefore never released in part before it is found.

Each delta is folded and encoded character by character and fed to the automatons'
iterators, which keep their state between deltas: a delta costs work in proportion to its
own length, never to the holdback's.

What a hit does: ``block`` ends the stream; what came before the match is released up to
the holdback (text just before it could be the start of another term that runs into it),
the match and everything after it never is, and the hit is reported (its entry's id and
category go to the audit record). ``mask`` replaces the match with one ``*`` per original
character and the stream goes on. ``flag`` changes nothing and reports the hit. Hits are
reported when found, in stream offsets (from the first character fed).

One filter per text stream: the reasoning and the answer of a reply each get their own.

May import the modules beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from appliance.content.keywords import Action, Automaton, Hit, Key, Matcher


@dataclass(frozen=True, slots=True)
class Emission:
    """What one call released: text to send, hits that mask or flag (found in this call),
    and the hit that blocked the stream (in this call or before)."""

    text: str
    hits: tuple[Hit, ...] = ()
    blocked: Hit | None = None


@dataclass
class _Track:
    """One automaton's search through the stream: its iterator and, for the folded text,
    the original offset of each folded character from ``base`` on."""

    automaton: Automaton
    search: Any = field(init=False)  # pyahocorasick's AutomatonSearchIter, untyped
    origin: list[int] = field(default_factory=list)
    base: int = 0  # the folded index of origin[0]
    length: int = 0  # folded (or original) characters fed so far

    def __post_init__(self) -> None:
        self.search = self.automaton.automaton.iter("")

    def feed(self, delta: str, offset: int) -> list[Hit]:
        """Feed ``delta``, which starts at original ``offset``; the hits it completes."""
        alphabet = self.automaton.alphabet
        fold = alphabet.fold
        parts: list[str] = []
        for index, char in enumerate(delta):
            symbols = alphabet.encode_char(char)
            if symbols:
                parts.append(symbols)
                if fold:
                    self.origin.extend([offset + index] * (len(symbols) // alphabet.width))
        self.length += sum(len(p) for p in parts) // alphabet.width
        self.search.set("".join(parts))
        hits: list[Hit] = []
        key: Key
        for end, key in self.search:
            start, stop = self.automaton.span(end, key)
            if fold:
                start, stop = self.origin[start - self.base], self.origin[stop - 1 - self.base] + 1
            hits.extend(Hit(entry, start, stop) for entry in key.entries)
        return hits

    def safe_until(self, fed: int) -> int:
        """The original offset before which no future match can start; forgets the origin
        of folded characters before it."""
        keep = self.length - (self.automaton.longest - 1)
        if not self.automaton.alphabet.fold:
            return max(keep, 0)
        first = max(keep, self.base)  # the first folded character a match may yet use
        safe = self.origin[first - self.base] if first < self.length else fed
        if keep > self.base:
            del self.origin[: keep - self.base]
            self.base = keep
        return safe


class StreamFilter:
    """Feed deltas with ``feed``, end with ``finish``; send what each returns."""

    def __init__(self, matcher: Matcher) -> None:
        self._tracks = [_Track(a) for a in (matcher.normalised, matcher.exact) if a is not None]
        self._pending = ""  # fed, not yet released
        self._released = 0  # original characters released (the offset of _pending)
        self._fed = 0
        self._masks: list[tuple[int, int]] = []
        self._blocked: Hit | None = None

    @property
    def blocked(self) -> Hit | None:
        return self._blocked

    def feed(self, delta: str) -> Emission:
        if self._blocked is not None:
            return Emission("", (), self._blocked)
        offset = self._fed
        self._pending += delta
        self._fed += len(delta)
        found: list[Hit] = []
        for track in self._tracks:
            found.extend(track.feed(delta, offset))
        safe = min((t.safe_until(self._fed) for t in self._tracks), default=self._fed)
        found.sort(key=lambda h: (h.start, h.end, h.entry.id))
        blocks = [h for h in found if h.entry.action is Action.BLOCK]
        reported = tuple(h for h in found if h.entry.action is not Action.BLOCK)
        self._masks.extend((h.start, h.end) for h in reported if h.entry.action is Action.MASK)
        if blocks:
            self._blocked = blocks[0]
            safe = min(safe, blocks[0].start)
        return Emission(self._release(safe), reported, self._blocked)

    def finish(self) -> Emission:
        """Release what is held back: no term can be completed by text that never comes,
        and every match within it was found as it was fed."""
        if self._blocked is not None:
            return Emission("", (), self._blocked)
        return Emission(self._release(self._fed))

    def _release(self, until: int) -> str:
        count = until - self._released
        if count <= 0:
            return ""
        text, self._pending = self._pending[:count], self._pending[count:]
        if self._masks:
            chars = list(text)
            for start, end in self._masks:
                for i in range(max(start, self._released), min(end, until)):
                    chars[i - self._released] = "*"
            text = "".join(chars)
            self._masks = [(s, e) for s, e in self._masks if e > until]
        self._released = until
        return text
