"""The security administrator's tab (安全管理), for the ``secadmin`` only (三员分立: the
content rules are neither the sysadmin's nor the auditor's to change).

The tab is a row of sub-tabs, one per screen; a screen is added with one line in
``SCREENS``. Each screen is a ``SecadminScreen``: it builds itself and, when it has
something to show at once, says what to load with the page (``load`` and ``outputs``).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from webui.i18n import Lang, t
from webui.services import Services
from webui.ui_complaints import ComplaintsScreen
from webui.ui_compliance import ComplianceScreen
from webui.ui_keywords import KeywordsScreen
from webui.ui_secadmin_screen import SecadminScreen

# (label key, tab id, screen): the sub-tabs in the order they appear, the first one open.
SCREENS: tuple[tuple[str, str, type[SecadminScreen]], ...] = (
    ("tab_keywords", "keywords", KeywordsScreen),
    ("tab_complaints", "complaints", ComplaintsScreen),
    ("tab_compliance", "compliance", ComplianceScreen),
)


class SecadminTab:
    """The sub-tabs of ``SCREENS``; ``wire`` loads each screen with the page."""

    def __init__(self, services: Services, lang: Lang) -> None:
        self.screens: list[SecadminScreen] = []
        with gr.Tabs(elem_id="secadmin-tabs"):
            for label, tab_id, screen in SCREENS:
                with gr.Tab(t(label, lang), id=tab_id, elem_id=f"secadmin-{tab_id}"):
                    self.screens.append(screen(services, lang))

    def wire(self, demo: gr.Blocks) -> None:
        for screen in self.screens:
            outputs: list[Any] = screen.outputs
            if outputs:
                demo.load(screen.load, None, outputs)
