"""A conversation as the web UI stores it, and as the model is sent it.

Pure, so the two rules that matter are easy to read and test: what is kept of an answer
(its reasoning, how long that took, the passages it cites and its data grade), and that the
reasoning never goes back to the model. How a stored conversation looks on screen or in an export is
``webui.answer_view``; where it is kept is ``webui.conversations`` (the gateway).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredMessage:
    role: str
    content: str
    reasoning: str = ""
    thought_seconds: float | None = None
    # The passages the answer was grounded on, as the gateway sent them (``citations``).
    citations: tuple[dict[str, Any], ...] = ()
    # The answer's data grade: the highest among its citations, as the gateway named it.
    grade: str | None = None


# The citation fields worth keeping with a stored answer; the rest of what the gateway sends
# (scores, knowledge-base ids) means nothing to a reader.
CITATION_FIELDS = (
    "index",
    "document_id",
    "document_name",
    "chunk_id",
    "page",
    "section",
    "text",
    "grade",
)


def kept_citations(citations: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The citations as stored: known fields only, numbered from 1 when the gateway did not."""
    return tuple(
        {key: c.get(key) for key in CITATION_FIELDS} | {"index": c.get("index") or n}
        for n, c in enumerate(citations, start=1)
    )


def to_upstream(messages: list[StoredMessage]) -> list[dict[str, str]]:
    """The conversation as the model gets it: questions and answers only. R1's guidance is
    not to feed its reasoning back, so it stays out of later turns."""
    return [{"role": m.role, "content": m.content} for m in messages if m.content]
