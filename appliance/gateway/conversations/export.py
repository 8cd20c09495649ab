"""A saved conversation as a file to download, in Markdown, DOCX, PDF or JSON, labelled.

Every export carries the GB 45438 labels (``appliance.labels``): the explicit label at the
start and the end, and the AIGC metadata under a fresh ``ProduceID``, naming the site
(setting ``labels.content_producer``) as producer and propagator. The file records what was
asked and answered, and the passages an answer cites with the answer's data grade (the
highest among them) and each passage's; the reasoning is left out, as the web UI's chat
window folds it away. Exporting is reading one's own conversation, so, as reading
it is, it is not audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from appliance.conversations.schemas import ConversationDetail, MessageOut
from appliance.labels.aigc import Stamp
from appliance.labels.office_formats import Block, write_docx, write_pdf
from appliance.labels.text_formats import write_json, write_markdown

ExportFormat = Literal["markdown", "docx", "pdf", "json"]
Lang = Literal["zh", "en"]


@dataclass(frozen=True, slots=True)
class Exported:
    """The file's bytes, its type and the name it is offered under."""

    content: bytes
    media_type: str
    filename: str


# Each format's media type and file suffix.
MEDIA_TYPES: dict[str, tuple[str, str]] = {
    "markdown": ("text/markdown; charset=utf-8", "md"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "pdf": ("application/pdf", "pdf"),
    "json": ("application/json", "json"),
}
# The words of the web UI (``webui.i18n``), so a file reads as the chat window did.
_WORDS = {
    "zh": {
        "user": "用户",
        "assistant": "助手",
        "page": "第 {page} 页",
        "grade": "数据等级：{grade}",
    },
    "en": {
        "user": "You",
        "assistant": "Assistant",
        "page": "p. {page}",
        "grade": "Data grade: {grade}",
    },
}


def _grade_line(grade: str | None, lang: Lang) -> list[str]:
    """``数据等级：重要`` for an answer or passage that has a grade, nothing otherwise."""
    return [_WORDS[lang]["grade"].format(grade=grade)] if grade else []


def _citation_title(citation: dict[str, Any], lang: Lang) -> str:
    """``[1] 报销制度.pdf · 第 3 页 · 差旅费``: number, document, then where in it."""
    parts = [f"[{citation.get('index') or '?'}] {citation.get('document_name') or '?'}"]
    if citation.get("page"):
        parts.append(_WORDS[lang]["page"].format(page=citation["page"]))
    if citation.get("section"):
        parts.append(str(citation["section"]))
    parts += _grade_line(citation.get("grade"), lang)
    return " · ".join(parts)


def _blocks(messages: list[MessageOut], lang: Lang, label: str) -> list[Block]:
    """Each question and answer under its speaker; every answer followed by the explicit
    label (the web UI shows it under every answer too), then the passages it cites."""
    blocks: list[Block] = []
    for message in messages:
        if message.role == "user":
            blocks += [Block(_WORDS[lang]["user"], heading=True), Block(message.content)]
            continue
        blocks += [Block(_WORDS[lang]["assistant"], heading=True), Block(message.content)]
        blocks += [Block(line) for line in _grade_line(message.grade, lang)]
        blocks.append(Block(label))
        for citation in message.citations:
            title = _citation_title(citation, lang)
            blocks += [Block(title), Block(str(citation.get("text") or ""))]
    return blocks


def _markdown(conversation: ConversationDetail, lang: Lang, label: str) -> str:
    lines = [f"# {conversation.title}", ""]
    for message in conversation.messages:
        if message.role == "user":
            lines += [f"## {_WORDS[lang]['user']}", "", message.content, ""]
            continue
        lines += [f"## {_WORDS[lang]['assistant']}", "", message.content, ""]
        lines += [f"**{line}**" for line in _grade_line(message.grade, lang)]
        lines.append(f"<sub>{label}</sub>")
        for citation in message.citations:
            text = str(citation.get("text") or "")
            quoted = "\n".join(f"> {line}" for line in text.splitlines())
            lines += ["", f"**{_citation_title(citation, lang)}**", "", quoted]
        lines.append("")
    return "\n".join(lines)


def _document(conversation: ConversationDetail) -> dict[str, Any]:
    return {
        "conversation_id": str(conversation.id),
        "title": conversation.title,
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
        "messages": [
            {
                "position": m.position,
                "role": m.role,
                "content": m.content,
                "citations": m.citations,
                "grade": m.grade,
            }
            for m in conversation.messages
        ],
    }


def export_conversation(
    conversation: ConversationDetail, fmt: ExportFormat, lang: Lang, producer: str
) -> Exported:
    """``conversation`` as a labelled file of format ``fmt``, its words in ``lang``."""
    stamp = Stamp(producer, str(uuid.uuid4()), english=lang == "en")
    if fmt == "markdown":
        content = write_markdown(_markdown(conversation, lang, stamp.explicit), stamp)
    elif fmt == "json":
        content = write_json(_document(conversation), stamp)
    else:
        blocks = _blocks(conversation.messages, lang, stamp.explicit)
        writer = write_docx if fmt == "docx" else write_pdf
        content = writer(conversation.title, blocks, stamp)
    media_type, suffix = MEDIA_TYPES[fmt]
    return Exported(content, media_type, f"conversation-{str(conversation.id)[:8]}.{suffix}")
