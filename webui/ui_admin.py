"""The admin tab (管理), for sysadmins: backend health and the limits the gateway enforces."""

from __future__ import annotations

from typing import Any

import gradio as gr

from webui.gateway import GatewayError
from webui.i18n import Lang, t
from webui.services import Services, SessionExpired

_COLUMN_KEYS = ("col_backend", "col_healthy", "col_inflight", "col_models", "col_last_error")


class AdminTab:
    def __init__(self, services: Services, lang: Lang) -> None:
        self.services = services
        self.lang = lang
        lang = self.lang
        with gr.Row():
            gr.Markdown(f"### {t('backends', lang)}")
            refresh = gr.Button(t("refresh", lang), size="sm", elem_id="admin-refresh")
        self.table = gr.Dataframe(
            headers=[t(key, lang) for key in _COLUMN_KEYS],
            interactive=False,
            wrap=True,
            elem_id="admin-backends",
        )
        self.limits = gr.Markdown(elem_id="admin-limits")
        refresh.click(self.load, None, [self.table, self.limits])

    async def load(self, request: gr.Request) -> tuple[Any, str]:
        lang = self.lang
        try:
            session = self.services.require(request)
            if not session.identity.is_sysadmin:
                return gr.skip(), ""
            token = await self.services.token(session)
            backends = await self.services.gateway.backends(token)
            me = await self.services.gateway.me(token)
        except SessionExpired as exc:
            raise gr.Error(t("err_session", lang)) from exc
        except GatewayError as error:
            raise gr.Error(error.message) from error
        rows = [
            [
                b["url"],
                t("up", lang) if b["healthy"] else t("down", lang),
                b["in_flight"],
                ", ".join(b.get("models") or []),
                b.get("last_error") or "",
            ]
            for b in backends["backends"]
        ]
        limits = t(
            "limits",
            lang,
            cap=backends["per_backend_inflight_cap"],
            quota=me["daily_token_quota"],
            concurrency=me["concurrency_limit"],
        )
        return rows, limits
