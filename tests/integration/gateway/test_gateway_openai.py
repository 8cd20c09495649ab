"""The official ``openai`` client against the appliance's gateway and its real vLLM backend."""

from __future__ import annotations

from typing import TYPE_CHECKING

import openai

from tests.support.audit import find_audit_event

if TYPE_CHECKING:
    from tests.support.tokens import Tokens

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def _client(gateway_url: str, tokens: Tokens) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway_url}/v1", api_key=tokens("zhang.wei"))


def test_models_lists_the_served_model(gateway_url: str, tokens: Tokens, served_model: str) -> None:
    ids = [model.id for model in _client(gateway_url, tokens).models.list()]
    assert served_model in ids


def test_non_streaming_chat_with_reasoning_under_both_names_is_audited(
    gateway_url: str, tokens: Tokens, served_model: str
) -> None:
    raw = _client(gateway_url, tokens).chat.completions.with_raw_response.create(
        model=served_model, messages=QUESTION, max_tokens=24
    )
    completion = raw.parse()
    message = completion.choices[0].message
    extra = message.model_extra or {}
    # vLLM names it `reasoning`; the gateway adds the name clients read.
    assert "reasoning_content" in extra
    reasoning = extra["reasoning_content"]
    assert reasoning == extra["reasoning"]
    answer = (reasoning or "") + (message.content or "")
    assert completion.usage is not None
    assert completion.usage.completion_tokens > 0

    end = find_audit_event(
        gateway_url, tokens, request_id=raw.headers["x-request-id"], event_type="chat.end"
    )
    assert end["outcome"] == "ok"
    assert end["actor_username"] == "zhang.wei"
    assert end["completion_tokens"] == completion.usage.completion_tokens
    assert end["prompt_tokens"] == completion.usage.prompt_tokens
    assert (end["reasoning"] or "") + (end["response"] or "") == answer
    assert "capital of France" in end["prompt"]
    begin = find_audit_event(
        gateway_url, tokens, request_id=raw.headers["x-request-id"], event_type="chat.begin"
    )
    assert begin["seq"] < end["seq"]


def test_streaming_chat_with_reasoning_under_both_names_is_audited(
    gateway_url: str, tokens: Tokens, served_model: str
) -> None:
    raw = _client(gateway_url, tokens).chat.completions.with_raw_response.create(
        model=served_model, messages=QUESTION, max_tokens=24, stream=True
    )
    reasoning: list[str] = []
    content: list[str] = []
    usage_chunks = 0
    for chunk in raw.parse():
        usage_chunks += chunk.usage is not None
        for choice in chunk.choices:
            extra = choice.delta.model_extra or {}
            if "reasoning" in extra or "reasoning_content" in extra:
                assert extra.get("reasoning") == extra.get("reasoning_content")
            reasoning.append(extra.get("reasoning_content") or "")
            content.append(choice.delta.content or "")
    streamed = "".join(reasoning) + "".join(content)
    # The gateway asks vLLM for usage but does not show it to a client that did not ask.
    assert usage_chunks == 0

    end = find_audit_event(
        gateway_url, tokens, request_id=raw.headers["x-request-id"], event_type="chat.end"
    )
    assert end["outcome"] == "ok"
    assert end["completion_tokens"] > 0
    # Time to first token is measured at the first chunk that carries text.
    assert (end["ttft_ms"] is not None) == bool(streamed)
    assert (end["reasoning"] or "") + (end["response"] or "") == streamed


def test_streaming_usage_is_passed_on_when_the_client_asks(
    gateway_url: str, tokens: Tokens, served_model: str
) -> None:
    stream = _client(gateway_url, tokens).chat.completions.create(
        model=served_model,
        messages=QUESTION,
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
    )
    usages = [chunk.usage for chunk in stream if chunk.usage is not None]
    assert len(usages) == 1
    assert usages[0].completion_tokens > 0
