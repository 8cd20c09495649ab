"""A whole text held to the library: what the filter does with a prompt, a retrieved
passage or a complete (non-streamed) answer.

``screen`` scans once and applies the actions the way ``stream`` does for a streamed text:
the first ``block`` hit (by position) blocks the text, ``mask`` hits are replaced with one
``*`` per original character, ``flag`` hits are reported and change nothing. The result
keeps the hits so the caller can count and audit them.

May import the modules beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.content.keywords import Action, Hit, Matcher


@dataclass(frozen=True, slots=True)
class Screened:
    """The text to use (masked), every hit found, and the hit that blocks it, if any."""

    text: str
    hits: tuple[Hit, ...]
    blocked: Hit | None


def masked(text: str, hits: tuple[Hit, ...] | list[Hit]) -> str:
    """``text`` with the span of every ``mask`` hit replaced by ``*``."""
    spans = [(h.start, h.end) for h in hits if h.entry.action is Action.MASK]
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        chars[start:end] = "*" * (end - start)
    return "".join(chars)


def screen(matcher: Matcher, text: str) -> Screened:
    hits = tuple(matcher.scan(text))
    blocked = next((h for h in hits if h.entry.action is Action.BLOCK), None)
    return Screened(masked(text, hits), hits, blocked)
