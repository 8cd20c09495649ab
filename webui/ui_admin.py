"""The admin tab (管理), for sysadmins: backend health, limits, usage and error rate.

Usage is aggregates only (三员分立: a sysadmin never sees what anyone asked).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from webui.gateway_client import GatewayError
from webui.i18n import t
from webui.services import SessionExpired
from webui.tab import Tab

_COLUMN_KEYS = (
    "col_backend", "col_healthy", "col_inflight", "col_queued", "col_models", "col_last_error"
)  # fmt: skip
_USER_KEYS = (
    "col_user", "col_department", "col_tokens_today", "col_requests_today", "col_remaining"
)  # fmt: skip
_DEPARTMENT_KEYS = ("col_department", "col_users", "col_tokens_today", "col_requests_today")


class AdminTab(Tab):
    def _build(self) -> None:
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
        gr.Markdown(f"### {t('usage', lang)}")
        self.error_rate = gr.Markdown(elem_id="admin-error-rate")
        self.users = gr.Dataframe(
            headers=[t(key, lang) for key in _USER_KEYS], interactive=False, elem_id="admin-users"
        )
        self.departments = gr.Dataframe(
            headers=[t(key, lang) for key in _DEPARTMENT_KEYS],
            interactive=False,
            elem_id="admin-departments",
        )
        refresh.click(self.load, None, self.outputs)

    @property
    def outputs(self) -> list[Any]:
        return [self.table, self.limits, self.error_rate, self.users, self.departments]

    async def load(self, request: gr.Request) -> tuple[Any, str, str, Any, Any]:
        lang = self.lang
        try:
            session = self.services.require(request)
            if not session.identity.is_sysadmin:
                return gr.skip(), "", "", gr.skip(), gr.skip()
            token = await self.services.token(session)
            backends = await self.services.gateway.backends(token)
            me = await self.services.gateway.me(token)
            usage = await self.services.gateway.usage(token)
        except SessionExpired as exc:
            raise gr.Error(t("err_session", lang)) from exc
        except GatewayError as error:
            raise gr.Error(error.message) from error
        rows = [
            [
                b["url"],
                t("up", lang) if b["healthy"] else t("down", lang),
                b["in_flight"],
                "" if b.get("queued") is None else b["queued"],
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
        recent = usage["recent"]
        error_rate = t(
            "error_rate",
            lang,
            minutes=usage["window_minutes"],
            requests=recent["requests"],
            failed=recent["failed"],
            rate=recent["error_rate"],
        )
        users = [
            [
                u["username"],
                ", ".join(u["departments"]),
                u["tokens_today"],
                u["requests_today"],
                u["remaining_today"],
            ]
            for u in usage["users"]
        ]
        departments = [
            [d["department"], d["users"], d["tokens_today"], d["requests_today"]]
            for d in usage["departments"]
        ]
        return rows, limits, error_rate, users, departments
