"""The 等保 compliance export button, shared by the auditor's audit tab and the secadmin's
tab (``ComplianceScreen``): the gateway builds and audits the ZIP with the user's own token
(``GET /api/compliance/export``); the UI only hands the file over."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from webui.gateway_client import GatewayClient, GatewayError
from webui.i18n import Lang, t
from webui.ui_secadmin_screen import SecadminScreen


async def compliance_file(gateway: GatewayClient, token: str, lang: Lang) -> tuple[Any, str]:
    """The export as a file to download, and the line that says what it holds."""
    try:
        body, name = await gateway.compliance_export(token, lang.value)
    except GatewayError as error:
        raise gr.Error(error.message) from error
    path = Path(tempfile.mkdtemp(prefix="webui-compliance-")) / (name or "compliance.zip")
    path.write_bytes(body)
    return gr.File(value=str(path), visible=True), t("compliance_exported", lang, name=path.name)


class ComplianceScreen(SecadminScreen):
    """The secadmin's sub-tab with the export button."""

    def _build(self) -> None:
        export = gr.Button(
            t("compliance_export", self.lang), variant="primary", elem_id="compliance-export"
        )
        status = gr.Markdown(elem_id="compliance-export-status")
        download = gr.File(label=t("download", self.lang), visible=False)
        export.click(self._export, None, [download, status])

    async def _export(self, request: gr.Request) -> tuple[Any, str]:
        token = await self._token(request)
        return await compliance_file(self.services.gateway, token, self.lang)
