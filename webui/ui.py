"""The page: a header (user, language, sign-out) and the tabs each role may use.

Built once per language. Tabs start hidden and are shown on page load from the session's
roles; the handlers behind them check the role again, and the gateway checks it a third time.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from webui.i18n import Lang, t
from webui.services import Services
from webui.sessions import Identity
from webui.tab import signed_in
from webui.ui_admin import AdminTab
from webui.ui_audit import AuditTab
from webui.ui_chat import ChatTab
from webui.ui_keys import KeysTab
from webui.ui_knowledge import KnowledgeTab
from webui.ui_secadmin import SecadminTab

# Streams from several users must run side by side (Gradio's default is one at a time).
CONCURRENT_EVENTS = 64

# System fonts only: the appliance may have no internet, so no web fonts are fetched.
FONTS = ("Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif")
MONO_FONTS = ("Noto Sans Mono CJK SC", "ui-monospace", "monospace")

CSS = """
#topbar {align-items: center; gap: 8px;}
#topbar .prose h2 {margin: 0;}
#conversations {max-height: calc(100vh - 330px); overflow-y: auto;}
#conversations .wrap {flex-direction: column; align-items: stretch;}
#quota, #kb-formats {font-size: 0.85em;}
footer {display: none !important;}
"""


def _first_tab(who: Identity) -> str:
    """The tab open after sign-in: the first one of the user's roles."""
    if who.can_chat:
        return "chat"
    if who.is_auditor:
        return "audit"
    return "admin" if who.is_sysadmin else "secadmin"


def build_ui(services: Services, lang: Lang) -> gr.Blocks:
    other = Lang.EN if lang is Lang.ZH else Lang.ZH
    with gr.Blocks(title=t("app_title", lang), analytics_enabled=False, fill_width=True) as demo:
        with gr.Row(elem_id="topbar", equal_height=True):
            gr.Markdown(f"## {t('app_title', lang)}")
            user = gr.Markdown(elem_id="current-user")
            gr.Button(
                t("switch_language", lang),
                link=f"/lang/{other.value}",
                size="sm",
                scale=0,
                min_width=90,
                elem_id="language",
            )
            gr.Button(
                t("sign_out", lang),
                link="/logout",
                size="sm",
                scale=0,
                min_width=90,
                elem_id="sign-out",
            )
        with gr.Tabs() as tabs:
            with gr.Tab(t("tab_chat", lang), id="chat", visible=False) as chat_tab:
                chat = ChatTab(services, lang)
            with gr.Tab(t("tab_knowledge", lang), id="knowledge", visible=False) as kb_tab:
                knowledge = KnowledgeTab(services, lang)
            with gr.Tab(t("tab_audit", lang), id="audit", visible=False) as audit_tab:
                AuditTab(services, lang)
            with gr.Tab(t("tab_admin", lang), id="admin", visible=False) as admin_tab:
                admin = AdminTab(services, lang)
            with gr.Tab(t("tab_secadmin", lang), id="secadmin", visible=False) as secadmin_tab:
                secadmin = SecadminTab(services, lang)
            with gr.Tab(
                t("tab_keys", lang), id="keys", visible=False, elem_id="tab-keys"
            ) as keys_tab:
                keys = KeysTab(services, lang)

        async def on_load(request: gr.Request) -> tuple[Any, ...]:
            session = signed_in(services, request, lang)
            who = session.identity
            first = _first_tab(who)
            conversations, quota, kbs = (
                await chat.load(session) if who.can_chat else (gr.skip(), gr.skip(), gr.skip())
            )
            return (
                t("signed_in_as", lang, user=who.username),
                gr.Tab(visible=who.can_chat),
                gr.Tab(visible=who.is_kb_editor),
                gr.Tab(visible=who.is_auditor),
                gr.Tab(visible=who.is_sysadmin),
                gr.Tab(visible=who.is_secadmin),
                # Every signed-in user's own keys.
                gr.Tab(visible=True),
                gr.Tabs(selected=first),
                conversations,
                quota,
                kbs,
            )

        demo.load(
            on_load,
            None,
            [
                user,
                chat_tab,
                kb_tab,
                audit_tab,
                admin_tab,
                secadmin_tab,
                keys_tab,
                tabs,
                chat.conversations,
                chat.quota,
                chat.kb_picker,
            ],
        )
        demo.load(chat.load_thinking, None, [chat.thinking])
        demo.load(admin.load, None, admin.outputs)
        secadmin.wire(demo)
        knowledge.created.success(chat.refresh_picker, None, [chat.kb_picker])
        demo.load(knowledge.load, None, knowledge.outputs)
        demo.load(keys.load, None, keys.outputs)
        # A new key is shown once: leaving for another tab takes it off the page.
        tabs.select(keys.forget, None, keys.secret_outputs)
    demo.queue(default_concurrency_limit=CONCURRENT_EVENTS)
    blocks: gr.Blocks = demo
    return blocks
