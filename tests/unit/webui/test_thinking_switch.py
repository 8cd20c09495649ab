"""The chat's 深度思考 switch follows the served model: enabled where the model can switch
its thinking, otherwise fixed at what the model does (ticked for R1, which always reasons;
unticked for a model that never does), and disabled when the model list cannot be read."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import gradio as gr
import pytest

from webui.gateway_client import GatewayError, ServedModel
from webui.i18n import Lang, t
from webui.services import Services
from webui.sessions import Session
from webui.ui_chat import ChatTab

SESSION = cast(Session, SimpleNamespace(identity=SimpleNamespace(subject="user-1")))


def _tab(model: ServedModel | GatewayError, lang: Lang) -> ChatTab:
    services = SimpleNamespace(settings=SimpleNamespace(max_tokens=64))
    with gr.Blocks():
        tab = ChatTab(cast(Services, services), lang)

    async def served(session: Session) -> ServedModel:
        if isinstance(model, GatewayError):
            raise model
        return model

    tab.answerer.model = served  # type: ignore[method-assign]
    tab._session = lambda request: SESSION  # type: ignore[method-assign]
    return tab


@pytest.mark.parametrize(
    ("mode", "interactive", "value", "note"),
    [
        ("template", True, None, "deep_thinking_switch"),
        ("always", False, True, "deep_thinking_always"),
        ("none", False, False, "deep_thinking_none"),
    ],
)
@pytest.mark.parametrize("lang", list(Lang))
async def test_the_switch_follows_the_models_thinking_mode(
    mode: str, interactive: bool, value: bool | None, note: str, lang: Lang
) -> None:
    tab = _tab(ServedModel("m", mode), lang)
    assert tab.thinking.label == t("deep_thinking", lang)
    update = await tab.load_thinking(cast(gr.Request, None))
    assert update.interactive is interactive
    if value is not None:
        assert update.value is value
    assert update.info == t(note, lang)


async def test_an_unreadable_model_list_leaves_the_switch_disabled() -> None:
    tab = _tab(GatewayError(503, "gateway unreachable"), Lang.ZH)
    update = await tab.load_thinking(cast(gr.Request, None))
    assert update.interactive is False
