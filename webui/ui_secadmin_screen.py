"""What every screen of the security administrator's tab shares: the role check of its
handlers, the page-load hook the tab wires (``webui.ui_secadmin``) and the widgets of a
table shown a page at a time."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import gradio as gr

from webui.gateway_client import GatewayError
from webui.i18n import Lang, known, t
from webui.sessions import Identity
from webui.tab import Tab


def is_secadmin(identity: Identity) -> bool:
    return identity.is_secadmin


def page_buttons(lang: Lang, prefix: str) -> tuple[gr.Button, gr.Button]:
    """The previous and next page buttons of a paged table (``<prefix>-prev``, ``-next``)."""
    prev = gr.Button(t("kw_prev", lang), elem_id=f"{prefix}-prev", scale=0, min_width=80)
    nxt = gr.Button(t("kw_next", lang), elem_id=f"{prefix}-next", scale=0, min_width=80)
    return prev, nxt


def page_table(lang: Lang, prefix: str, keys: Iterable[str]) -> tuple[gr.Markdown, gr.Dataframe]:
    """A paged table's position line (``<prefix>-page``) and the table (``<prefix>-table``),
    its columns headed by the i18n ``keys``, read-only."""
    page = gr.Markdown(elem_id=f"{prefix}-page")
    table = gr.Dataframe(
        headers=[t(k, lang) for k in keys],
        interactive=False,
        wrap=True,
        elem_id=f"{prefix}-table",
    )
    return page, table


class SecadminScreen(Tab):
    """A sub-tab of the secadmin tab. ``load`` fills ``outputs`` when the page opens; a
    screen with nothing to show before the user acts keeps the empty defaults."""

    @property
    def outputs(self) -> list[Any]:
        return []

    async def load(self, request: gr.Request) -> Any:
        return None

    async def _token(self, request: gr.Request) -> str:
        """A fresh access token of the signed-in secadmin; anyone else is refused."""
        _, token = await self._access(request, is_secadmin, "err_not_secadmin")
        return token

    def _failed(self, error: GatewayError) -> gr.Error:
        """The gateway's refusal in the user's language where it has a name for it."""
        key = f"sec_err_{error.code}"
        if error.code and known(key):
            return gr.Error(t(key, self.lang, message=error.message))
        return gr.Error(t("err_generic", self.lang, message=error.message))
