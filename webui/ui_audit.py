"""The audit tab (审计), for auditors: filter the audit log, read a record, export, verify.

Everything goes through the gateway's auditor API with the auditor's own token, so every
search, export and verification is itself recorded in the audit log.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr

from appliance.audit.events import EventType, Outcome
from webui.gateway_client import GatewayError
from webui.i18n import t
from webui.tab import Tab
from webui.ui_compliance import compliance_file

# The gateway pages oldest first; the tab reads up to MAX_PAGES pages and shows the newest
# SHOWN events, newest first, which is what an auditor looks at first.
API_PAGE = 1000
MAX_PAGES = 20
SHOWN = 300
# An export's lines that are not events: the GB 45438 labels, explicit first and AIGC last.
LABEL_LINES = 2
PROMPT_PREVIEW = 80
_COLUMN_KEYS = (
    "col_seq",
    "col_time",
    "col_type",
    "col_outcome",
    "col_user",
    "col_groups",
    "col_tokens",
    "col_prompt",
)


class BadFilter(ValueError):
    pass


def _when(value: str) -> str | None:
    """A typed date or date-time, read in the server's local time zone, as ISO 8601."""
    text = value.strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).astimezone().isoformat()
    except ValueError as exc:
        raise BadFilter(text) from exc


def build_filters(
    *, user: str, department: str, event_type: str, outcome: str, since: str, until: str
) -> dict[str, str]:
    """The query parameters for ``/api/audit/events`` and ``/export``; blanks are left out."""
    raw = {
        "user": user.strip(),
        "department": department.strip(),
        "event_type": event_type,
        "outcome": outcome,
        "since": _when(since),
        "until": _when(until),
    }
    return {key: value for key, value in raw.items() if value}


def matchable(event: dict[str, Any]) -> str:
    """The text a keyword search looks in: the prompt and the answer."""
    return " ".join(str(event.get(k) or "") for k in ("prompt", "response")).lower()


def event_row(event: dict[str, Any]) -> list[Any]:
    tokens = (event.get("prompt_tokens") or 0) + (event.get("completion_tokens") or 0)
    prompt = (event.get("prompt") or "").replace("\n", " ")
    return [
        event["seq"],
        str(event["created_at"])[:19].replace("T", " "),
        event["event_type"],
        event["outcome"],
        event.get("actor_username") or "",
        ", ".join(event.get("actor_groups") or []),
        tokens or "",
        prompt[:PROMPT_PREVIEW],
    ]


class AuditTab(Tab):
    def _build(self) -> None:
        lang = self.lang
        anything = [(t("any", lang), "")]
        with gr.Row():
            user = gr.Textbox(label=t("f_user", lang), max_lines=1, elem_id="audit-user")
            department = gr.Textbox(
                label=t("f_department", lang),
                placeholder=t("f_department_ph", lang),
                max_lines=1,
            )
            event_type = gr.Dropdown(
                anything + [(e.value, e.value) for e in EventType],
                value="",
                label=t("f_event_type", lang),
                elem_id="audit-event-type",
            )
            outcome = gr.Dropdown(
                anything + [(o.value, o.value) for o in Outcome],
                value="",
                label=t("f_outcome", lang),
            )
            keyword = gr.Textbox(label=t("f_keyword", lang), max_lines=1, elem_id="audit-keyword")
            since = gr.Textbox(
                label=t("f_since", lang), placeholder=t("f_time_ph", lang), max_lines=1
            )
            until = gr.Textbox(
                label=t("f_until", lang), placeholder=t("f_time_ph", lang), max_lines=1
            )
        with gr.Row():
            search = gr.Button(t("search", lang), variant="primary", elem_id="audit-search")
            csv = gr.Button(t("export_csv", lang), elem_id="audit-export-csv")
            jsonl = gr.Button(t("export_jsonl", lang), elem_id="audit-export-jsonl")
            verify = gr.Button(t("verify", lang), elem_id="audit-verify")
            compliance = gr.Button(t("compliance_export", lang), elem_id="audit-compliance")
            skip_signatures = gr.Checkbox(
                label=t("skip_signatures", lang), value=False, elem_id="audit-skip-signatures"
            )
        status = gr.Markdown(elem_id="audit-status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                table = gr.Dataframe(
                    headers=[t(key, lang) for key in _COLUMN_KEYS],
                    interactive=False,
                    wrap=True,
                    max_height=440,
                    label=t("events", lang),
                    elem_id="audit-events",
                )
            with gr.Column(scale=2):
                detail = gr.JSON(label=t("event_detail", lang), elem_id="audit-detail")
                download = gr.File(label=t("download", lang), visible=False)

        events = gr.State([])
        self.fields = {
            "user": user,
            "department": department,
            "event_type": event_type,
            "outcome": outcome,
            "since": since,
            "until": until,
        }
        # Handlers get a set of inputs, i.e. one {component: value} dict.
        self.keyword = keyword
        filters: set[gr.blocks.Block] = set(self.fields.values())
        search.click(self._search, {*filters, keyword}, [table, events, status])
        table.select(self._open, [events], [detail])
        csv.click(self._export_csv, filters, [download, status])
        jsonl.click(self._export_jsonl, filters, [download, status])
        verify.click(self._verify, [skip_signatures], [status])
        compliance.click(self._compliance, None, [download, status])

    async def _token(self, request: gr.Request) -> str:
        _, token = await self._access(request, lambda who: who.is_auditor, "no_access_title")
        return token

    def _filters(self, data: dict[Any, Any]) -> dict[str, str]:
        try:
            return build_filters(**{name: data[c] or "" for name, c in self.fields.items()})
        except BadFilter as exc:
            raise gr.Error(t("bad_time", self.lang, value=str(exc))) from exc

    async def _search(self, data: dict[Any, Any], request: gr.Request) -> tuple[Any, ...]:
        token = await self._token(request)
        params: dict[str, str | int] = {**self._filters(data), "limit": API_PAGE}
        found: list[dict[str, Any]] = []
        try:
            for _ in range(MAX_PAGES):
                page = await self.services.gateway.audit_events(token, params)
                found.extend(page["events"])
                if page.get("next_after_seq") is None:
                    break
                params["after_seq"] = page["next_after_seq"]
                found = found[-SHOWN:]
        except GatewayError as error:
            raise gr.Error(error.message) from error
        keyword = (data[self.keyword] or "").strip().lower()
        if keyword:
            found = [e for e in found if keyword in matchable(e)]
        rows = list(reversed(found[-SHOWN:]))
        return [event_row(e) for e in rows], rows, t("events_found", self.lang, n=len(rows))

    async def _open(self, events: list[dict[str, Any]], selected: gr.SelectData) -> Any:
        row = selected.index[0] if isinstance(selected.index, list) else selected.index
        return events[row] if 0 <= row < len(events) else None

    async def _export(self, fmt: str, data: dict[Any, Any], request: gr.Request) -> Any:
        token = await self._token(request)
        params: dict[str, str | int] = {**self._filters(data), "format": fmt}
        params["lang"] = self.lang.value
        try:
            body = await self.services.gateway.audit_export(token, params)
        except GatewayError as error:
            raise gr.Error(error.message) from error
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
        path = Path(tempfile.mkdtemp(prefix="webui-audit-")) / f"audit-{stamp}.{fmt}"
        path.write_bytes(body)
        # Not events: the two label lines (GB 45438) and the CSV header.
        lines = body.count(b"\n") - LABEL_LINES - (1 if fmt == "csv" else 0)
        return gr.File(value=str(path), visible=True), t("exported", self.lang, n=lines)

    async def _export_csv(self, data: dict[Any, Any], request: gr.Request) -> Any:
        return await self._export("csv", data, request)

    async def _export_jsonl(self, data: dict[Any, Any], request: gr.Request) -> Any:
        return await self._export("jsonl", data, request)

    async def _compliance(self, request: gr.Request) -> tuple[Any, str]:
        token = await self._token(request)
        return await compliance_file(self.services.gateway, token, self.lang)

    async def _verify(self, skip_signatures: bool, request: gr.Request) -> str:
        token = await self._token(request)
        try:
            report = await self.services.gateway.audit_verify(
                token, skip_signatures=skip_signatures
            )
        except GatewayError as error:
            raise gr.Error(error.message) from error
        # A verification without signatures proves less: say so above the verdict.
        warning = t("verify_unsigned", self.lang) + "\n\n" if report.get("warning") else ""
        return warning + self._verdict(report)

    def _verdict(self, report: dict[str, Any]) -> str:
        if report.get("ok"):
            return t(
                "verify_ok",
                self.lang,
                count=report.get("count", 0),
                signed=report.get("signed_checkpoints_verified", 0),
            )
        return t(
            "verify_bad",
            self.lang,
            seq=report.get("first_bad_seq"),
            reason=report.get("reason"),
            message=report.get("message") or "",
        )
