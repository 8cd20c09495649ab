"""Data grades through the gateway: editors grade knowledge bases and documents (audited),
readers get only what their token's clearance allows, and a RAG answer carries the highest
grade of what it cites, in both answer shapes and in the saved conversation.

One gateway (this tree's code) on its own scratch database, the real Keycloak (li.na 重要
and kb-editor of finance, zhang.wei 一般 of finance) and a stub backend.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from appliance.cli.kb_cmds import ingest_folder
from tests.support.gateways import Gateway
from tests.support.kb import md_file
from tests.support.postgres.databases import ScratchDb
from tests.support.scratch_gateway import (
    chat_begin_detail,
    poll_rows,
    scratch_gateway_fixtures,
)
from tests.support.tokens import Tokens

EDITOR, STAFF = "li.na", "zhang.wei"  # 重要, kb-editor of finance; 一般, finance staff
WORDS = {"plain": "gradewordalpha", "core": "gradewordbeta", "important": "gradewordgamma"}
QUERY = " ".join(WORDS.values())


scratch, gateway = scratch_gateway_fixtures("gw_grades")


@pytest.fixture(scope="module")
def kb(gateway: Gateway, tokens: Tokens) -> dict[str, Any]:
    """A 一般 knowledge base with one document of each kind: ungraded, 核心 and 重要."""
    with httpx.Client(base_url=gateway.url, headers=tokens.headers(EDITOR), timeout=300) as c:
        assert c.get("/api/kb/grades").json() == {"grades": ["一般", "重要", "核心"]}
        made = c.post("/api/kb", json={"name": "grades", "group": "/dept/finance", "grade": "一般"})
        assert made.status_code == 201, made.text
        assert made.json()["grade"] == "一般"
        kb_id = made.json()["id"]
        ids = {}
        for kind, grade in (("plain", None), ("core", "核心"), ("important", "重要")):
            word = WORDS[kind]
            files = [md_file(f"{kind}.md", f"# {word}\n\n{word} 的内部规定。")]
            params = {"grade": grade} if grade else {}
            up = c.post(f"/api/kb/{kb_id}/documents", files=files, params=params)
            assert up.status_code == 200, up.text
            ids[kind] = up.json()["documents"][0]["id"]
        listed = {d["id"]: d for d in c.get(f"/api/kb/{kb_id}/documents").json()["documents"]}
        assert [listed[ids[k]]["grade"] for k in ("plain", "core", "important")] == [
            "一般",
            "核心",
            "重要",
        ]
        assert listed[ids["plain"]]["own_grade"] is None
    return {"id": kb_id, "documents": ids}


def _found(gateway: Gateway, tokens: Tokens, user: str, kb: dict[str, Any]) -> set[str]:
    names = {v: k for k, v in kb["documents"].items()}
    with httpx.Client(base_url=gateway.url, headers=tokens.headers(user), timeout=120) as c:
        answer = c.post("/api/kb/search", json={"query": QUERY, "kb_ids": [kb["id"]], "top_k": 50})
    assert answer.status_code == 200, answer.text
    return {names[hit["document_id"]] for hit in answer.json()["results"]}


def _audit(db: ScratchDb, action: str) -> list[dict[str, Any]]:
    rows = poll_rows(
        db,
        "SELECT outcome, detail FROM audit_events WHERE event_type = 'kb.action'"
        " AND detail->>'action' = %s ORDER BY seq",
        (action,),
        lambda rows: bool(rows) and rows[-1][0] != "pending",
        f"finished {action} row",
    )
    return [{"outcome": r[0], **r[1]} for r in rows]


def test_each_reader_gets_only_the_grades_within_their_clearance(
    gateway: Gateway, tokens: Tokens, kb: dict[str, Any]
) -> None:
    assert _found(gateway, tokens, STAFF, kb) == {"plain"}
    assert _found(gateway, tokens, EDITOR, kb) == {"plain", "important"}


def test_a_rag_answer_carries_the_highest_grade_it_cites(
    gateway: Gateway, tokens: Tokens, kb: dict[str, Any], served_model: str, scratch: ScratchDb
) -> None:
    body = {
        "model": served_model,
        "messages": [{"role": "user", "content": QUERY}],
        "rag": {"kb_ids": [kb["id"]], "top_k": 10},
        "max_tokens": 8,
    }
    with httpx.Client(base_url=gateway.url, timeout=120) as c:
        whole = c.post("/v1/chat/completions", json=body, headers=tokens.headers(EDITOR))
        assert whole.status_code == 200, whole.text
        answer = whole.json()
        assert sorted(cite["grade"] for cite in answer["citations"]) == ["一般", "重要"]
        assert answer["grade"] == "重要"
        low = c.post("/v1/chat/completions", json=body, headers=tokens.headers(STAFF)).json()
        assert low["grade"] == "一般"
        with c.stream(
            "POST",
            "/v1/chat/completions",
            json={**body, "stream": True},
            headers=tokens.headers(EDITOR),
        ) as streamed:
            events = [line[6:] for line in streamed.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert json.loads(events[-2])["grade"] == "重要"
    begin = chat_begin_detail(scratch, whole.headers["x-request-id"])
    assert begin["grade"] == "重要"


def test_regrading_is_audited_and_changes_what_readers_get_at_once(
    gateway: Gateway, tokens: Tokens, kb: dict[str, Any], scratch: ScratchDb
) -> None:
    core = kb["documents"]["core"]
    with httpx.Client(base_url=gateway.url, headers=tokens.headers(EDITOR), timeout=120) as c:
        staff = tokens.headers(STAFF)
        refused = c.put(f"/api/kb/{kb['id']}/grade", json={"grade": "一般"}, headers=staff)
        assert refused.status_code in (403, 404), refused.text
        unknown = c.put(f"/api/kb/{kb['id']}/grade", json={"grade": "绝密"})
        assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_grade"
        cleared = c.put(f"/api/kb/{kb['id']}/documents/{core}/grade", json={"grade": None})
        assert cleared.status_code == 200, cleared.text
        assert (cleared.json()["own_grade"], cleared.json()["grade"]) == (None, "一般")
        assert _found(gateway, tokens, STAFF, kb) == {"plain", "core"}
        raised = c.put(f"/api/kb/{kb['id']}/grade", json={"grade": "核心"})
        assert raised.status_code == 200 and raised.json()["grade"] == "核心", raised.text
        assert _found(gateway, tokens, STAFF, kb) == set()
        assert _found(gateway, tokens, EDITOR, kb) == {"important"}
    document = _audit(scratch, "document.grade")[-1]
    assert (document["outcome"], document["previous_grade"], document["grade"]) == (
        "ok",
        "核心",
        None,
    )
    graded = [row for row in _audit(scratch, "kb.grade") if row["outcome"] == "ok"]
    assert (graded[-1]["previous_grade"], graded[-1]["grade"]) == ("一般", "核心")
    assert any(r["outcome"] == "denied" for r in _audit(scratch, "kb.grade"))


def test_an_upload_with_a_grade_not_on_the_scale_stores_nothing(
    gateway: Gateway, tokens: Tokens, kb: dict[str, Any]
) -> None:
    with httpx.Client(base_url=gateway.url, headers=tokens.headers(EDITOR), timeout=120) as c:
        files = [md_file("never.md", "# never\n\nnever")]
        up = c.post(f"/api/kb/{kb['id']}/documents", files=files, params={"grade": "TOP"})
        assert up.status_code == 400 and up.json()["error"]["code"] == "unknown_grade", up.text
        names = [d["name"] for d in c.get(f"/api/kb/{kb['id']}/documents").json()["documents"]]
    assert "never.md" not in names


def test_the_cli_uploads_a_folder_with_a_grade(
    gateway: Gateway, tokens: Tokens, kb: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "cli.md").write_text("# 命令行\n\n命令行上传的核心资料。\n", encoding="utf-8")
    headers = tokens.headers(EDITOR)
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=300) as c:
        summary = ingest_folder(
            c, tmp_path, kb["id"], Console(quiet=True), show_progress=False, grade="核心"
        )
        assert (summary.uploaded, summary.failed) == (1, [])
        listed = c.get(f"/api/kb/{kb['id']}/documents").json()["documents"]
    (doc,) = [d for d in listed if d["name"] == "cli.md"]
    assert (doc["own_grade"], doc["grade"]) == ("核心", "核心")


def test_a_saved_answer_keeps_its_grade(gateway: Gateway, tokens: Tokens) -> None:
    with httpx.Client(base_url=gateway.url, headers=tokens.headers(STAFF), timeout=120) as c:
        made = c.post("/api/conversations", json={"title": "graded"})
        assert made.status_code == 201, made.text
        cid = made.json()["id"]
        cited = [{"index": 1, "document_name": "a.md", "text": "x", "grade": "重要"}]
        for message in (
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a", "citations": cited, "grade": "重要"},
        ):
            assert c.post(f"/api/conversations/{cid}/messages", json=message).status_code in (
                200,
                201,
            )
        again = c.get(f"/api/conversations/{cid}").json()["messages"]
    assert [m["grade"] for m in again] == [None, "重要"]
    assert again[1]["citations"][0]["grade"] == "重要"
