"""The deep-thinking switch through a gateway of this tree's code.

Against the local CPU vLLM (the demo model, served like R1 with the ``deepseek_r1`` parser,
so it always reasons): ``/v1/models`` says ``always``, ``thinking: true`` answers with its
reasoning, ``thinking: false`` is refused with a 400 that says the model always reasons,
and a switch that is not a bool is a 400 naming it. Against a stub backend serving a
DeepSeek-V3.1 (``template`` mode): the OpenAI SDK's ``extra_body={"thinking": ...}``
reaches the backend as ``chat_template_kwargs.thinking``, and ``chat.begin`` records it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.gateways import Gateway, chat_body
from tests.support.postgres.databases import ScratchDb
from tests.support.scratch_gateway import chat_begin_detail, scratch_gateway_fixtures
from tests.support.sse_fixtures import data_payloads
from tests.support.stubs import Stub
from tests.support.tokens import Tokens

V31 = "deepseek-v3.1"
USER = "zhang.wei"

scratch, gateway = scratch_gateway_fixtures("gw_thinking")


@pytest.fixture(scope="module")
def stub() -> Iterator[Stub]:
    """The scratch gateway's backend: a stub that lists a DeepSeek-V3.1."""
    started = Stub(V31)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def real(
    settings_env: dict[str, str], scratch: ScratchDb, endpoints: dict[str, Any]
) -> Iterator[Gateway]:
    """A gateway of this tree's code in front of the running appliance's CPU vLLM (its key
    is the runtime's)."""
    started = Gateway(
        {
            **settings_env,
            "APPLIANCE_DATABASE_URL": scratch.gateway_url,
            "APPLIANCE_BACKENDS": endpoints["backends"][0],
            "APPLIANCE_BACKEND_API_KEY": endpoints["backend_api_key"],
        }
    )
    yield started
    started.stop()


def _post(gateway: Gateway, tokens: Tokens, body: dict[str, Any]) -> httpx.Response:
    with httpx.Client(base_url=gateway.url, headers=tokens.headers(USER), timeout=300) as client:
        return client.post("/v1/chat/completions", json=body)


def _modes(gateway: Gateway, tokens: Tokens) -> dict[str, str]:
    listed = httpx.get(f"{gateway.url}/v1/models", headers=tokens.headers(USER), timeout=30)
    assert listed.status_code == 200, listed.text
    return {card["id"]: card["thinking"] for card in listed.json()["data"]}


def test_the_cpu_model_always_reasons_and_thinking_on_is_answered_with_reasoning(
    real: Gateway, tokens: Tokens, served_model: str, scratch: ScratchDb
) -> None:
    assert _modes(real, tokens)[served_model] == "always"
    answered = _post(
        real, tokens, chat_body(served_model, stream=True, thinking=True, max_tokens=24)
    )
    assert answered.status_code == 200, answered.text
    chunks = [c for c in data_payloads(answered.content) if c != "[DONE]"]
    text = "".join(chunks)
    assert '"reasoning"' in text and '"reasoning_content"' in text
    detail = chat_begin_detail(scratch, answered.headers["x-request-id"])
    assert (detail["thinking"], detail["thinking_mode"]) == (True, "always")


def test_turning_thinking_off_for_a_model_that_always_reasons_is_refused(
    real: Gateway, tokens: Tokens, served_model: str
) -> None:
    for body in (
        chat_body(served_model, thinking=False),
        chat_body(served_model, chat_template_kwargs={"thinking": False}),
    ):
        refused = _post(real, tokens, body)
        assert refused.status_code == 400
        error = refused.json()["error"]
        assert (error["type"], error["code"], error["param"]) == (
            "invalid_request_error",
            "thinking_unsupported",
            "thinking",
        )
        assert f"'{served_model}' always reasons" in error["message"]
    client = openai.OpenAI(base_url=f"{real.url}/v1", api_key=tokens(USER), max_retries=0)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model=served_model,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"thinking": False},
        )


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"thinking": "off"}, "thinking"),
        ({"thinking": 0}, "thinking"),
        ({"chat_template_kwargs": {"thinking": "true"}}, "chat_template_kwargs.thinking"),
    ],
)
def test_a_switch_that_is_not_a_bool_is_a_400_naming_it(
    real: Gateway, tokens: Tokens, served_model: str, extra: dict[str, Any], param: str
) -> None:
    refused = _post(real, tokens, chat_body(served_model, **extra))
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)


@pytest.mark.parametrize("wanted", [False, True])
def test_a_template_model_gets_the_switch_in_its_chat_template_kwargs(
    gateway: Gateway, stub: Stub, tokens: Tokens, scratch: ScratchDb, wanted: bool
) -> None:
    assert _modes(gateway, tokens) == {V31: "template"}
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=tokens(USER), max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model=V31,
        messages=[{"role": "user", "content": "9.11 and 9.8, which is greater?"}],
        extra_body={"thinking": wanted},
    )
    assert raw.parse().choices[0].message.content
    sent = stub.stats()["last_chat_request"]
    assert sent["chat_template_kwargs"] == {"thinking": wanted}
    assert "thinking" not in sent
    detail = chat_begin_detail(scratch, raw.headers["x-request-id"])
    assert (detail["thinking"], detail["thinking_mode"]) == (wanted, "template")


def test_a_template_model_asked_nothing_gets_no_switch(
    gateway: Gateway, stub: Stub, tokens: Tokens, scratch: ScratchDb
) -> None:
    answered = _post(gateway, tokens, chat_body(V31))
    assert answered.status_code == 200, answered.text
    assert "chat_template_kwargs" not in stub.stats()["last_chat_request"]
    detail = chat_begin_detail(scratch, answered.headers["x-request-id"])
    assert (detail["thinking"], detail["thinking_mode"]) == (None, "template")
