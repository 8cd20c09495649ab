"""The knowledge tab (知识库), for kb-editors: create a department's knowledge base, upload
documents into it and follow their indexing, delete documents, and set the data grades (of
the knowledge base, of new uploads, of one document) from the gateway's scale.

The gateway decides who may manage what (a kb-editor manages the knowledge bases of their
own department groups); this tab only offers those, and shows the gateway's per-file
outcome with each failure reason translated from its error code.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr

from webui.gateway_client import GatewayError
from webui.i18n import Lang, known, t
from webui.sessions import Identity, Session
from webui.tab import Tab

# While a document is still queued or processing the table refreshes itself this often.
POLL_S = 3.0
PENDING = frozenset({"queued", "processing"})
_COLUMN_KEYS = (
    "col_doc_name",
    "col_doc_status",
    "col_doc_chunks",
    "col_doc_grade",
    "col_doc_error",
    "col_doc_uploaded",
)


def problem(document: dict[str, Any], lang: Lang) -> str:
    """Why a document failed, as a sentence the editor can act on."""
    if document.get("status") != "failed" and not document.get("error"):
        return ""
    key = f"kb_err_{document.get('error_code')}"
    if known(key):
        return t(key, lang)
    return t("kb_err_other", lang, message=document.get("error") or "?")


def status_label(status: str, lang: Lang) -> str:
    key = f"status_{status}"
    return t(key, lang) if known(key) else status


def document_row(document: dict[str, Any], lang: Lang) -> list[Any]:
    return [
        document.get("name") or "",
        status_label(str(document.get("status") or ""), lang),
        document.get("chunks", ""),
        grade_label(document, lang),
        problem(document, lang),
        str(document.get("created_at") or "")[:16].replace("T", " "),
    ]


def grade_label(document: dict[str, Any], lang: Lang) -> str:
    """The grade that applies, marked when it is the knowledge base's rather than its own."""
    grade = str(document.get("grade") or "")
    if grade and document.get("own_grade") is None:
        return t("kb_grade_inherited", lang, grade=grade)
    return grade


def manageable(kb: dict[str, Any], who: Identity) -> bool:
    """The gateway's rule: an editor manages their own groups' and organisation-wide ones."""
    return kb.get("group") is None or kb.get("group") in who.groups


def progress_html(done: int, total: int, name: str, lang: Lang) -> str:
    """A progress bar and the file being indexed, escaped (file names come from users)."""
    text = t("kb_uploading", lang, done=done, total=total, name=name)
    return f'<progress value="{done}" max="{total}"></progress> {html.escape(text)}'


class KnowledgeTab(Tab):
    def _build(self) -> None:
        lang = self.lang
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=240):
                gr.Markdown(f"### {t('kb_new', lang)}")
                name = gr.Textbox(label=t("kb_name", lang), max_lines=1, elem_id="kb-name")
                self.group = gr.Dropdown(choices=[], label=t("kb_group", lang), elem_id="kb-group")
                description = gr.Textbox(label=t("kb_description", lang), max_lines=2)
                new_grade = gr.Dropdown(
                    choices=[], label=t("kb_grade", lang), elem_id="kb-new-grade"
                )
                create = gr.Button(t("kb_create", lang), elem_id="kb-create")
                gr.Markdown(f"### {t('kb_grades', lang)}")
                kb_grade = gr.Dropdown(choices=[], label=t("kb_grade", lang), elem_id="kb-grade")
                set_kb_grade = gr.Button(t("kb_set_grade", lang), elem_id="kb-set-grade")
            with gr.Column(scale=3):
                with gr.Row(equal_height=True):
                    self.kb = gr.Dropdown(
                        choices=[], label=t("kb_current", lang), scale=4, elem_id="kb-current"
                    )
                    refresh = gr.Button(
                        t("refresh", lang), scale=0, min_width=80, elem_id="kb-refresh"
                    )
                with gr.Row(equal_height=True):
                    files = gr.File(
                        file_count="multiple",
                        label=t("kb_files", lang),
                        height=110,
                        scale=3,
                        elem_id="kb-files",
                    )
                    with gr.Column(scale=1, min_width=180):
                        upload_grade = gr.Dropdown(
                            choices=[], label=t("kb_upload_grade", lang), elem_id="kb-upload-grade"
                        )
                        upload = gr.Button(
                            t("kb_upload", lang), variant="primary", elem_id="kb-upload"
                        )
                        gr.Markdown(t("kb_formats", lang), elem_id="kb-formats")
                self.status = gr.HTML(elem_id="kb-status")
                self.table = gr.Dataframe(
                    headers=[t(key, lang) for key in _COLUMN_KEYS],
                    interactive=False,
                    wrap=True,
                    max_height=260,
                    label=t("kb_documents", lang),
                    elem_id="kb-documents",
                )
                with gr.Row(equal_height=True):
                    self.document = gr.Dropdown(
                        choices=[], label=t("kb_pick_doc", lang), scale=4, elem_id="kb-document"
                    )
                    doc_grade = gr.Dropdown(
                        choices=[], label=t("kb_doc_grade", lang), scale=2, elem_id="kb-doc-grade"
                    )
                    set_doc_grade = gr.Button(
                        t("kb_set_grade", lang), scale=0, min_width=110, elem_id="kb-set-doc-grade"
                    )
                    delete = gr.Button(
                        t("kb_delete_doc", lang),
                        variant="stop",
                        scale=0,
                        min_width=110,
                        elem_id="kb-delete",
                    )
        self.timer = gr.Timer(POLL_S, active=False)
        grades = [new_grade, kb_grade, upload_grade, doc_grade]
        # What ``load`` fills, in its order (``webui.ui`` wires it to the page's load).
        self.outputs = [self.group, self.kb, self.table, self.document, self.timer, *grades]

        listing = [self.table, self.document, self.timer]
        # ui.py refreshes the chat's picker after this, so a new base can be cited at once.
        self.created = create.click(
            self._create,
            [name, self.group, description, new_grade],
            [self.kb, self.status, name, *listing],
        )
        self.kb.input(self._documents, [self.kb], listing)
        refresh.click(self._documents, [self.kb], listing)
        self.timer.tick(self._documents, [self.kb], listing)
        upload.click(self._upload, [self.kb, files, upload_grade], [self.status, files, *listing])
        set_kb_grade.click(self._set_kb_grade, [self.kb, kb_grade], [self.status, *listing])
        set_doc_grade.click(
            self._set_doc_grade, [self.kb, self.document, doc_grade], [self.status, *listing]
        )
        delete.click(self._delete, [self.kb, self.document], [self.status, *listing])

    async def _token(self, request: gr.Request) -> tuple[Session, str]:
        return await self._access(request, lambda who: who.is_kb_editor, "kb_err_forbidden")

    def _refused(self, error: GatewayError) -> gr.Error:
        key = f"kb_err_{error.code}"
        return gr.Error(t(key, self.lang) if known(key) else error.message)

    async def _listing(self, token: str, kb_id: str | None) -> tuple[Any, ...]:
        """The document table, the delete choices, and whether to keep polling."""
        if not kb_id:
            return [], gr.Dropdown(choices=[], value=None), gr.Timer(active=False)
        try:
            documents = await self.services.gateway.documents(token, kb_id)
        except GatewayError as error:
            raise self._refused(error) from error
        rows = [document_row(d, self.lang) for d in documents]
        choices = [(d.get("name") or d["id"], d["id"]) for d in documents]
        pending = any(d.get("status") in PENDING for d in documents)
        return rows, gr.Dropdown(choices=choices, value=None), gr.Timer(active=pending)

    async def load(self, request: gr.Request) -> tuple[Any, ...]:
        """Fill the tab for a kb-editor: their departments and the bases they manage."""
        session = self.services.require(request)
        who = session.identity
        if not who.is_kb_editor:
            return tuple(gr.skip() for _ in self.outputs)
        _, token = await self._token(request)
        try:
            kbs = [
                kb
                for kb in await self.services.gateway.knowledge_bases(token)
                if manageable(kb, who)
            ]
            grades = await self.services.gateway.grades(token)
        except GatewayError as error:
            raise self._refused(error) from error
        first = kbs[0]["id"] if kbs else None
        departments = list(who.departments)
        inherit = [(t("kb_grade_of_kb", self.lang), "")]
        return (
            gr.Dropdown(choices=departments, value=departments[0] if departments else None),
            gr.Dropdown(choices=[(kb["name"], kb["id"]) for kb in kbs], value=first),
            *await self._listing(token, first),
            gr.Dropdown(choices=grades, value=grades[0] if grades else None),
            gr.Dropdown(choices=grades, value=kbs[0].get("grade") if kbs else None),
            gr.Dropdown(choices=[*inherit, *grades], value=""),
            gr.Dropdown(choices=[*inherit, *grades], value=""),
        )

    async def _documents(self, kb_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        _, token = await self._token(request)
        return await self._listing(token, kb_id)

    async def _create(
        self,
        name: str,
        group: str | None,
        description: str,
        grade: str | None,
        request: gr.Request,
    ) -> tuple[Any, ...]:
        session, token = await self._token(request)
        if not name.strip() or group not in session.identity.departments:
            raise gr.Error(t("kb_name_needed", self.lang))
        try:
            created = await self.services.gateway.create_kb(
                token, name.strip(), group, description.strip(), grade or None
            )
            kbs = await self.services.gateway.knowledge_bases(token)
        except GatewayError as error:
            raise self._refused(error) from error
        choices = [(kb["name"], kb["id"]) for kb in kbs if manageable(kb, session.identity)]
        return (
            gr.Dropdown(choices=choices, value=created["id"]),
            t("kb_created", self.lang, name=html.escape(name.strip())),
            "",
            *await self._listing(token, created["id"]),
        )

    async def _upload(
        self, kb_id: str | None, paths: list[str] | None, grade: str | None, request: gr.Request
    ) -> AsyncIterator[tuple[Any, ...]]:
        """Send the files one request each, so the bar moves as each one is indexed and one
        bad file cannot fail the others; the table shows every outcome at the end. A grade
        chosen is each new document's own; none leaves them the knowledge base's."""
        _, token = await self._token(request)
        if not kb_id or not paths:
            raise gr.Error(t("kb_choose_first", self.lang))
        accepted, failed, refused = 0, 0, []
        for done, path in enumerate(paths):
            name = Path(path).name
            yield progress_html(done, len(paths), name, self.lang), gr.skip(), *[gr.skip()] * 3
            try:
                data = await asyncio.to_thread(Path(path).read_bytes)
                result = await self.services.gateway.upload(
                    token, kb_id, name, data, grade=grade or None
                )
            except GatewayError as error:
                # Refused before a document existed (e.g. too large): the table cannot
                # show it, so the reason goes under the summary.
                failed += 1
                refused.append(f"{name}: {self._refused(error).message}")
                continue
            failed += result.get("status") == "failed"
            accepted += result.get("status") != "failed"
        summary = t("kb_uploaded", self.lang, ok=accepted, failed=failed, total=len(paths))
        lines = "".join(f"<br>{html.escape(line)}" for line in refused)
        yield html.escape(summary) + lines, None, *await self._listing(token, kb_id)

    async def _delete(
        self, kb_id: str | None, document_id: str | None, request: gr.Request
    ) -> tuple[Any, ...]:
        _, token = await self._token(request)
        if not kb_id or not document_id:
            return "", *[gr.skip()] * 3
        try:
            documents = await self.services.gateway.documents(token, kb_id)
            await self.services.gateway.delete_document(token, kb_id, document_id)
        except GatewayError as error:
            raise self._refused(error) from error
        names = {d["id"]: d.get("name") or d["id"] for d in documents}
        deleted = t("kb_deleted", self.lang, name=names.get(document_id, document_id))
        return html.escape(deleted), *await self._listing(token, kb_id)

    async def _set_kb_grade(
        self, kb_id: str | None, grade: str | None, request: gr.Request
    ) -> tuple[Any, ...]:
        """The knowledge base's grade; its documents without their own follow."""
        _, token = await self._token(request)
        if not kb_id or not grade:
            raise gr.Error(t("kb_choose_first", self.lang))
        try:
            kb = await self.services.gateway.set_kb_grade(token, kb_id, grade)
        except GatewayError as error:
            raise self._refused(error) from error
        done = t("kb_grade_set", self.lang, name=kb.get("name") or kb_id, grade=grade)
        return html.escape(done), *await self._listing(token, kb_id)

    async def _set_doc_grade(
        self, kb_id: str | None, document_id: str | None, grade: str | None, request: gr.Request
    ) -> tuple[Any, ...]:
        """A document's own grade, or (the empty choice) its knowledge base's again."""
        _, token = await self._token(request)
        if not kb_id or not document_id:
            raise gr.Error(t("kb_choose_first", self.lang))
        try:
            doc = await self.services.gateway.set_document_grade(
                token, kb_id, document_id, grade or None
            )
        except GatewayError as error:
            raise self._refused(error) from error
        name = doc.get("name") or document_id
        done = t("kb_grade_set", self.lang, name=name, grade=doc.get("grade") or "")
        return html.escape(done), *await self._listing(token, kb_id)
