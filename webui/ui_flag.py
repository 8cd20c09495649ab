"""Reporting an answer from the chat (举报/反馈), and the user's own reports.

The chat window shows a flag by each answer (its feedback option); choosing it opens a
small form with the category and a reason. The report goes to the gateway with the user's
own token, naming the conversation and the answer's position in it, so a user can report
only their own answers (the gateway looks the message up under the token's subject).
Below the form, "my reports" lists what the user reported and how each was handled.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from webui.gateway_client import GatewayError
from webui.i18n import Lang, known, t
from webui.services import Services
from webui.tab import Tab

CATEGORIES = ("illegal", "false_information", "personal_information", "other")
_MINE_KEYS = ("cp_col_id", "col_time", "cp_col_category", "cp_col_state", "cp_col_note")
EXCERPT = 120


def flag_option(lang: Lang) -> tuple[str, ...]:
    """The chat window's feedback options: the one flag that opens the report form."""
    return (t("flag_option", lang),)


def _role(bubble: Any) -> str:
    return str(bubble.get("role") if isinstance(bubble, dict) else getattr(bubble, "role", ""))


def questions_up_to(history: list[Any], index: int) -> int:
    """How many questions the chat window shows up to bubble ``index``: the flagged
    bubble (the answer, its reasoning or a citation) belongs to the answer to that one."""
    return sum(1 for bubble in history[: index + 1] if _role(bubble) == "user")


def answer_after(messages: list[dict[str, Any]], question: int) -> dict[str, Any] | None:
    """The stored answer that follows the ``question``-th question, if there is one."""
    seen = 0
    for message in messages:
        if message["role"] == "user":
            seen += 1
        elif seen == question and message["role"] == "assistant":
            return message
    return None


def state_label(state: str, lang: Lang) -> str:
    return t(f"cp_state_{state}", lang)


def category_label(category: str, lang: Lang) -> str:
    return t(f"flag_cat_{category}", lang)


def complaint_text(label: str, placeholder: str, elem_id: str) -> gr.Textbox:
    """A box for a complaint's reason or its closing note: a few lines, at most the 2,000
    characters the gateway takes."""
    return gr.Textbox(
        label=label,
        placeholder=placeholder,
        lines=2,
        max_lines=6,
        max_length=2000,
        elem_id=elem_id,
    )


def refusal(error: GatewayError, lang: Lang) -> gr.Error:
    """The gateway's refusal of a report, in the user's language where it has a name."""
    key = f"sec_err_{error.code}"
    message = t(key, lang) if error.code and known(key) else error.message
    return gr.Error(t("flag_failed", lang, message=message))


class FlagPanel(Tab):
    """The report form and "my reports", wired to the chat window's flag."""

    def __init__(
        self, services: Services, lang: Lang, chatbot: gr.Chatbot, conversation_id: gr.State
    ) -> None:
        self.chatbot, self.conversation_id = chatbot, conversation_id
        super().__init__(services, lang)

    def _build(self) -> None:
        lang = self.lang
        position = gr.State(0)
        with gr.Group(visible=False, elem_id="flag-panel") as panel:
            gr.Markdown(f"**{t('flag_title', lang)}**")
            target = gr.Markdown(elem_id="flag-target")
            category = gr.Radio(
                choices=[(category_label(c, lang), c) for c in CATEGORIES],
                value="other",
                label=t("flag_category", lang),
                elem_id="flag-category",
            )
            reason = complaint_text(
                t("flag_reason", lang), t("flag_reason_ph", lang), "flag-reason"
            )
            with gr.Row():
                submit = gr.Button(t("flag_submit", lang), variant="primary", elem_id="flag-submit")
                cancel = gr.Button(t("flag_cancel", lang), elem_id="flag-cancel")
        with gr.Accordion(t("flag_mine", lang), open=False, elem_id="flag-mine-box"):
            refresh = gr.Button(t("flag_refresh", lang), size="sm", elem_id="flag-mine-refresh")
            mine = gr.Dataframe(
                headers=[t(k, lang) for k in _MINE_KEYS],
                interactive=False,
                wrap=True,
                elem_id="flag-mine",
            )
        self.chatbot.like(
            self._pick, [self.conversation_id, self.chatbot], [panel, target, position, reason]
        )
        submit.click(self._file, [self.conversation_id, position, category, reason], [panel, mine])
        cancel.click(lambda: gr.Group(visible=False), None, [panel])
        refresh.click(self._mine, None, [mine])

    async def _pick(
        self, conversation_id: str, history: list[Any], data: gr.LikeData, request: gr.Request
    ) -> tuple[Any, ...]:
        """Open the form on the flagged answer, found in the stored conversation."""
        _, token = await self._access(request, lambda _: True, "err_session")
        index = data.index if isinstance(data.index, int) else data.index[0]
        found = None
        if conversation_id:
            try:
                stored = await self.services.gateway.conversation(token, conversation_id)
            except GatewayError as error:
                raise refusal(error, self.lang) from error
            found = answer_after(stored["messages"], questions_up_to(history or [], index))
        if found is None:
            raise gr.Error(t("flag_unsaved", self.lang))
        excerpt = " ".join(str(found["content"]).split())
        if len(excerpt) > EXCERPT:
            excerpt = excerpt[:EXCERPT] + "…"
        shown = t("flag_target", self.lang, position=found["position"], excerpt=excerpt)
        return gr.Group(visible=True), shown, int(found["position"]), ""

    async def _file(
        self,
        conversation_id: str,
        position: int,
        category: str,
        reason: str,
        request: gr.Request,
    ) -> tuple[Any, ...]:
        _, token = await self._access(request, lambda _: True, "err_session")
        if not conversation_id or position < 1:
            raise gr.Error(t("flag_unsaved", self.lang))
        complaint = {
            "conversation_id": conversation_id,
            "position": position,
            "category": category or "other",
            "reason": reason.strip(),
        }
        try:
            filed = await self.services.gateway.file_complaint(token, complaint)
        except GatewayError as error:
            raise refusal(error, self.lang) from error
        gr.Info(t("flag_filed", self.lang, id=filed["id"]))
        return gr.Group(visible=False), await self._rows(token)

    async def _rows(self, token: str) -> list[list[Any]]:
        try:
            listed = await self.services.gateway.own_complaints(token)
        except GatewayError as error:
            raise refusal(error, self.lang) from error
        return [
            [
                c["id"],
                str(c["created_at"])[:19].replace("T", " "),
                category_label(c["category"], self.lang),
                state_label(c["state"], self.lang),
                c["note"] or "",
            ]
            for c in listed
        ]

    async def _mine(self, request: gr.Request) -> list[list[Any]]:
        _, token = await self._access(request, lambda _: True, "err_session")
        return await self._rows(token)
