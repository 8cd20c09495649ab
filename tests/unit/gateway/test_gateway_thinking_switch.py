"""The deep-thinking switch: validated like every field, mapped per the model's thinking
mode (template models get ``chat_template_kwargs.thinking``; a model that cannot do what is
asked refuses with a 400 that says so), each model's mode named in ``/v1/models``, and
every deployable model of the sizing catalogue given the mode its reasoning parser serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from appliance.gateway.chat.serving import parse_chat_request
from appliance.gateway.chat.thinking import UNSUPPORTED, apply_thinking
from appliance.gateway.edge.errors import InvalidParam
from appliance.gateway.replicas.pool import ReplicaPool
from appliance.gateway.replicas.thinking import inferred_mode
from appliance.settings import LimitSettings, ThinkingMode
from appliance.sizing.catalog import MODELS, ModelArch

LIMITS = LimitSettings()


def _parse(**fields: object) -> tuple[dict[str, Any], Any]:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    return parse_chat_request(orjson.dumps(body), LIMITS)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"thinking": "false"}, "thinking"),
        ({"thinking": 0}, "thinking"),
        ({"thinking": None, "chat_template_kwargs": {"thinking": "yes"}}, None),
        ({"chat_template_kwargs": "thinking"}, "chat_template_kwargs"),
    ],
)
def test_a_switch_that_is_not_a_bool_is_refused_naming_it(
    fields: dict[str, object], param: str | None
) -> None:
    with pytest.raises(InvalidParam) as refused:
        _parse(**fields)
    assert refused.value.status_code == 400
    expected = param or "chat_template_kwargs.thinking"
    assert refused.value.param == expected


def test_both_places_disagreeing_is_refused() -> None:
    payload, parsed = _parse(thinking=True, chat_template_kwargs={"thinking": False})
    with pytest.raises(InvalidParam) as refused:
        apply_thinking(payload, parsed, ThinkingMode.TEMPLATE)
    assert refused.value.param == "thinking"


@pytest.mark.parametrize("wanted", [True, False])
def test_a_template_model_gets_the_switch_in_its_chat_template_kwargs(wanted: bool) -> None:
    payload, parsed = _parse(thinking=wanted, chat_template_kwargs={"other": 1})
    assert apply_thinking(payload, parsed, ThinkingMode.TEMPLATE) is wanted
    assert "thinking" not in payload
    assert payload["chat_template_kwargs"] == {"other": 1, "thinking": wanted}


def test_a_template_model_asked_nothing_keeps_its_default() -> None:
    payload, parsed = _parse()
    assert apply_thinking(payload, parsed, ThinkingMode.TEMPLATE) is None
    assert "chat_template_kwargs" not in payload


def test_the_nested_form_alone_is_taken_as_sent() -> None:
    payload, parsed = _parse(chat_template_kwargs={"thinking": False})
    assert apply_thinking(payload, parsed, ThinkingMode.TEMPLATE) is False
    assert payload["chat_template_kwargs"] == {"thinking": False}


@pytest.mark.parametrize(
    ("mode", "refused_value", "message"),
    [
        (ThinkingMode.ALWAYS, False, "always reasons"),
        (ThinkingMode.NONE, True, "does not reason"),
    ],
)
def test_a_model_that_cannot_switch_refuses_the_other_way(
    mode: ThinkingMode, refused_value: bool, message: str
) -> None:
    for payload, parsed in (
        _parse(thinking=refused_value),
        _parse(chat_template_kwargs={"thinking": refused_value}),
    ):
        with pytest.raises(InvalidParam) as refused:
            apply_thinking(payload, parsed, mode)
        assert refused.value.code == UNSUPPORTED
        assert refused.value.param == "thinking"
        assert message in refused.value.message


@pytest.mark.parametrize(
    ("mode", "does"), [(ThinkingMode.ALWAYS, True), (ThinkingMode.NONE, False)]
)
def test_asking_a_fixed_model_for_what_it_does_is_accepted_and_not_forwarded(
    mode: ThinkingMode, does: bool
) -> None:
    payload, parsed = _parse(thinking=does, chat_template_kwargs={"thinking": does, "x": 1})
    assert apply_thinking(payload, parsed, mode) is does
    assert "thinking" not in payload
    assert payload["chat_template_kwargs"] == {"x": 1}
    payload, parsed = _parse(chat_template_kwargs={"thinking": does})
    apply_thinking(payload, parsed, mode)
    assert "chat_template_kwargs" not in payload


@pytest.mark.parametrize(
    ("names", "mode"),
    [
        (["deepseek-r1", "deepseek-ai/DeepSeek-R1"], ThinkingMode.ALWAYS),
        (["r1", "/models/DeepSeek-R1-0528"], ThinkingMode.ALWAYS),
        (["x", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"], ThinkingMode.ALWAYS),
        (["ds31", "deepseek-ai/DeepSeek-V3.1"], ThinkingMode.TEMPLATE),
        (["ds", "/models/DeepSeek-V3.1-Terminus"], ThinkingMode.TEMPLATE),
        (["deepseek-v3.2-exp", ""], ThinkingMode.TEMPLATE),
        (["deepseek-v4-flash", ""], ThinkingMode.TEMPLATE),
        (["v4", "deepseek-ai/DeepSeek-V4-Pro"], ThinkingMode.TEMPLATE),
        (["v3", "deepseek-ai/DeepSeek-V3-0324"], ThinkingMode.NONE),
        (["deepseek-ai/DeepSeek-V2"], ThinkingMode.NONE),
        (["deepseek-ai/deepseek-llm-67b-base"], ThinkingMode.NONE),
        (["smollm2-135m-instruct", "/work/var/models/smollm2-135m-instruct"], ThinkingMode.ALWAYS),
    ],
)
def test_a_models_family_gives_its_mode(names: list[str], mode: ThinkingMode) -> None:
    assert inferred_mode(names) is mode


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_models_name_each_ones_mode_and_the_setting_wins(
    session: aiohttp.ClientSession,
) -> None:
    pool = ReplicaPool(
        ["http://a"],
        session,
        interval_s=1,
        inflight_cap=1,
        thinking={"house-model": ThinkingMode.TEMPLATE},
    )
    backend = pool.replicas[0]
    backend.healthy = True
    backend.model_cards = (
        {"id": "ds31", "root": "/models/DeepSeek-V3.1"},
        {"id": "house-model", "root": "/models/DeepSeek-R1"},
        {"id": "r1", "root": "/models/DeepSeek-R1"},
    )
    backend.model_ids = frozenset({"ds31", "house-model", "r1"})
    listed = {card["id"]: card["thinking"] for card in pool.models()}
    assert listed == {"ds31": "template", "house-model": "template", "r1": "always"}
    assert pool.thinking("ds31") is ThinkingMode.TEMPLATE
    assert pool.thinking("house-model") is ThinkingMode.TEMPLATE
    assert pool.thinking("r1") is ThinkingMode.ALWAYS
    # The backend's own card is not changed by the listing.
    assert "thinking" not in backend.model_cards[0]


# The reasoning parser each switchable family is served with, as the sizing catalogue's
# launch profiles run it: a parser that reads the chat template's ``thinking``.
TEMPLATE_PARSERS = {"deepseek_v3", "deepseek_v4"}


@pytest.mark.parametrize(
    "arch", [m for m in MODELS.values() if m.deployable], ids=lambda m: str(m.key)
)
def test_every_deployable_catalogue_model_gets_the_mode_its_reasoning_parser_serves(
    arch: ModelArch,
) -> None:
    expected = (
        ThinkingMode.TEMPLATE if arch.reasoning_parser in TEMPLATE_PARSERS else ThinkingMode.ALWAYS
    )
    assert arch.reasoning_parser in TEMPLATE_PARSERS | {"deepseek_r1"}
    assert inferred_mode([arch.key, arch.hf_repo]) is expected
    assert inferred_mode([arch.hf_repo.split("/")[1].lower()]) is expected
