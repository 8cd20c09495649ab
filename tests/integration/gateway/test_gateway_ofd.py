"""OFD documents through the gateway: a 公文 and an e-invoice uploaded in one request with
bad OFD files and a Markdown file, each with its own outcome; search and a RAG chat cite
the OFD by name with the page the passage is on.

One gateway (this tree's code) on its own scratch database of the runtime's cluster, the
real Keycloak (li.na kb-editor of finance, zhang.wei finance staff), the in-process e5
embedder and a stub backend that keeps the last request it was sent.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.gateways import Gateway
from tests.support.kb import EDITOR, FINANCE_STAFF, md_file
from tests.support.ofd_writer import BUYER, INVOICE_NUMBER, invoice_ofd, notice_ofd, replace_members
from tests.support.scratch_gateway import scratch_gateway_fixtures
from tests.support.stubs import Stub
from tests.support.tokens import Tokens

NOTICE, INVOICE = "城市更新通知.ofd", "电子发票.ofd"
SECTION = "滨江市人民政府办公室关于做好2024年城市更新工作的通知 > 二、重点任务"
ROW = "序号: 2 | 任务: 城中村整治 | 责任单位: 各区人民政府 | 完成时限: 2024年10月"
OFD = "application/ofd"

scratch, gateway = scratch_gateway_fixtures("gw_ofd")


def _ofd(name: str, data: bytes) -> tuple[str, tuple[str, bytes, str]]:
    return ("files", (name, data, OFD))


@pytest.fixture(scope="module")
def uploaded(gateway: Gateway, tokens: Tokens) -> dict[str, Any]:
    """A finance knowledge base and the results of one upload of six files."""
    bomb = replace_members(notice_ofd(), {"OFD.xml": b"\0" * (32 * 1024 * 1024)})
    files = [
        _ofd(NOTICE, notice_ofd()),
        _ofd("renamed-text.ofd", "这不是OFD文件".encode()),
        _ofd("no-root.ofd", replace_members(notice_ofd(), {"OFD.xml": None})),
        _ofd("bomb.ofd", bomb),
        _ofd(INVOICE, invoice_ofd()),
        md_file("差旅.md", "# 差旅\n\n住宿每晚不超过六百元。"),
    ]
    with httpx.Client(base_url=gateway.url, headers=tokens.headers(EDITOR), timeout=300) as c:
        made = c.post("/api/kb", json={"name": "ofd", "group": "/dept/finance"})
        assert made.status_code == 201, made.text
        kb_id = made.json()["id"]
        answer = c.post(f"/api/kb/{kb_id}/documents", files=files)
        assert answer.status_code == 200, answer.text
        listed = c.get(f"/api/kb/{kb_id}/documents").json()["documents"]
    return {"kb": kb_id, "results": answer.json()["documents"], "listed": listed}


def test_each_file_of_the_upload_gets_its_own_outcome(uploaded: dict[str, Any]) -> None:
    outcome = {r["name"]: (r["status"], r.get("error_code")) for r in uploaded["results"]}
    assert outcome == {
        NOTICE: ("ready", None),
        "renamed-text.ofd": ("failed", "corrupt_file"),
        "no-root.ofd": ("failed", "corrupt_file"),
        "bomb.ofd": ("failed", "zip_bomb"),
        INVOICE: ("ready", None),
        "差旅.md": ("ready", None),
    }
    errors = {r["name"]: r["error"] for r in uploaded["results"] if r["error"]}
    assert "not a zip archive" in errors["renamed-text.ofd"]
    assert "holds no OFD.xml" in errors["no-root.ofd"]
    assert "zip bomb" in errors["bomb.ofd"]
    listed = {d["name"]: d for d in uploaded["listed"]}
    assert (listed[NOTICE]["mime"], listed[NOTICE]["pages"]) == (OFD, 3)
    assert listed[NOTICE]["chunks"] > 1


def _search(gateway: Gateway, tokens: Tokens, kb_id: str, query: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=gateway.url, timeout=120) as c:
        answer = c.post(
            "/api/kb/search",
            json={"query": query, "kb_ids": [kb_id], "top_k": 3},
            headers=tokens.headers(FINANCE_STAFF),
        )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["results"])


def test_search_finds_the_table_on_page_two_and_the_invoice_by_its_number(
    gateway: Gateway, tokens: Tokens, uploaded: dict[str, Any]
) -> None:
    hits = _search(gateway, tokens, uploaded["kb"], "城中村整治 责任单位 完成时限")
    row = next(h for h in hits if ROW in h["text"])
    assert (row["document_name"], row["page"], row["section"]) == (NOTICE, 2, SECTION)
    invoice = _search(gateway, tokens, uploaded["kb"], INVOICE_NUMBER)
    assert invoice[0]["document_name"] == INVOICE
    assert any(BUYER in h["text"] for h in invoice if h["document_name"] == INVOICE)


def test_a_rag_chat_cites_the_ofd_with_its_page(
    gateway: Gateway, tokens: Tokens, uploaded: dict[str, Any], stub: Stub, served_model: str
) -> None:
    body = {
        "model": served_model,
        "messages": [{"role": "user", "content": "城中村整治由哪个单位负责，什么时候完成？"}],
        "rag": {"kb_ids": [uploaded["kb"]], "top_k": 3},
        "max_tokens": 8,
    }
    with httpx.Client(base_url=gateway.url, timeout=120) as c:
        answer = c.post("/v1/chat/completions", json=body, headers=tokens.headers(FINANCE_STAFF))
    assert answer.status_code == 200, answer.text
    cited = next(c for c in answer.json()["citations"] if ROW in c["text"])
    assert (cited["document_name"], cited["page"], cited["section"]) == (NOTICE, 2, SECTION)
    prompt = stub.stats()["last_chat_request"]["messages"][-1]["content"]
    assert f"[{cited['index']}] ({NOTICE} / {SECTION} / p. 2)" in prompt
