"""Pure functions between stored messages, what the chat window shows, and what the model is
sent. Kept free of I/O so the rules (reasoning never goes back to the model; every answer is
labelled as generated) are easy to read and test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webui.i18n import AI_LABEL, Lang, t


@dataclass(frozen=True, slots=True)
class StoredMessage:
    role: str
    content: str
    reasoning: str = ""
    thought_seconds: float | None = None
    # The passages the answer was grounded on, as the gateway sent them (``citations``).
    citations: tuple[dict[str, Any], ...] = ()


# The citation fields worth keeping with a stored answer; the rest of what the gateway sends
# (scores, knowledge-base ids) means nothing to a reader.
CITATION_FIELDS = ("index", "document_id", "document_name", "chunk_id", "page", "section", "text")


def kept_citations(citations: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The citations as stored: known fields only, numbered from 1 when the gateway did not."""
    return tuple(
        {key: c.get(key) for key in CITATION_FIELDS} | {"index": c.get("index") or n}
        for n, c in enumerate(citations, start=1)
    )


def citation_title(citation: dict[str, Any], lang: Lang) -> str:
    """``[1] 报销制度.pdf · 第 3 页 · 差旅费``: number, document, then where in it."""
    parts = [f"[{citation['index']}] {citation.get('document_name') or '?'}"]
    if citation.get("page"):
        parts.append(t("page_n", lang, page=citation["page"]))
    if citation.get("section"):
        parts.append(str(citation["section"]))
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


def labelled(content: str) -> str:
    """The answer as shown and exported: followed by the visible AI-generated label."""
    return f"{content}\n\n<sub>{AI_LABEL}</sub>"


def thought_title(seconds: float | None, lang: Lang) -> str:
    if seconds is None:
        return t("thinking", lang)
    return t("thought_for", lang, seconds=max(1, round(seconds)))


def assistant_bubbles(
    message: StoredMessage, lang: Lang, *, thinking: bool = False
) -> list[dict[str, Any]]:
    """One answer as chat bubbles: the reasoning in a block that is open while the model
    thinks and collapsed (status "done") once the answer begins, then the labelled answer."""
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
        bubbles.append({"role": "assistant", "content": labelled(message.content)})
        bubbles.extend(citation_bubbles(message.citations, lang))
    return bubbles


def to_chatbot(messages: list[StoredMessage], lang: Lang) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "user":
            shown.append({"role": "user", "content": message.content})
        else:
            shown.extend(assistant_bubbles(message, lang))
    return shown


def to_upstream(messages: list[StoredMessage]) -> list[dict[str, str]]:
    """The conversation as the model gets it: questions and answers only. R1's guidance is
    not to feed its reasoning back, so it stays out of later turns."""
    return [{"role": m.role, "content": m.content} for m in messages if m.content]


def export_markdown(title: str, messages: list[StoredMessage], lang: Lang) -> str:
    """A conversation as a Markdown file; every answer carries the AI-generated label."""
    lines = [f"# {title}", "", f"> {AI_LABEL}", ""]
    for message in messages:
        if message.role == "user":
            lines += [f"## {t('you', lang)}", "", message.content, ""]
        else:
            lines += [f"## {t('assistant', lang)}", "", labelled(message.content), ""]
            for citation in message.citations:
                source = quoted(str(citation.get("text") or ""))
                lines += [f"**{citation_title(citation, lang)}**", "", source, ""]
    return "\n".join(lines)
