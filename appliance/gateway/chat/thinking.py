"""The per-request deep-thinking switch (深度思考), mapped onto the served model's mechanism.

A client asks with ``thinking: true|false`` at the top of the body (the OpenAI SDK's
``extra_body={"thinking": False}``) or, as vLLM's own clients do, with
``chat_template_kwargs: {"thinking": ...}``; both must agree when both are sent. What the
switch does depends on the model's thinking mode (``gateway.replicas.thinking``):

- ``template`` (DeepSeek-V3.1/V3.2, V4): forwarded as ``chat_template_kwargs.thinking``,
  which their chat template and reasoning parser both read (vLLM's recipe
  ``DeepSeek/DeepSeek-V3_1.md``: ``extra_body={"chat_template_kwargs": {"thinking": False}}``;
  vLLM 0.32's ``deepseek_v3`` parser and ``vllm/parser/deepseek_v4.py`` read the same key).
  Without a switch the model keeps its own default: V3.1/V3.2's template answers without
  reasoning, V4's with it (vLLM 0.32 ``vllm/tokenizers/deepseek_v4.py``: no ``thinking``
  key means thinking mode; ``reasoning_effort: "none"`` is V4's other way off, which the
  gateway does not use).
- ``always`` (R1 and its distills): the model cannot stop reasoning, so ``false`` is
  refused (400 ``thinking_unsupported``) rather than accepted and silently not honoured;
  ``true`` is what it does anyway.
- ``none``: the model cannot reason, so ``true`` is refused the same way; ``false`` is
  what it does anyway.

The switch itself never reaches a model whose template does not take it.
"""

from __future__ import annotations

from typing import Any

from appliance.gateway.chat.protocol import ChatCompletionRequest
from appliance.gateway.edge.errors import InvalidParam
from appliance.settings import ThinkingMode

UNSUPPORTED = "thinking_unsupported"


def requested_thinking(parsed: ChatCompletionRequest) -> bool | None:
    """The switch as the client set it (None: not set), from either place it may be."""
    top = parsed.thinking
    kwargs = parsed.chat_template_kwargs
    nested = kwargs.thinking if kwargs is not None else None
    if top is not None and nested is not None and top != nested:
        raise InvalidParam(
            "'thinking' and 'chat_template_kwargs.thinking' disagree; send one of them.",
            param="thinking",
        )
    return top if top is not None else nested


def apply_thinking(
    payload: dict[str, Any], parsed: ChatCompletionRequest, mode: ThinkingMode
) -> bool | None:
    """Rewrite ``payload`` for the model's ``mode``; return whether the answer reasons
    (None: the model's own default, for a ``template`` model asked nothing)."""
    wanted = requested_thinking(parsed)
    payload.pop("thinking", None)
    kwargs = payload.get("chat_template_kwargs")
    if mode is ThinkingMode.TEMPLATE:
        if wanted is not None:
            payload["chat_template_kwargs"] = {**(kwargs or {}), "thinking": wanted}
        return wanted
    if mode is ThinkingMode.ALWAYS and wanted is False:
        raise InvalidParam(
            f"The model '{parsed.model}' always reasons before it answers; its thinking"
            " cannot be turned off.",
            param="thinking",
            code=UNSUPPORTED,
        )
    if mode is ThinkingMode.NONE and wanted is True:
        raise InvalidParam(
            f"The model '{parsed.model}' does not reason; thinking cannot be turned on.",
            param="thinking",
            code=UNSUPPORTED,
        )
    if isinstance(kwargs, dict) and "thinking" in kwargs:
        rest = {key: value for key, value in kwargs.items() if key != "thinking"}
        if rest:
            payload["chat_template_kwargs"] = rest
        else:
            del payload["chat_template_kwargs"]
    return mode is ThinkingMode.ALWAYS
