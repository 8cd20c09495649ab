"""The keyword library screen of the secadmin tab (关键词库): the active library a page at a
time, searchable; its versions; export as CSV or XLSX; and an import in two steps.

An import is previewed first (the gateway's dry run: entries added, removed and changed,
before and after) and applied only when the administrator confirms, with the revision the
preview was computed against, so a library changed in between is refused (409) instead of
overwriting a change nobody saw. Every call goes to the gateway with the user's own token:
the gateway checks the role again and audits each read and import.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from webui.gateway_client import XLSX_TYPE, GatewayError
from webui.i18n import t
from webui.ui_secadmin_screen import SecadminScreen, page_buttons, page_table

PAGE_SIZE = 20
_ENTRY_KEYS = ("kw_col_id", "kw_col_term", "kw_col_category", "kw_col_match", "kw_col_action")
_VERSION_KEYS = ("kw_col_revision", "kw_col_version", "kw_col_entries", "kw_col_by", "col_time")
_DIFF_KEYS = ("kw_col_change", *_ENTRY_KEYS)


@dataclass(frozen=True, slots=True)
class PendingImport:
    """A previewed file waiting for confirmation, and the revision it was compared with."""

    name: str
    data: bytes
    base_revision: int


def _entry_row(entry: dict[str, Any]) -> list[str]:
    return [entry["id"], entry["term"], entry["category"], entry["match"], entry["action"]]


def _changed(before: str, after: str) -> str:
    return before if before == after else f"{before} → {after}"


class KeywordsScreen(SecadminScreen):
    def _build(self) -> None:
        lang = self.lang
        self.revision = gr.Markdown(elem_id="kw-revision")
        with gr.Row(equal_height=True):
            self.search = gr.Textbox(
                label=t("kw_search", lang),
                placeholder=t("kw_search_ph", lang),
                scale=4,
                elem_id="kw-search",
            )
            go = gr.Button(t("search", lang), elem_id="kw-search-go", scale=0, min_width=80)
            prev, nxt = page_buttons(lang, "kw")
        self.offset = gr.State(0)
        self.total = gr.State(0)
        self.page, self.table = page_table(lang, "kw", _ENTRY_KEYS)
        with gr.Accordion(t("kw_history", lang), open=False):
            self.versions = gr.Dataframe(
                headers=[t(k, lang) for k in _VERSION_KEYS],
                interactive=False,
                elem_id="kw-versions",
            )
        with gr.Row():
            export_csv = gr.Button(t("export_csv", lang), elem_id="kw-export-csv")
            export_xlsx = gr.Button(t("kw_export_xlsx", lang), elem_id="kw-export-xlsx")
        download = gr.File(label=t("download", lang), visible=False, elem_id="kw-download")
        gr.Markdown(f"### {t('kw_import', lang)}")
        gr.Markdown(t("kw_import_help", lang))
        upload = gr.File(
            label=t("kw_import_file", lang),
            file_types=[".csv", ".xlsx"],
            type="filepath",
            elem_id="kw-import-file",
        )
        preview = gr.Button(t("kw_preview", lang), variant="primary", elem_id="kw-preview")
        self.status = gr.Markdown(elem_id="kw-status")
        diff = gr.Dataframe(
            headers=[t(k, lang) for k in _DIFF_KEYS],
            interactive=False,
            wrap=True,
            visible=False,
            elem_id="kw-diff",
        )
        with gr.Row():
            confirm = gr.Button(
                t("kw_confirm", lang), variant="stop", visible=False, elem_id="kw-confirm"
            )
            cancel = gr.Button(t("kw_cancel", lang), visible=False, elem_id="kw-cancel")
        pending = gr.State(None)

        page_outputs = [self.revision, self.table, self.page, self.offset, self.total]
        go.click(self._first_page, [self.search], page_outputs)
        self.search.submit(self._first_page, [self.search], page_outputs)
        prev.click(self._previous, [self.search, self.offset], page_outputs)
        nxt.click(self._next, [self.search, self.offset, self.total], page_outputs)
        export_csv.click(self._export_csv, None, [download])
        export_xlsx.click(self._export_xlsx, None, [download])
        staged = [self.status, diff, confirm, cancel, pending]
        preview.click(self._preview, [upload], staged)
        cancel.click(self._cancel, None, staged)
        # A file that was applied is cleared, so the next one starts from an empty field.
        confirm.click(self._apply, [pending], [*staged, upload]).success(
            self.load, None, self.outputs
        )

    @property
    def outputs(self) -> list[Any]:
        return [self.revision, self.table, self.page, self.offset, self.total, self.versions]

    async def load(self, request: gr.Request) -> tuple[Any, ...]:
        """The first page and the versions, for the page load and after an import."""
        session = self._session(request)
        if not session.identity.is_secadmin:
            return tuple(gr.skip() for _ in self.outputs)
        page = await self._page("", 0, request)
        token = await self._token(request)
        try:
            versions = await self.services.gateway.keyword_versions(token)
        except GatewayError as error:
            raise self._failed(error) from error
        rows = [
            [
                v["revision"],
                v["version"],
                v["entry_count"],
                v["imported_by"] or "",
                (v["imported_at"] or "")[:19].replace("T", " "),
            ]
            for v in versions["versions"]
        ]
        return (*page, rows)

    async def _page(self, search: str, offset: int, request: gr.Request) -> tuple[Any, ...]:
        token = await self._token(request)
        params: dict[str, str | int] = {"search": search, "offset": offset, "limit": PAGE_SIZE}
        try:
            body = await self.services.gateway.keyword_entries(token, params)
        except GatewayError as error:
            raise self._failed(error) from error
        lang = self.lang
        revision = t(
            "kw_revision",
            lang,
            revision=body["revision"],
            version=body["version"],
            entries=body["entry_count"],
            by=body["imported_by"] or "—",
        )
        total = int(body["total"])
        last = min(offset + PAGE_SIZE, total)
        shown = (
            t("kw_page", lang, first=offset + 1, last=last, total=total)
            if offset < total
            else t("kw_page_none", lang, total=total)
        )
        return revision, [_entry_row(e) for e in body["entries"]], shown, offset, total

    async def _first_page(self, search: str, request: gr.Request) -> tuple[Any, ...]:
        return await self._page(search.strip(), 0, request)

    async def _previous(self, search: str, offset: int, request: gr.Request) -> tuple[Any, ...]:
        return await self._page(search.strip(), max(0, offset - PAGE_SIZE), request)

    async def _next(
        self, search: str, offset: int, total: int, request: gr.Request
    ) -> tuple[Any, ...]:
        """The next page, or this one again when it is the last."""
        following = offset + PAGE_SIZE
        return await self._page(search.strip(), following if following < total else offset, request)

    async def _export(self, fmt: str, request: gr.Request) -> Any:
        token = await self._token(request)
        try:
            data, name = await self.services.gateway.keyword_export(token, fmt)
        except GatewayError as error:
            raise self._failed(error) from error
        path = Path(tempfile.mkdtemp(prefix="webui-keywords-")) / Path(name).name
        path.write_bytes(data)
        return gr.File(value=str(path), visible=True)

    async def _export_csv(self, request: gr.Request) -> Any:
        return await self._export("csv", request)

    async def _export_xlsx(self, request: gr.Request) -> Any:
        return await self._export("xlsx", request)

    def _staged(
        self, status: str, pending: PendingImport | None, rows: list[Any]
    ) -> tuple[Any, ...]:
        shown = pending is not None
        return (
            status,
            gr.Dataframe(value=rows, visible=bool(rows)),
            gr.Button(visible=shown),
            gr.Button(visible=shown),
            pending,
        )

    async def _preview(self, path: str | None, request: gr.Request) -> tuple[Any, ...]:
        """The dry run's diff of the uploaded file against the active library."""
        if not path:
            raise gr.Error(t("kw_choose_file", self.lang))
        token = await self._token(request)
        file = Path(path)
        data = await asyncio.to_thread(file.read_bytes)
        try:
            body = await self.services.gateway.keyword_import(
                token, data, _media_type(file.name), dry_run=True
            )
        except GatewayError as error:
            raise self._failed(error) from error
        counts = body["counts"]
        pending = PendingImport(file.name, data, int(body["base_revision"]))
        if not any(counts.values()):
            return self._staged(t("kw_no_change", self.lang), None, [])
        summary = t("kw_diff", self.lang, name=file.name, revision=pending.base_revision, **counts)
        return self._staged(summary, pending, self._diff_rows(body))

    def _diff_rows(self, body: dict[str, Any]) -> list[list[str]]:
        lang = self.lang
        rows = [[t("kw_added", lang), *_entry_row(e)] for e in body["added"]]
        rows += [[t("kw_removed", lang), *_entry_row(e)] for e in body["removed"]]
        for pair in body["changed"]:
            before, after = _entry_row(pair["before"]), _entry_row(pair["after"])
            rows.append([t("kw_changed", lang), *map(_changed, before, after)])
        return rows

    async def _cancel(self) -> tuple[Any, ...]:
        return self._staged("", None, [])

    async def _apply(self, pending: PendingImport | None, request: gr.Request) -> tuple[Any, ...]:
        """Apply the previewed file, refused (409) if the library changed since the preview;
        the upload field is cleared once it is applied and kept when it was refused."""
        if pending is None:
            raise gr.Error(t("kw_preview_first", self.lang))
        token = await self._token(request)
        try:
            body = await self.services.gateway.keyword_import(
                token, pending.data, _media_type(pending.name), base_revision=pending.base_revision
            )
        except GatewayError as error:
            if error.status == 409:
                return (*self._staged(t("kw_conflict", self.lang), None, []), gr.skip())
            raise self._failed(error) from error
        done = t("kw_applied", self.lang, revision=body["revision"], **body["counts"])
        return (*self._staged(done, None, []), None)


def _media_type(name: str) -> str:
    return XLSX_TYPE if name.lower().endswith(".xlsx") else "text/csv"
