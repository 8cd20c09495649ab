"""Retrieval-augmented chat: turn ``"rag": {...}`` into a grounded prompt and citations.

DeepSeek-R1's usage guidance is to avoid a system prompt and to put every instruction in
the user turn, with a temperature of 0.5-0.7 (0.6 recommended). So the retrieved passages
are numbered and placed, with the instructions, in the last user message; any system
message the client sent is folded into that turn too, and the temperature defaults to 0.6
when the client did not choose one. The ``rag`` field itself never reaches vLLM.

Retrieval goes through :class:`KnowledgeService`, which applies the group ACL and the
caller's clearance inside its SQL. Each citation names its passage's data grade, and the
answer's grade is the highest of them (None when nothing was retrieved).
Knowledge bases named explicitly are checked first, one by one: an id the caller may not
read is answered 404 before anything is retrieved or sent to the model, exactly like the
knowledge-base routes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from appliance.auth.principal import Principal
from appliance.gateway.chat.protocol import RagOptions
from appliance.gateway.edge.body import validate
from appliance.gateway.edge.errors import InvalidParam
from appliance.gateway.knowledge.serving import check_readable
from appliance.rag.grades import highest
from appliance.rag.schemas import SearchHit
from appliance.rag.service import KnowledgeService

R1_TEMPERATURE = 0.6

_INSTRUCTIONS = (
    "Answer the question using only the numbered reference passages below. After each "
    "claim, cite the passage it comes from as [n]. If the passages do not contain the "
    "answer, say so instead of guessing. Answer in the language of the question.\n"
    "请仅根据下面编号的参考资料回答问题，并在每个论断后用 [n] 标注出处；"
    "如果资料中没有答案，请直接说明，不要编造。"
)
_NO_PASSAGES = "(No passage of the selected knowledge bases matched the question.)"


@dataclass(slots=True)
class Grounding:
    """What retrieval found for one chat: the passages and the citations derived from them."""

    hits: list[SearchHit]

    @property
    def document_ids(self) -> list[str]:
        return list(dict.fromkeys(str(hit.document_id) for hit in self.hits))

    @property
    def chunk_ids(self) -> list[str]:
        return [str(hit.chunk_id) for hit in self.hits]

    @property
    def grade(self) -> str | None:
        """The highest data grade among the passages: the grade of an answer made of them."""
        top = highest(hit.grade_level for hit in self.hits)
        return next(hit.grade for hit in self.hits if hit.grade_level == top) if top else None

    def citations(self) -> list[dict[str, Any]]:
        """One entry per numbered passage, ``index`` matching the ``[n]`` in the prompt."""
        return [
            {
                "index": n,
                "document_id": str(hit.document_id),
                "document_name": hit.document_name,
                "chunk_id": str(hit.chunk_id),
                "page": hit.page,
                "section": hit.section,
                "text": hit.text,
                "grade": hit.grade,
            }
            for n, hit in enumerate(self.hits, start=1)
        ]


def parse_options(raw: object) -> RagOptions:
    """The request's ``rag`` object; an invalid field is named under ``rag.``."""
    return validate(RagOptions, raw, prefix=("rag",))


def _text(content: object) -> str:
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict)
        ).strip()
    return str(content or "").strip()


def _passages(hits: Sequence[SearchHit]) -> str:
    if not hits:
        return _NO_PASSAGES
    blocks: list[str] = []
    for n, hit in enumerate(hits, start=1):
        where = [hit.document_name]
        if hit.section:
            where.append(hit.section)
        if hit.page is not None:
            where.append(f"p. {hit.page}")
        blocks.append(f"[{n}] ({' / '.join(where)})\n{hit.text.strip()}")
    return "\n\n".join(blocks)


def grounded_messages(
    messages: list[dict[str, Any]], question: str, hits: Sequence[SearchHit]
) -> list[dict[str, Any]]:
    """The conversation with system messages folded into the last user turn, which becomes
    instructions + numbered passages + the question."""
    system = [_text(m.get("content")) for m in messages if m.get("role") == "system"]
    rest = [m for m in messages if m.get("role") != "system"]
    last_user = max(i for i, m in enumerate(rest) if m.get("role") == "user")
    preamble = "\n".join(s for s in system if s)
    parts = [p for p in (preamble, _INSTRUCTIONS) if p]
    parts.append("Reference passages / 参考资料:\n" + _passages(hits))
    parts.append("Question / 问题: " + question)
    grounded = {**rest[last_user], "content": "\n\n".join(parts)}
    return [*rest[:last_user], grounded, *rest[last_user + 1 :]]


async def ground(
    knowledge: KnowledgeService,
    principal: Principal,
    payload: dict[str, Any],
    passage_filter: Callable[[SearchHit], SearchHit | None] | None = None,
) -> Grounding | None:
    """Retrieve for a chat that asked for it and rewrite ``payload`` in place; None when the
    request carries no ``rag`` field. The question is the last user message of ``payload``
    (as the content filter left it); ``passage_filter`` may mask a passage or withhold it
    (None) before the model sees it."""
    if "rag" not in payload:
        return None
    options = parse_options(payload.pop("rag"))
    user_turns = [m for m in payload["messages"] if m.get("role") == "user"]
    question = _text(user_turns[-1].get("content")) if user_turns else ""
    if not question:
        raise InvalidParam(
            "A chat with 'rag' needs a user message with text to search for.", param="messages"
        )
    await check_readable(knowledge, principal, options.kb_ids)
    hits = await knowledge.search(principal, question, options.kb_ids, options.top_k)
    if passage_filter is not None:
        hits = [kept for kept in map(passage_filter, hits) if kept is not None]
    payload["messages"] = grounded_messages(payload["messages"], question, hits)
    if payload.get("temperature") is None:
        payload["temperature"] = R1_TEMPERATURE
    return Grounding(hits=hits)
