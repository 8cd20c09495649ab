"""How an answer looks: the one place that renders its reasoning, the answer itself, its
citations and the AI-generated label, whether the answer is still streaming or read back
from history.

An answer reaches the chat window two ways, and both end in ``answer_bubbles``:

* streamed: the gateway client turns each server-sent chunk into a ``ChatDelta``
  (``delta_from_chunk``); ``PartialAnswer`` gathers them and times the reasoning, and
  ``webui.chat`` shows ``answer_bubbles(partial.message(), lang, thinking=...)`` after each;
* from history: ``to_chatbot`` shows a stored conversation, with the same label and
  citations. (A conversation exported as a file is written and labelled by the gateway.)

In the window the reasoning is a collapsible block, open while the model thinks and
collapsed under "thought for N s" once the answer begins; then comes the answer followed by
the visible label (``webui.i18n.AI_LABEL``, required on every generated answer) and, for an
answer grounded on knowledge bases, its data grade (the highest of its passages'), then one
collapsed block per cited passage, each title naming the passage's grade (the chat window
also stamps the label on copied text: ``webui.ui_chat``'s watermark). The strings
themselves live in ``webui.i18n``. The reasoning arrives as vLLM's ``reasoning`` field,
which the gateway mirrors as ``reasoning_content`` (``appliance.gateway.chat.sse``); either
is read here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from webui.history import StoredMessage, kept_citations
from webui.i18n import AI_LABEL, Lang, t

# --- Streaming: from the gateway's chunks to a partial answer ---------------------------


@dataclass(slots=True)
class ChatDelta:
    """One streamed piece of an answer: reasoning text, answer text, or citations (with
    the answer's data grade, which comes beside them)."""

    reasoning: str = ""
    content: str = ""
    citations: list[dict[str, Any]] = field(default_factory=list)
    grade: str | None = None


def delta_from_chunk(payload: dict[str, Any]) -> ChatDelta:
    """The parts of one streamed chunk that the chat shows. The reasoning is read under
    either name (``reasoning``, or ``reasoning_content`` from older vLLM releases and other
    OpenAI-compatible servers); citations come in a chunk of their own."""
    grade = payload.get("grade")
    delta = ChatDelta(
        citations=list(payload.get("citations") or []),
        grade=grade if isinstance(grade, str) and grade else None,
    )
    for choice in payload.get("choices") or []:
        part = choice.get("delta") or {}
        delta.reasoning += part.get("reasoning") or part.get("reasoning_content") or ""
        delta.content += part.get("content") or ""
    return delta


@dataclass(slots=True)
class PartialAnswer:
    """The answer as it streams in, with the time the reasoning took and its citations
    (which arrive in one chunk of their own just before the stream ends)."""

    reasoning: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    citations: tuple[dict[str, Any], ...] = ()
    grade: str | None = None
    started: float = field(default_factory=time.monotonic)
    thought_seconds: float | None = None

    def add(self, delta: ChatDelta) -> None:
        self.reasoning.append(delta.reasoning)
        if delta.content and self.thought_seconds is None:
            self.thought_seconds = time.monotonic() - self.started
        self.content.append(delta.content)
        if delta.citations:
            self.citations = kept_citations(delta.citations)
        if delta.grade:
            self.grade = delta.grade

    @property
    def thinking(self) -> bool:
        """Whether the model is still reasoning (no answer text yet)."""
        return self.thought_seconds is None

    def message(self) -> StoredMessage:
        return StoredMessage(
            "assistant",
            "".join(self.content),
            "".join(self.reasoning),
            self.thought_seconds,
            self.citations,
            self.grade,
        )


# --- Pieces of an answer ----------------------------------------------------------------


def labelled(content: str) -> str:
    """The answer as shown and exported: followed by the visible AI-generated label."""
    return f"{content}\n\n<sub>{AI_LABEL}</sub>"


def graded(content: str, grade: str | None, lang: Lang) -> str:
    """The labelled answer with its data grade beside it, when it has one."""
    if not grade:
        return labelled(content)
    return f"{labelled(content)} · **{t('data_grade', lang, grade=grade)}**"


def thought_title(seconds: float | None, lang: Lang) -> str:
    """The reasoning block's title: "thinking…" while it lasts, then how long it took."""
    if seconds is None:
        return t("thinking", lang)
    return t("thought_for", lang, seconds=max(1, round(seconds)))


def citation_title(citation: dict[str, Any], lang: Lang) -> str:
    """``[1] 报销制度.pdf · 第 3 页 · 差旅费``: number, document, then where in it."""
    parts = [f"[{citation['index']}] {citation.get('document_name') or '?'}"]
    if citation.get("page"):
        parts.append(t("page_n", lang, page=citation["page"]))
    if citation.get("section"):
        parts.append(str(citation["section"]))
    if citation.get("grade"):
        parts.append(t("data_grade", lang, grade=citation["grade"]))
    return " · ".join(parts)


def quoted(text: str) -> str:
    """The chunk as a Markdown quote, so it reads as the source's words, not the model's."""
    return "\n".join(f"> {line}" if line else ">" for line in text.strip().splitlines())


def citation_bubbles(citations: tuple[dict[str, Any], ...], lang: Lang) -> list[dict[str, Any]]:
    """One collapsed block per citation under the answer: the title names the source and
    opening it shows the quoted chunk."""
    return [
        {
            "role": "assistant",
            "content": quoted(str(c.get("text") or "")),
            "metadata": {"title": citation_title(c, lang), "status": "done"},
        }
        for c in citations
    ]


# --- Whole answers and conversations ----------------------------------------------------


def answer_bubbles(
    message: StoredMessage, lang: Lang, *, thinking: bool = False
) -> list[dict[str, Any]]:
    """One answer as chat bubbles: the reasoning in a block that is open while the model
    thinks and collapsed (status "done") once the answer begins, then the labelled answer
    and its citations."""
    bubbles: list[dict[str, Any]] = []
    if message.reasoning:
        bubbles.append(
            {
                "role": "assistant",
                "content": message.reasoning,
                "metadata": {
                    "title": thought_title(None if thinking else message.thought_seconds, lang),
                    "status": "pending" if thinking else "done",
                },
            }
        )
    if message.content or not thinking:
        bubbles.append(
            {"role": "assistant", "content": graded(message.content, message.grade, lang)}
        )
        bubbles.extend(citation_bubbles(message.citations, lang))
    return bubbles


def to_chatbot(messages: list[StoredMessage], lang: Lang) -> list[dict[str, Any]]:
    """A stored conversation as the chat window shows it."""
    shown: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "user":
            shown.append({"role": "user", "content": message.content})
        else:
            shown.extend(answer_bubbles(message, lang))
    return shown
