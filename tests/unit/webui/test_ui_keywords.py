"""The keyword library screen: only the secadmin's events reach the gateway; a preview
becomes a table of added, removed and changed entries kept for the confirmation, which
sends the preview's file, type and base revision; a library changed in between is a
message, not an error; and the client sends a workbook with its own content type."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import gradio as gr
import httpx
import pytest

from webui.gateway_client import XLSX_TYPE, GatewayClient, GatewayError
from webui.i18n import Lang, t
from webui.services import Services
from webui.sessions import Identity, Session
from webui.ui_keywords import KeywordsScreen, PendingImport

SECADMIN = Identity("sub-zhao", "zhao.min", frozenset({"secadmin"}), ("/dept/it",))
SYSADMIN = Identity("sub-chen", "chen.jie", frozenset({"sysadmin"}), ("/dept/it",))
REQUEST = cast(gr.Request, SimpleNamespace(cookies={}))


def _entry(entry_id: str, term: str, action: str = "block") -> dict[str, str]:
    return {
        "id": entry_id,
        "term": term,
        "category": "A.1",
        "match": "normalised",
        "action": action,
    }


PREVIEW = {
    "base_revision": 4,
    "counts": {"added": 1, "removed": 1, "changed": 1},
    "added": [_entry("n", "新词")],
    "removed": [_entry("o", "旧词")],
    "changed": [{"before": _entry("c", "词"), "after": _entry("c", "词", "flag")}],
}


class FakeGateway:
    def __init__(self, refusal: GatewayError | None = None) -> None:
        self.imports: list[tuple[bytes, str, dict[str, Any]]] = []
        self.refusal = refusal
        self.pages: list[dict[str, Any]] = []

    async def keyword_entries(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        self.pages.append(params)
        offset, total = int(params["offset"]), 45
        count = max(0, min(int(params["limit"]), total - offset))
        return {
            "revision": 3,
            "version": "v3",
            "entry_count": total,
            "imported_by": "zhao.min",
            "total": total,
            "entries": [_entry(str(offset + i), "词") for i in range(count)],
        }

    async def keyword_import(
        self, token: str, data: bytes, media_type: str, **options: Any
    ) -> dict[str, Any]:
        self.imports.append((data, media_type, options))
        if self.refusal is not None:
            raise self.refusal
        if options.get("dry_run"):
            return PREVIEW
        return {**PREVIEW, "revision": 5}


class FakeServices:
    def __init__(self, identity: Identity, gateway: FakeGateway) -> None:
        self.session = cast(Session, SimpleNamespace(identity=identity))
        self.gateway = gateway

    def require(self, request: gr.Request) -> Session:
        return self.session

    async def token(self, session: Session) -> str:
        return "access-token"


def _screen(identity: Identity, gateway: FakeGateway) -> KeywordsScreen:
    with gr.Blocks():
        return KeywordsScreen(cast(Services, FakeServices(identity, gateway)), Lang.EN)


async def test_only_the_secadmin_reaches_the_gateway(tmp_path: Any) -> None:
    gateway = FakeGateway()
    path = tmp_path / "k.csv"
    path.write_bytes(b"id,term,category,match,action\n")
    with pytest.raises(gr.Error, match=t("err_not_secadmin", Lang.EN)):
        await _screen(SYSADMIN, gateway)._preview(str(path), REQUEST)
    assert gateway.imports == []


async def test_pages_go_forward_and_back_and_stop_at_the_ends() -> None:
    gateway = FakeGateway()
    screen = _screen(SECADMIN, gateway)
    first = await screen._first_page(" 词 ", REQUEST)
    assert first[2] == "Entries 1–20 of 45" and (first[3], first[4]) == (0, 45)
    last = await screen._next("词", 40, 45, REQUEST)
    assert last[2] == "Entries 41–45 of 45" and len(last[1]) == 5 and last[3] == 40
    assert (await screen._next("词", 20, 45, REQUEST))[3] == 40
    assert (await screen._previous("词", 0, REQUEST))[3] == 0
    assert [p["offset"] for p in gateway.pages] == [0, 40, 40, 0]
    assert {p["search"] for p in gateway.pages} == {"词"}
    assert "revision **3**" in first[0]


async def test_a_preview_lists_each_change_and_the_confirmation_sends_what_was_seen(
    tmp_path: Any,
) -> None:
    gateway = FakeGateway()
    screen = _screen(SECADMIN, gateway)
    path = tmp_path / "keywords.XLSX"
    path.write_bytes(b"PK workbook")
    status, table, confirm, _, pending = await screen._preview(str(path), REQUEST)
    assert "1 added, 1 removed, 1 changed" in status and "revision 4" in status
    assert table.value["data"] == [
        ["added", "n", "新词", "A.1", "normalised", "block"],
        ["removed", "o", "旧词", "A.1", "normalised", "block"],
        ["changed", "c", "词", "A.1", "normalised", "block → flag"],
    ]
    assert confirm.visible is True
    assert pending == PendingImport("keywords.XLSX", b"PK workbook", 4)

    *staged, upload = await screen._apply(pending, REQUEST)
    assert "revision 5" in staged[0] and staged[4] is None and upload is None
    assert [(m, o) for _, m, o in gateway.imports] == [
        (XLSX_TYPE, {"dry_run": True}),
        (XLSX_TYPE, {"base_revision": 4}),
    ]


async def test_a_library_changed_since_the_preview_is_a_message_and_keeps_the_file() -> None:
    gateway = FakeGateway(GatewayError(409, "changed", code="library_changed"))
    pending = PendingImport("k.csv", b"id,term,category,match,action\n", 2)
    status, _, confirm, _, kept, upload = await _screen(SECADMIN, gateway)._apply(pending, REQUEST)
    assert status == t("kw_conflict", Lang.EN)
    assert confirm.visible is False and kept is None
    assert upload == gr.skip()  # the file stays for a new preview
    assert gateway.imports[0][1] == "text/csv"


async def test_a_wrong_file_shows_the_gateways_message_in_the_users_words(tmp_path: Any) -> None:
    refusal = GatewayError(400, "line 3, column term: empty term", code="invalid_keyword_library")
    path = tmp_path / "k.csv"
    path.write_bytes(b"x")
    with pytest.raises(gr.Error, match="The file is wrong: line 3, column term"):
        await _screen(SECADMIN, FakeGateway(refusal))._preview(str(path), REQUEST)


async def test_the_client_sends_a_workbook_with_its_type_and_reads_the_export_name() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET":
            disposition = 'attachment; filename="keywords-r3.xlsx"'
            return httpx.Response(200, content=b"PK", headers={"content-disposition": disposition})
        return httpx.Response(200, json={"applied": False})

    client = GatewayClient(
        "http://gateway.test",
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        chat_timeout_s=5.0,
    )
    await client.keyword_import("tok", b"PK", XLSX_TYPE, dry_run=True)
    await client.keyword_import("tok", b"a", "text/csv", base_revision=7)
    assert await client.keyword_export("tok", "xlsx") == (b"PK", "keywords-r3.xlsx")
    dry, applied, export = seen
    assert dry.headers["content-type"] == XLSX_TYPE and dry.headers["authorization"] == "Bearer tok"
    assert dict(dry.url.params) == {"dry_run": "true"}
    assert dict(applied.url.params) == {"dry_run": "false", "base_revision": "7"}
    assert applied.content == b"a" and applied.headers["content-type"] == "text/csv"
    assert export.url.path == "/api/content/keywords/export"
    assert dict(export.url.params) == {"format": "xlsx"}
