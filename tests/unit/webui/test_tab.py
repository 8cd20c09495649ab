"""Every tab gets the signed-in user the same way: a gone session reads "sign in again", a user
without the tab's role gets the tab's own refusal, anyone else a fresh token; and the whole
page still builds from its tabs."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import gradio as gr
import pytest

from webui.i18n import Lang, t
from webui.services import Services, SessionExpired
from webui.sessions import Identity, Session
from webui.tab import Tab, signed_in
from webui.ui import build_ui

EDITOR = Identity("sub-li", "li.na", frozenset({"staff", "kb-editor"}), ("/dept/legal",))
STAFF = Identity("sub-zhang", "zhang.wei", frozenset({"staff"}), ("/dept/finance",))
REQUEST = cast(gr.Request, SimpleNamespace(cookies={}))


class FakeServices:
    def __init__(self, identity: Identity | None, *, refresh_fails: bool = False) -> None:
        self.session = (
            None if identity is None else cast(Session, SimpleNamespace(identity=identity))
        )
        self.refresh_fails = refresh_fails

    def require(self, request: gr.Request) -> Session:
        if self.session is None:
            raise SessionExpired
        return self.session

    async def token(self, session: Session) -> str:
        if self.refresh_fails:
            raise SessionExpired
        return "access-token"


class EmptyTab(Tab):
    def _build(self) -> None:
        self.built = True


def _tab(services: FakeServices) -> EmptyTab:
    return EmptyTab(cast(Services, services), Lang.EN)


def _editors(tab: Tab) -> Any:
    return asyncio.run(tab._access(REQUEST, lambda who: who.is_kb_editor, "kb_err_forbidden"))


def test_a_tab_is_built_when_made() -> None:
    assert _tab(FakeServices(STAFF)).built


def test_a_gone_session_is_told_to_sign_in_again() -> None:
    for lang in Lang:
        with pytest.raises(gr.Error, match=t("err_session", lang)):
            signed_in(cast(Services, FakeServices(None)), REQUEST, lang)
    with pytest.raises(gr.Error, match=t("err_session", Lang.EN)):
        _tab(FakeServices(None))._session(REQUEST)
    with pytest.raises(gr.Error, match=t("err_session", Lang.EN)):
        _editors(_tab(FakeServices(None)))
    with pytest.raises(gr.Error, match=t("err_session", Lang.EN)):
        _editors(_tab(FakeServices(EDITOR, refresh_fails=True)))


def test_a_user_without_the_role_gets_the_tabs_refusal() -> None:
    with pytest.raises(gr.Error, match=t("kb_err_forbidden", Lang.EN)):
        _editors(_tab(FakeServices(STAFF)))


def test_a_user_with_the_role_gets_the_session_and_a_token() -> None:
    services = FakeServices(EDITOR)
    assert _tab(services)._session(REQUEST) is services.session
    assert _editors(_tab(services)) == (services.session, "access-token")


def test_the_page_builds_from_its_tabs() -> None:
    for lang in Lang:
        assert isinstance(build_ui(cast(Services, FakeServices(None)), lang), gr.Blocks)
