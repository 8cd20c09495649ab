"""Reading vLLM's answers on their way through: reasoning alias, usage, captured text.

Chunks are forwarded byte for byte. Each one is parsed once with orjson (the gateway must
read the text and the usage for the audit log), but re-serialised only when the gateway
changes it: adding ``reasoning_content`` next to vLLM's ``reasoning`` (or the reverse, for
older vLLM releases), since clients read the former; or dropping the usage-only chunk that
the gateway asked for on its own behalf when the client did not. For a retrieval-augmented
chat the gateway adds ``citations`` and ``grade`` (the highest data grade among them): top-level
fields of the completion, or, in a stream, one extra chunk (no choices, like the usage chunk)
just before ``[DONE]``.

With a keyword library in force (:mod:`~appliance.gateway.chat.screening`) every chunk's
reasoning and answer deltas are rewritten to what the filter releases; text it still held
back when the choices ended goes out in one more chunk before ``[DONE]``; a block ends the
stream with an error event and ``[DONE]``, and nothing upstream sends after it is read.
The captured text (for the audit log) is the model's own, before filtering.
"""

from __future__ import annotations

from typing import Any

import orjson

from appliance.gateway.chat.screening import (
    BLOCKED_ANSWER,
    BLOCKED_CODE,
    Screening,
    Source,
    StreamScreen,
)

DONE = b"[DONE]"
EVENT_END = b"\n\n"


def add_reasoning_alias(part: dict[str, Any]) -> bool:
    """Give a delta or message both reasoning names; True when it changed."""
    reasoning = part.get("reasoning")
    legacy = part.get("reasoning_content")
    if reasoning is not None and legacy is None:
        part["reasoning_content"] = reasoning
        return True
    if legacy is not None and reasoning is None:
        part["reasoning"] = legacy
        return True
    return False


def _json_object(data: bytes) -> dict[str, Any] | None:
    """``data`` parsed, when it is a JSON object; None for anything else, which the gateway
    then forwards untouched rather than failing the answer."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def sse_event(payload: dict[str, Any] | bytes) -> bytes:
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return b"data: " + data + EVENT_END


class AnswerCapture:
    """What the gateway learns from one answer: text, reasoning, tokens, errors."""

    def __init__(
        self,
        *,
        strip_usage: bool = False,
        citations: list[dict[str, Any]] | None = None,
        grade: str | None = None,
        screening: Screening | None = None,
    ) -> None:
        self.strip_usage = strip_usage
        self.grade = grade
        self.screening = screening
        self._stream_screen = StreamScreen(screening) if screening is not None else None
        self.citations = citations
        # id/created/model of the stream's chunks, repeated on the citations chunk.
        self._stream_identity: dict[str, Any] = {}
        self.reasoning: list[str] = []
        self.answer: list[str] = []
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        # Chunks that carried text: the token count so far when no usage arrives.
        self.text_chunks = 0
        self.done = False
        self.error: Any = None
        self._buffer = b""

    @property
    def blocked(self) -> bool:
        """Whether the filter blocked the answer (the stream ended there)."""
        return self.screening is not None and self.screening.blocked is not None

    @property
    def tokens_used(self) -> int:
        completion = self.completion_tokens
        if completion is None:
            completion = self.text_chunks
        return (self.prompt_tokens or 0) + completion

    def _take_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self.prompt_tokens = usage.get("prompt_tokens", self.prompt_tokens)
            self.completion_tokens = usage.get("completion_tokens", self.completion_tokens)

    def _take_text(self, part: dict[str, Any]) -> bool:
        reasoning = part.get("reasoning")
        if reasoning is None:
            reasoning = part.get("reasoning_content")
        content = part.get("content")
        if reasoning:
            self.reasoning.append(reasoning)
        if content:
            self.answer.append(content)
        return bool(reasoning or content)

    def _citations_event(self) -> bytes:
        chunk = {
            **self._stream_identity,
            "object": "chat.completion.chunk",
            "choices": [],
            "citations": self.citations,
            "grade": self.grade,
        }
        return sse_event(chunk)

    def _chunk(self, data: bytes) -> bytes | None:
        """One ``data:`` payload in, what to forward out (None drops it)."""
        if data == DONE:
            self.done = True
            return data
        chunk = _json_object(data)
        if chunk is None:
            return data
        if "error" in chunk:
            self.error = chunk["error"]
            return data
        if not self._stream_identity:
            self._stream_identity = {
                key: chunk[key] for key in ("id", "created", "model") if key in chunk
            }
        choices = chunk.get("choices") or ()
        if chunk.get("usage"):
            self._take_usage(chunk["usage"])
            if self.strip_usage and not choices:
                return None
        changed = False
        for choice in choices:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict):
                changed |= add_reasoning_alias(delta)
                if self._take_text(delta):
                    self.text_chunks += 1
                if self._stream_screen is not None:
                    index = choice.get("index", 0)
                    last = choice.get("finish_reason") is not None
                    self._stream_screen.delta(index, delta, last=last)
                    changed = True
        if self.strip_usage and "usage" in chunk:
            del chunk["usage"]
            changed = True
        return orjson.dumps(chunk) if changed else data

    def _held_back(self) -> list[bytes]:
        """Chunks with the text the filters still hold when the stream ends."""
        if self._stream_screen is None:
            return []
        return [
            sse_event(
                {
                    **self._stream_identity,
                    "object": "chat.completion.chunk",
                    "choices": [{"index": index, "delta": delta, "finish_reason": None}],
                }
            )
            for index, delta in self._stream_screen.flush()
        ]

    def feed(self, raw: bytes) -> bytes:
        """Bytes from upstream in, complete (possibly rewritten) SSE events out."""
        if self.blocked:
            return b""
        self._buffer += raw
        if EVENT_END not in self._buffer:
            return b""
        *events, self._buffer = self._buffer.split(EVENT_END)
        out: list[bytes] = []
        for event in events:
            if not event.startswith(b"data:"):
                out.append(event + EVENT_END)
                continue
            forwarded = self._chunk(event[5:].lstrip(b" "))
            if forwarded == DONE:
                out.extend(self._held_back())
                if self.citations is not None:
                    out.append(self._citations_event())
            if forwarded is not None:
                out.append(b"data: " + forwarded + EVENT_END)
            if self.blocked:
                out.append(sse_event(blocked_error()) + sse_event(DONE))
                self._buffer = b""
                break
        return b"".join(out)

    def message_body(self, body: bytes) -> bytes:
        """A complete non-streaming completion in, the body to return out."""
        completion = _json_object(body)
        if completion is None:
            return body
        self._take_usage(completion.get("usage"))
        changed = False
        for choice in completion.get("choices") or ():
            message = choice.get("message") if isinstance(choice, dict) else None
            if isinstance(message, dict):
                changed |= add_reasoning_alias(message)
                self._take_text(message)
                if self.screening is not None:
                    _screen_message(self.screening, choice, message)
                    changed = True
        if self.citations is not None:
            completion["citations"] = self.citations
            completion["grade"] = self.grade
            changed = True
        self.done = True
        return orjson.dumps(completion) if changed else body


def blocked_error() -> dict[str, Any]:
    """The error event that ends a blocked stream, in OpenAI's error shape."""
    return {
        "error": {
            "message": BLOCKED_ANSWER,
            "type": "invalid_request_error",
            "code": BLOCKED_CODE,
            "param": None,
        }
    }


def _screen_message(screening: Screening, choice: dict[str, Any], message: dict[str, Any]) -> None:
    """Filter a complete answer's message in place; a blocked one keeps only the notice."""
    for source, key in ((Source.REASONING, "reasoning"), (Source.ANSWER, "content")):
        text = message.get(key)
        if isinstance(text, str) and text and screening.blocked is None:
            message[key] = screening.text(source, text).text
    if screening.blocked is not None:
        message["content"] = BLOCKED_ANSWER
        message["reasoning"] = None
        choice["finish_reason"] = "content_filter"
    if "reasoning" in message:
        message["reasoning_content"] = message["reasoning"]
