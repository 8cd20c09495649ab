"""The knowledge-base API, RAG in chat and /v1/embeddings, end to end on the real stack.

Real gateway, PostgreSQL + pgvector, e5 embedding model and vLLM. Documents are tiny (one
chunk each) because the CPU embedder is slow here. The canary is a made-up code that exists
only in the finance test knowledge base; no response to a legal user may contain it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import openai
import pytest

from tests.support.audit import find_audit_event
from tests.support.kb import (
    EDITOR,
    FINANCE_STAFF,
    LEGAL_STAFF,
    NO_ROLE,
    md_file,
)

if TYPE_CHECKING:
    from tests.support.tokens import Tokens

CANARY = "青鸾-4417"
POLICY = f"""# 报销制度

## 会议费用

内部会议茶歇费用每人每天不超过 35 元，项目代号 {CANARY}。
"""
APPLIANCE = Path(sys.executable).parent / "appliance"


@pytest.fixture(scope="module")
def uploaded(kb_client: httpx.Client, tokens: Tokens, finance_kb: dict[str, Any]) -> httpx.Response:
    files = [
        md_file("会议费用.md", POLICY),
        ("files", ("empty.txt", b"", "text/plain")),
        ("files", ("tool.exe", b"MZ\x90\x00binary", "application/octet-stream")),
    ]
    return kb_client.post(
        f"/api/kb/{finance_kb['id']}/documents", files=files, headers=tokens.headers(EDITOR)
    )


def _policy_id(uploaded: httpx.Response) -> str:
    return str(uploaded.json()["documents"][0]["id"])


def test_editor_upload_reports_each_file(
    uploaded: httpx.Response,
    kb_client: httpx.Client,
    tokens: Tokens,
    finance_kb: dict[str, Any],
    gateway_url: str,
) -> None:
    assert uploaded.status_code == 200, uploaded.text
    good, empty, binary = uploaded.json()["documents"]
    assert (good["name"], good["status"]) == ("会议费用.md", "ready")
    assert (empty["status"], empty["error_code"]) == ("failed", "empty_file")
    assert (binary["status"], binary["error_code"]) == ("failed", "unsupported_type")
    assert empty["error"] and binary["error"]

    listed = kb_client.get(
        f"/api/kb/{finance_kb['id']}/documents", headers=tokens.headers(FINANCE_STAFF)
    ).json()["documents"]
    assert {d["name"]: d["status"] for d in listed} == {
        "会议费用.md": "ready",
        "empty.txt": "failed",
        "tool.exe": "failed",
    }
    event = find_audit_event(
        gateway_url,
        tokens,
        request_id=uploaded.headers["x-request-id"],
        event_type="kb.action",
        outcome="ok",
    )
    assert good["id"] in event["document_ids"]


def test_staff_of_the_department_find_the_chunk_with_name_and_section(
    uploaded: httpx.Response, kb_client: httpx.Client, tokens: Tokens
) -> None:
    response = kb_client.post(
        "/api/kb/search",
        json={"query": "会议茶歇费用每人每天多少", "top_k": 3},
        headers=tokens.headers(FINANCE_STAFF),
    )
    assert response.status_code == 200, response.text
    hits = [h for h in response.json()["results"] if h["document_id"] == _policy_id(uploaded)]
    assert hits, response.text
    assert hits[0]["document_name"] == "会议费用.md"
    assert hits[0]["section"] == "报销制度 > 会议费用"
    assert CANARY in hits[0]["text"]


@pytest.mark.parametrize(
    "query", [CANARY, "青鸾", "会议茶歇费用", "报销制度 会议费用 35 元", "4417"]
)
def test_other_department_sees_nothing(
    uploaded: httpx.Response,
    kb_client: httpx.Client,
    tokens: Tokens,
    finance_kb: dict[str, Any],
    query: str,
) -> None:
    legal = tokens.headers(LEGAL_STAFF)
    searched = kb_client.post("/api/kb/search", json={"query": query}, headers=legal)
    assert searched.status_code == 200
    assert CANARY not in searched.text
    assert _policy_id(uploaded) not in searched.text
    named = kb_client.post(
        "/api/kb/search", json={"query": query, "kb_ids": [finance_kb["id"]]}, headers=legal
    )
    assert named.status_code == 404
    assert CANARY not in named.text


def test_other_department_cannot_see_the_knowledge_base(
    uploaded: httpx.Response,
    kb_client: httpx.Client,
    tokens: Tokens,
    finance_kb: dict[str, Any],
    served_model: str,
) -> None:
    legal = tokens.headers(LEGAL_STAFF)
    kb_id = finance_kb["id"]
    assert kb_client.get(f"/api/kb/{kb_id}", headers=legal).status_code == 404
    assert kb_client.get(f"/api/kb/{kb_id}/documents", headers=legal).status_code == 404
    listed = kb_client.get("/api/kb", headers=legal).json()["knowledge_bases"]
    assert kb_id not in {kb["id"] for kb in listed}
    chat = kb_client.post(
        "/v1/chat/completions",
        json={
            "model": served_model,
            "messages": [{"role": "user", "content": CANARY}],
            "rag": {"kb_ids": [kb_id]},
        },
        headers=legal,
    )
    assert chat.status_code == 404
    assert CANARY not in chat.text
    # Staff may read but not manage; no role at all may not even read.
    staff = tokens.headers(FINANCE_STAFF)
    assert kb_client.delete(f"/api/kb/{kb_id}", headers=staff).status_code == 403
    assert kb_client.get("/api/kb", headers=tokens.headers(NO_ROLE)).status_code == 403


def _rag_chat(model: str, kb_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "内部会议茶歇费用每人每天不超过多少元？"}],
        "rag": {"kb_ids": [kb_id], "top_k": 3},
        "max_tokens": 16,
        **extra,
    }


def test_rag_chat_returns_citations_and_audits_the_chunks(
    uploaded: httpx.Response,
    kb_client: httpx.Client,
    tokens: Tokens,
    finance_kb: dict[str, Any],
    served_model: str,
    gateway_url: str,
) -> None:
    response = kb_client.post(
        "/v1/chat/completions",
        json=_rag_chat(served_model, finance_kb["id"]),
        headers=tokens.headers(FINANCE_STAFF),
    )
    assert response.status_code == 200, response.text
    citations = response.json()["citations"]
    assert citations[0]["index"] == 1
    assert citations[0]["document_name"] == "会议费用.md"
    assert CANARY in citations[0]["text"]
    end = find_audit_event(
        gateway_url, tokens, request_id=response.headers["x-request-id"], event_type="chat.end"
    )
    assert end["chunk_ids"] == [c["chunk_id"] for c in citations]
    assert _policy_id(uploaded) in end["document_ids"]


def test_rag_stream_ends_with_a_citations_chunk(
    uploaded: httpx.Response,
    kb_client: httpx.Client,
    tokens: Tokens,
    finance_kb: dict[str, Any],
    served_model: str,
    gateway_url: str,
) -> None:
    body = _rag_chat(served_model, finance_kb["id"], stream=True)
    with kb_client.stream(
        "POST", "/v1/chat/completions", json=body, headers=tokens.headers(FINANCE_STAFF)
    ) as response:
        assert response.status_code == 200
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
        request_id = response.headers["x-request-id"]
    assert events[-1] == "[DONE]"
    last = json.loads(events[-2])
    assert last["choices"] == []
    assert last["citations"][0]["document_name"] == "会议费用.md"
    end = find_audit_event(gateway_url, tokens, request_id=request_id, event_type="chat.end")
    assert end["chunk_ids"] == [c["chunk_id"] for c in last["citations"]]


def test_openai_client_chat_with_rag_and_embeddings(
    uploaded: httpx.Response,
    tokens: Tokens,
    finance_kb: dict[str, Any],
    served_model: str,
    gateway_url: str,
) -> None:
    client = openai.OpenAI(base_url=f"{gateway_url}/v1", api_key=tokens(FINANCE_STAFF))
    completion = client.chat.completions.create(
        model=served_model,
        messages=[{"role": "user", "content": "会议茶歇费用上限？"}],
        max_tokens=8,
        extra_body={"rag": {"kb_ids": [finance_kb["id"]], "top_k": 2}},
    )
    assert (completion.model_extra or {})["citations"][0]["document_name"] == "会议费用.md"
    embedded = client.embeddings.create(
        model="intfloat/multilingual-e5-small", input=["差旅报销", "travel expenses"]
    )
    assert [item.index for item in embedded.data] == [0, 1]
    assert all(len(item.embedding) == 384 for item in embedded.data)
    assert embedded.usage.prompt_tokens > 0
    floats = client.embeddings.create(
        model="intfloat/multilingual-e5-small", input="差旅报销", encoding_format="float"
    )
    assert floats.data[0].embedding == pytest.approx(embedded.data[0].embedding, abs=1e-6)


def test_deleting_a_document_removes_it_from_search_at_once(
    kb_client: httpx.Client, tokens: Tokens, finance_kb: dict[str, Any]
) -> None:
    kb_id = finance_kb["id"]
    marker = "玄武-9083"
    added = kb_client.post(
        f"/api/kb/{kb_id}/documents",
        files=[md_file("临时通知.md", f"# 临时通知\n\n停车补贴暂停发放，编号 {marker}。\n")],
        headers=tokens.headers(EDITOR),
    ).json()["documents"][0]
    search = {"query": f"停车补贴 {marker}", "kb_ids": [kb_id]}
    staff = tokens.headers(FINANCE_STAFF)
    before = kb_client.post("/api/kb/search", json=search, headers=staff)
    assert marker in before.text
    deleted = kb_client.delete(
        f"/api/kb/{kb_id}/documents/{added['id']}", headers=tokens.headers(EDITOR)
    )
    assert deleted.status_code == 204
    after = kb_client.post("/api/kb/search", json=search, headers=staff)
    assert after.status_code == 200
    assert marker not in after.text


def _ingest(
    folder: Path, kb_name: str, token: str, gateway_url: str
) -> subprocess.CompletedProcess[str]:
    argv = [str(APPLIANCE), "kb", "ingest", str(folder), "--kb", kb_name]
    argv += ["--gateway", gateway_url, "--no-progress"]
    return subprocess.run(
        argv,
        env={**os.environ, "APPLIANCE_TOKEN": token, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_ingest_uploads_a_folder_and_skips_unchanged_files_on_rerun(
    tmp_path: Path, tokens: Tokens, finance_kb: dict[str, Any], gateway_url: str
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "会议纪要.md").write_text("# 会议纪要\n\n第三季度预算已批准。\n", encoding="utf-8")
    (tmp_path / "sub" / "notes.txt").write_text("Budget review moved to Friday.\n")
    (tmp_path / "sub" / "image.bin").write_bytes(b"\x00\x01\x02")
    first = _ingest(tmp_path, finance_kb["name"], tokens(EDITOR), gateway_url)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "uploaded 2, skipped 0 unchanged, failed 1" in first.stdout
    assert "sub/image.bin" in first.stdout and "unsupported_type" in first.stdout
    second = _ingest(tmp_path, finance_kb["name"], tokens(EDITOR), gateway_url)
    assert "uploaded 0, skipped 2 unchanged, failed 1" in second.stdout, second.stdout
