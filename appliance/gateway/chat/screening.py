"""The content filter on a chat: the prompt, the retrieved passages, the reasoning and the
answer, each held to the secadmin's keyword library (``appliance.content``).

- The prompt is screened before anything else happens: a ``block`` hit refuses the chat
  with 400 ``content_blocked`` (nothing reaches the model, no slot is taken) and a
  ``content.blocked`` audit row; ``mask`` hits are masked in what the model gets; ``flag``
  hits are only recorded.
- A retrieved passage with a ``block`` hit is withheld from the model (and from the
  citations); one with ``mask`` hits is masked.
- The reasoning and the answer of a reply are filtered as they stream, each by its own
  :class:`~appliance.content.stream.StreamFilter` per choice, so a term split across
  deltas is caught before any of it is sent. A ``block`` ends the stream with an error
  event (``content_blocked``) and ``[DONE]``; the text before the term may have been sent.
  A complete answer (no ``stream``) is screened whole; a blocked one is replaced by the
  notice, with ``finish_reason`` ``content_filter``.

Personal information in the prompt and in the retrieved passages
(:mod:`appliance.content.pii`) is masked as its kind (``[身份证号]``) before the model sees
it, unless the caller's roles allow it (``content.pii_chat_roles``, :func:`pii_policy`):
a passage from a knowledge base that allows personal information is still masked for such
a caller. What was masked is recorded as kinds and counts in ``chat.begin``
(``pii_masked``, ``pii_masked_passages``), never the values.

Every hit is counted in ``appliance_content_hits`` by category, action and source, and
listed (rule id, category, action, source: never the text) in the chat's audit rows. The
gateway states its errors in English; the notice a user reads when content is blocked is
Chinese first, then English, as the users of the appliance read it, and its ``code`` lets a
client show its own.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from appliance.audit.events import AuditEvent, EventType, Outcome
from appliance.content import pii
from appliance.content.keywords import Action, Hit, Matcher
from appliance.content.screen import Screened, screen
from appliance.content.stream import Emission, StreamFilter
from appliance.gateway.edge.caller import Caller
from appliance.gateway.edge.metrics import GatewayMetrics
from appliance.rag.schemas import SearchHit
from appliance.settings import ChatPiiPolicy, ContentSettings

BLOCKED_PROMPT = (
    "您的请求包含内容安全策略不允许的内容，未发送给模型。"
    " The request contains content that the content security policy does not allow;"
    " it was not sent to the model."
)
BLOCKED_ANSWER = (
    "回答包含内容安全策略不允许的内容，已停止输出。"
    " The answer contained content that the content security policy does not allow;"
    " it was stopped."
)
BLOCKED_CODE = "content_blocked"


class Source(enum.StrEnum):
    PROMPT = "prompt"
    PASSAGE = "passage"
    REASONING = "reasoning"
    ANSWER = "answer"


@dataclass(frozen=True, slots=True)
class Found:
    """One hit, where it was, and the text it matched (written out only where the
    ``content.audit_matched_text`` setting allows)."""

    source: Source
    hit: Hit
    matched: str

    def record(self, *, with_text: bool) -> dict[str, object]:
        entry = self.hit.entry
        out: dict[str, object] = {
            "source": str(self.source),
            "rule": entry.id,
            "category": entry.category,
            "action": str(entry.action),
        }
        if with_text:
            out["matched"] = self.matched
        return out


@dataclass(slots=True)
class Screening:
    """The hits of one chat and the one that blocked it, if any."""

    matcher: Matcher
    audit_matched_text: bool = False
    found: list[Found] = field(default_factory=list)
    blocked: Found | None = None
    _counted: int = 0

    def text(self, source: Source, text: str) -> Screened:
        """Screen a whole text; a block in the prompt or the answer blocks the chat (in a
        passage it only withholds the passage)."""
        screened = screen(self.matcher, text)
        for each in screened.hits:
            if each.entry.action is not Action.BLOCK or each is screened.blocked:
                self.found.append(Found(source, each, text[each.start : each.end]))
        hit = screened.blocked
        if hit is not None and source is not Source.PASSAGE and self.blocked is None:
            self.blocked = Found(source, hit, text[hit.start : hit.end])
        return screened

    def records(self, *sources: Source) -> list[dict[str, object]]:
        return [
            f.record(with_text=self.audit_matched_text) for f in self.found if f.source in sources
        ]

    def count(self, metrics: GatewayMetrics) -> None:
        """Add the hits not yet counted to ``appliance_content_hits``."""
        for found in self.found[self._counted :]:
            entry = found.hit.entry
            metrics.content_hits.labels(entry.category, str(entry.action), str(found.source)).inc()
        self._counted = len(self.found)

    def blocked_event(
        self, caller: Caller, blocked: Found, *, status: int, model: str
    ) -> AuditEvent:
        """The ``content.blocked`` row: the rule and its category, the text only if allowed."""
        return caller.event(
            EventType.CONTENT_BLOCKED,
            Outcome.DENIED,
            http_status=status,
            model=model,
            detail=blocked.record(with_text=self.audit_matched_text),
        )


def _rewrite_texts(
    messages: list[Any], rewrite: Callable[[str], str], until: Callable[[], bool] = lambda: False
) -> None:
    """Replace, in place, each text of the client's messages (a string content, or the text
    parts of a list) by ``rewrite`` of it; messages after ``until()`` holds are left as
    they are."""
    for message in messages:
        if until() or not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            message["content"] = rewrite(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    part["text"] = rewrite(part["text"])


def screen_messages(screening: Screening, messages: list[Any]) -> None:
    """Screen the client's messages, masking in place, until one blocks."""
    _rewrite_texts(
        messages,
        lambda text: screening.text(Source.PROMPT, text).text,
        until=lambda: screening.blocked is not None,
    )


def pii_policy(content: ContentSettings, roles: frozenset[str]) -> ChatPiiPolicy:
    """The caller's policy: ``mask`` if any of their listed roles says so, else ``allow``
    if one does, else the default (a role granted the numbers cannot be undone by another
    that is only not listed; two that disagree fail safe)."""
    listed = {content.pii_chat_roles[r] for r in roles if r in content.pii_chat_roles}
    if not listed:
        return content.pii_chat_default
    return ChatPiiPolicy.MASK if ChatPiiPolicy.MASK in listed else ChatPiiPolicy.ALLOW


def mask_personal(messages: list[Any]) -> dict[str, int]:
    """Mask the personal information in the client's messages in place; return how many
    of each kind were masked."""
    hits: list[pii.PiiHit] = []

    def masked(text: str) -> str:
        found = pii.find(text)
        hits.extend(found)
        return pii.masked(text, found) if found else text

    _rewrite_texts(messages, masked)
    return pii.counts(hits)


def mask_passage(found: Counter[str], hit: SearchHit) -> SearchHit:
    """A retrieved passage with its personal information masked, the kinds added to
    ``found``."""
    text, kinds = pii.scrub(hit.text)
    if not kinds:
        return hit
    found.update(kinds)
    return hit.model_copy(update={"text": text})


def screen_passage(screening: Screening, hit: SearchHit) -> SearchHit | None:
    """A retrieved passage as the model may see it: masked, or None to withhold it."""
    screened = screening.text(Source.PASSAGE, hit.text)
    if screened.blocked is not None:
        return None
    return hit if screened.text == hit.text else hit.model_copy(update={"text": screened.text})


class _Filtered:
    """One choice's two filters, and the text fed to each (to quote a hit's match)."""

    def __init__(self, matcher: Matcher) -> None:
        self.reasoning = StreamFilter(matcher)
        self.answer = StreamFilter(matcher)
        self.fed: dict[Source, list[str]] = {Source.REASONING: [], Source.ANSWER: []}
        self.reasoning_done = False
        self.answer_done = False


class StreamScreen:
    """The filters of one streamed reply: feed each chunk's deltas through ``delta``."""

    def __init__(self, screening: Screening) -> None:
        self.screening = screening
        self._choices: dict[int, _Filtered] = {}

    @property
    def blocked(self) -> bool:
        return self.screening.blocked is not None

    def _take(self, choice: _Filtered, source: Source, emission: Emission) -> str:
        if not emission.hits and (emission.blocked is None or self.blocked):
            return emission.text
        text = "".join(choice.fed[source])
        found = self.screening.found
        found.extend(Found(source, h, text[h.start : h.end]) for h in emission.hits)
        if emission.blocked is not None and self.screening.blocked is None:
            hit = emission.blocked
            self.screening.blocked = Found(source, hit, text[hit.start : hit.end])
            found.append(self.screening.blocked)
        return emission.text

    def _feed(self, choice: _Filtered, source: Source, text: str) -> str:
        choice.fed[source].append(text)
        stream = choice.reasoning if source is Source.REASONING else choice.answer
        return self._take(choice, source, stream.feed(text))

    def _finish(self, choice: _Filtered, source: Source) -> str:
        if source is Source.REASONING:
            if choice.reasoning_done:
                return ""
            choice.reasoning_done = True
            return self._take(choice, source, choice.reasoning.finish())
        if choice.answer_done:
            return ""
        choice.answer_done = True
        return self._take(choice, source, choice.answer.finish())

    def delta(self, index: int, delta: dict[str, Any], *, last: bool) -> None:
        """Filter one delta of choice ``index`` in place; ``last``: the choice ends here.
        The reasoning's held-back end is released with the first answer delta."""
        choice = self._choices.get(index)
        if choice is None:
            choice = self._choices[index] = _Filtered(self.screening.matcher)
        reasoning = delta.get("reasoning")
        if reasoning is None:
            reasoning = delta.get("reasoning_content")
        content = delta.get("content")
        out_reasoning = self._feed(choice, Source.REASONING, reasoning) if reasoning else ""
        if (content or last) and not self.blocked:
            out_reasoning += self._finish(choice, Source.REASONING)
        out_answer = ""
        if content and not self.blocked:
            out_answer = self._feed(choice, Source.ANSWER, content)
        if last and not self.blocked:
            out_answer += self._finish(choice, Source.ANSWER)
        if out_reasoning or "reasoning" in delta or "reasoning_content" in delta:
            delta["reasoning"] = delta["reasoning_content"] = out_reasoning
        if out_answer or "content" in delta:
            delta["content"] = out_answer

    def flush(self) -> list[tuple[int, dict[str, Any]]]:
        """At the end of a stream whose choices did not all finish: their held-back text."""
        out: list[tuple[int, dict[str, Any]]] = []
        for index, choice in self._choices.items():
            if self.blocked:
                break
            delta: dict[str, Any] = {}
            reasoning = self._finish(choice, Source.REASONING)
            answer = "" if self.blocked else self._finish(choice, Source.ANSWER)
            if reasoning:
                delta["reasoning"] = delta["reasoning_content"] = reasoning
            if answer:
                delta["content"] = answer
            if delta:
                out.append((index, delta))
        return out
