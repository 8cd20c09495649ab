"""The complaints screen of the secadmin tab (投诉处理): the queue of reported answers, by
state a page at a time, and closing one as handled or dismissed with a note.

Every call goes to the gateway with the user's own token: the gateway checks the role
again, audits each read of the queue and commits each closing to the audit log before the
complaint changes (a note is required; a complaint already closed is refused, 409).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from webui.gateway_client import GatewayError
from webui.i18n import t
from webui.ui_flag import category_label, complaint_text, state_label
from webui.ui_secadmin_screen import SecadminScreen, is_secadmin, page_buttons, page_table

PAGE_SIZE = 20
STATES = ("open", "handled", "dismissed")
_KEYS = (
    "cp_col_id",
    "col_time",
    "cp_col_state",
    "cp_col_category",
    "cp_col_reason",
    "cp_col_reporter",
    "cp_col_question",
    "cp_col_answer",
    "cp_col_handler",
    "cp_col_note",
)


class ComplaintsScreen(SecadminScreen):
    def _build(self) -> None:
        lang = self.lang
        with gr.Row(equal_height=True):
            self.state = gr.Radio(
                choices=[(state_label(s, lang), s) for s in STATES]
                + [(t("cp_state_all", lang), "")],
                value="open",
                label=t("cp_filter", lang),
                scale=4,
                elem_id="cp-state",
            )
            refresh = gr.Button(
                t("flag_refresh", lang), scale=0, min_width=80, elem_id="cp-refresh"
            )
            prev, nxt = page_buttons(lang, "cp")
        self.offset = gr.State(0)
        self.page, self.table = page_table(lang, "cp", _KEYS)
        with gr.Row(equal_height=True):
            picked = gr.Number(
                label=t("cp_pick", lang), precision=0, minimum=1, scale=1, elem_id="cp-id"
            )
            close_as = gr.Radio(
                choices=[(state_label(s, lang), s) for s in STATES[1:]],
                value="handled",
                label=t("cp_close_as", lang),
                scale=2,
                elem_id="cp-close-as",
            )
        note = complaint_text(t("cp_note", lang), t("cp_note_ph", lang), "cp-note")
        submit = gr.Button(t("cp_submit", lang), variant="primary", elem_id="cp-submit")
        status = gr.Markdown(elem_id="cp-status")

        page = [self.page, self.table, self.offset]
        self.state.change(self._first, [self.state], page)
        refresh.click(self._here, [self.state, self.offset], page)
        prev.click(self._previous, [self.state, self.offset], page)
        nxt.click(self._next, [self.state, self.offset], page)
        self.table.select(self._picked, [self.table], [picked])
        submit.click(self._close, [picked, close_as, note], [status, note]).success(
            self._here, [self.state, self.offset], page
        )

    @property
    def outputs(self) -> list[Any]:
        return [self.page, self.table, self.offset]

    async def _token(self, request: gr.Request) -> str:
        _, token = await self._access(request, is_secadmin, "err_not_secadmin_complaints")
        return token

    async def load(self, request: gr.Request) -> tuple[Any, ...]:
        """The first page of the open complaints, when the page opens."""
        if not self._session(request).identity.is_secadmin:
            return gr.skip(), gr.skip(), gr.skip()
        return await self._page("open", 0, request)

    def _row(self, c: dict[str, Any]) -> list[Any]:
        lang = self.lang
        return [
            c["id"],
            str(c["created_at"])[:19].replace("T", " "),
            state_label(c["state"], lang),
            category_label(c["category"], lang),
            c["reason"],
            c["reporter"],
            c["question"],
            c["answer"],
            c["handler"] or "",
            c["note"] or "",
        ]

    async def _page(self, state: str, offset: int, request: gr.Request) -> tuple[Any, ...]:
        token = await self._token(request)
        params: dict[str, str | int] = {"offset": offset, "limit": PAGE_SIZE}
        if state:
            params["state"] = state
        try:
            body = await self.services.gateway.complaint_queue(token, params)
        except GatewayError as error:
            raise self._failed(error) from error
        total = int(body["total"])
        shown = t(
            "cp_page",
            self.lang,
            first=min(offset + 1, total),
            last=min(offset + PAGE_SIZE, total),
            total=total,
        )
        return shown, [self._row(c) for c in body["complaints"]], offset

    async def _first(self, state: str, request: gr.Request) -> tuple[Any, ...]:
        return await self._page(state, 0, request)

    async def _here(self, state: str, offset: int, request: gr.Request) -> tuple[Any, ...]:
        return await self._page(state, offset, request)

    async def _previous(self, state: str, offset: int, request: gr.Request) -> tuple[Any, ...]:
        return await self._page(state, max(0, offset - PAGE_SIZE), request)

    async def _next(self, state: str, offset: int, request: gr.Request) -> tuple[Any, ...]:
        following = await self._page(state, offset + PAGE_SIZE, request)
        if following[1]:
            return following
        return await self._page(state, offset, request)

    @staticmethod
    def _picked(table: Any, event: gr.SelectData) -> Any:
        """Clicking a row puts its complaint's id in the form."""
        row = event.index[0] if isinstance(event.index, list | tuple) else event.index
        rows = table.values.tolist() if hasattr(table, "values") else table
        return rows[row][0] if 0 <= row < len(rows) else gr.skip()

    async def _close(
        self, complaint_id: float | None, state: str, note: str, request: gr.Request
    ) -> tuple[str, str]:
        token = await self._token(request)
        if not complaint_id:
            raise gr.Error(t("cp_need_id", self.lang))
        if not note.strip():
            raise gr.Error(t("cp_need_note", self.lang))
        try:
            closed = await self.services.gateway.close_complaint(
                token, int(complaint_id), state, note.strip()
            )
        except GatewayError as error:
            raise self._failed(error) from error
        done = t(
            "cp_closed", self.lang, id=closed["id"], state=state_label(closed["state"], self.lang)
        )
        return done, ""
