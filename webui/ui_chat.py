"""The chat tab (对话): a sidebar of the user's conversations and the streaming chat window."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr

from webui.answer_view import to_chatbot
from webui.chat import Answerer
from webui.gateway_client import GatewayError
from webui.history import StoredMessage
from webui.i18n import AI_LABEL, Lang, t
from webui.services import Services
from webui.sessions import Session
from webui.tab import Tab
from webui.ui_flag import FlagPanel, flag_option

# The files the gateway writes of a conversation (each labelled, GB 45438): (shown, format).
EXPORT_FORMATS = [
    ("Markdown", "markdown"),
    ("Word (DOCX)", "docx"),
    ("PDF", "pdf"),
    ("JSON", "json"),
]


class ChatTab(Tab):
    """Builds the tab's components and wires its events; ``load`` fills it for a user."""

    def __init__(self, services: Services, lang: Lang) -> None:
        self.answerer = Answerer(services, lang)
        super().__init__(services, lang)

    def _build(self) -> None:
        lang = self.lang
        self.conversation_id = gr.State("")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=220, elem_id="sidebar"):
                new_chat = gr.Button(t("new_chat", lang), variant="primary", elem_id="new-chat")
                self.quota = gr.Markdown(t("quota_unknown", lang), elem_id="quota")
                title = gr.Textbox(
                    show_label=False, placeholder=t("rename_placeholder", lang), max_lines=1
                )
                with gr.Row():
                    rename = gr.Button(t("rename", lang), size="sm", min_width=60, elem_id="rename")
                    delete = gr.Button(t("delete", lang), size="sm", min_width=60, variant="stop")
                    export = gr.Button(
                        t("export_chat", lang), size="sm", min_width=60, elem_id="export-chat"
                    )
                export_format = gr.Dropdown(
                    choices=EXPORT_FORMATS,
                    value="markdown",
                    label=t("export_format", lang),
                    elem_id="export-format",
                )
                export_file = gr.File(label=t("download", lang), visible=False)
                self.conversations = gr.Radio(
                    choices=[], label=t("history", lang), elem_id="conversations"
                )
            with gr.Column(scale=4):
                self.chatbot = gr.Chatbot(
                    label=t("chatbot_label", lang),
                    show_label=False,
                    elem_id="chatbot",
                    height="calc(100vh - 250px)",
                    min_height=320,
                    buttons=["copy", "copy_all"],
                    watermark=AI_LABEL,
                    placeholder=t("chat_empty", lang),
                    # A flag by each answer opens the report form (举报/反馈).
                    feedback_options=flag_option(lang),
                )
                with gr.Row(equal_height=True):
                    # Answers are grounded on the knowledge bases picked here (none: the
                    # model answers on its own); the choices are those the user may read.
                    self.kb_picker = gr.Dropdown(
                        choices=[],
                        value=[],
                        multiselect=True,
                        label=t("kb_picker", lang),
                        scale=3,
                        min_width=200,
                        elem_id="kb-picker",
                    )
                    box = gr.Textbox(
                        show_label=False,
                        placeholder=t("input_placeholder", lang),
                        # One line that grows: Gradio then sends on Enter and breaks the
                        # line on Shift+Enter (with lines > 1 it does the reverse).
                        lines=1,
                        max_lines=8,
                        scale=7,
                        autofocus=True,
                        elem_id="question",
                    )
                    # 深度思考: enabled once the page knows the model can switch it
                    # (``load_thinking``); otherwise it shows what the model always does.
                    self.thinking = gr.Checkbox(
                        value=True,
                        label=t("deep_thinking", lang),
                        interactive=False,
                        scale=0,
                        min_width=120,
                        elem_id="deep-thinking",
                    )
                    send = gr.Button(
                        t("send", lang), variant="primary", scale=0, min_width=80, elem_id="send"
                    )
                    stop = gr.Button(
                        t("stop", lang), variant="stop", scale=0, min_width=80, elem_id="stop"
                    )
                    regenerate = gr.Button(
                        t("regenerate", lang), scale=0, min_width=96, elem_id="regenerate"
                    )
                FlagPanel(self.services, lang, self.chatbot, self.conversation_id)

        streamed = [self.chatbot, box, self.conversation_id, self.conversations, self.quota]
        asked = [
            trigger(self._ask, [box, self.conversation_id, self.kb_picker, self.thinking], streamed)
            for trigger in (box.submit, send.click)
        ]
        again = regenerate.click(
            self._regenerate, [self.conversation_id, self.kb_picker, self.thinking], streamed
        )
        stop.click(None, cancels=[*asked, again])
        new_chat.click(
            lambda: ([], "", gr.Radio(value=None)),
            None,
            [self.chatbot, self.conversation_id, self.conversations],
        )
        self.conversations.input(
            self._open, [self.conversations], [self.chatbot, self.conversation_id, title]
        )
        rename.click(self._rename, [self.conversation_id, title], [self.conversations])
        delete.click(
            self._delete,
            [self.conversation_id],
            [self.chatbot, self.conversation_id, self.conversations],
        )
        export.click(self._export, [self.conversation_id, export_format], [export_file])

    async def _choices(self, session: Session, selected: str) -> gr.Radio:
        listed = await self.services.conversations.listing(await self.services.token(session))
        return gr.Radio(choices=[(c.title, c.id) for c in listed], value=selected or None)

    async def _user(self, request: gr.Request) -> tuple[Session, str]:
        """The signed-in user and their access token, for the conversation routes."""
        return await self._access(request, lambda _: True, "err_session")

    async def _titled(self, token: str, conversation_id: str) -> tuple[list[StoredMessage], str]:
        """A conversation's messages and its title (empty when it is not the user's)."""
        conversations = self.services.conversations
        messages = await conversations.messages(token, conversation_id)
        titles = {c.id: c.title for c in await conversations.listing(token)}
        return messages, titles.get(conversation_id, "")

    async def _quota(self, session: Session) -> str:
        try:
            me = await self.services.gateway.me(await self.services.token(session))
        except GatewayError:
            return t("quota_unknown", self.lang)
        return t(
            "quota",
            self.lang,
            remaining=me["remaining_daily_tokens"],
            total=me["daily_token_quota"],
        )

    async def knowledge_bases(self, session: Session) -> gr.Dropdown:
        """The picker's choices: every knowledge base the user may read."""
        try:
            listed = await self.services.gateway.knowledge_bases(await self.services.token(session))
        except GatewayError:
            listed = []
        return gr.Dropdown(choices=[(kb["name"], kb["id"]) for kb in listed])

    async def load_thinking(self, request: gr.Request) -> gr.Checkbox:
        """The 深度思考 switch for the served model: enabled where it can switch thinking,
        else fixed at what the model does (ticked for one that always reasons)."""
        lang = self.lang
        try:
            model = await self.answerer.model(self._session(request))
        except GatewayError:
            return gr.Checkbox(interactive=False)
        if model.switchable:
            return gr.Checkbox(interactive=True, info=t("deep_thinking_switch", lang))
        never = model.thinking == "none"
        note = t("deep_thinking_none" if never else "deep_thinking_always", lang)
        return gr.Checkbox(value=not never, interactive=False, info=note)

    async def refresh_picker(self, request: gr.Request) -> gr.Dropdown:
        return await self.knowledge_bases(self._session(request))

    async def load(self, session: Session) -> tuple[gr.Radio, str, gr.Dropdown]:
        return (
            await self._choices(session, ""),
            await self._quota(session),
            await self.knowledge_bases(session),
        )

    async def _stream(
        self, session: Session, frames: AsyncIterator[Any]
    ) -> AsyncIterator[tuple[Any, ...]]:
        listed = False
        async for frame in frames:
            if not frame.done:
                # The sidebar shows a new conversation as soon as it exists.
                choices = (
                    gr.skip() if listed else await self._choices(session, frame.conversation_id)
                )
                listed = True
                yield frame.chatbot, "", frame.conversation_id, choices, gr.skip()
                continue
            yield (
                frame.chatbot,
                "",
                frame.conversation_id,
                await self._choices(session, frame.conversation_id),
                await self._quota(session),
            )

    async def _ask(
        self,
        question: str,
        conversation_id: str,
        kb_ids: list[str] | None,
        thinking: bool,
        request: gr.Request,
    ) -> AsyncIterator[tuple[Any, ...]]:
        if not question.strip():
            return
        session = self._session(request)
        frames = self.answerer.ask(
            session, conversation_id, question, kb_ids or [], thinking=thinking
        )
        async for update in self._stream(session, frames):
            yield update

    async def _regenerate(
        self, conversation_id: str, kb_ids: list[str] | None, thinking: bool, request: gr.Request
    ) -> AsyncIterator[tuple[Any, ...]]:
        if not conversation_id:
            return
        session, token = await self._user(request)
        await self.services.conversations.drop_last_answer(token, conversation_id)
        frames = self.answerer.answer(session, conversation_id, kb_ids or [], thinking=thinking)
        async for update in self._stream(session, frames):
            yield update

    async def _open(
        self, conversation_id: str | None, request: gr.Request
    ) -> tuple[list[dict[str, Any]], str, str]:
        if not conversation_id:
            return [], "", ""
        _, token = await self._user(request)
        messages, title = await self._titled(token, conversation_id)
        return to_chatbot(messages, self.lang), conversation_id, title

    async def _rename(self, conversation_id: str, title: str, request: gr.Request) -> Any:
        session, token = await self._user(request)
        await self.services.conversations.rename(token, conversation_id, title)
        return await self._choices(session, conversation_id)

    async def _delete(self, conversation_id: str, request: gr.Request) -> tuple[Any, ...]:
        session, token = await self._user(request)
        await self.services.conversations.delete(token, conversation_id)
        return [], "", await self._choices(session, "")

    async def _export(self, conversation_id: str, fmt: str, request: gr.Request) -> Any:
        """The gateway's labelled file of the conversation, offered for download."""
        if not conversation_id:
            return gr.File(visible=False)
        _, token = await self._user(request)
        exported = await self.services.conversations.export(
            token, conversation_id, fmt or "markdown", self.lang.value
        )
        if exported is None:
            return gr.File(visible=False)
        content, name = exported
        path = Path(tempfile.mkdtemp(prefix="webui-export-")) / Path(name).name
        path.write_bytes(content)
        return gr.File(value=str(path), visible=True)
