"""The keyword library managed by the secadmin, and the content filter on every chat.

One gateway (this tree's code) on its own scratch database of the runtime's cluster, with
the real Keycloak and a stub backend told what to answer: the library starts empty, so the
order of the tests below is the order an operator would follow (import, then chat).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from appliance.content.library_csv import export_csv, import_csv
from tests.support.gateways import Gateway, chat_body
from tests.support.kb import EDITOR, md_file
from tests.support.postgres import scratch as scratch_db
from tests.support.postgres.databases import ScratchDb
from tests.support.scratch_gateway import scratch_gateway_fixtures
from tests.support.stubs import Stub
from tests.support.tokens import Tokens

SECADMIN, SYSADMIN, AUDITOR, STAFF = "zhao.min", "chen.jie", "liu.yang", "zhang.wei"
HEADER = "id,term,category,match,action\n"
LIBRARY = (
    HEADER
    + "T-B1,禁止短语,A.1 违反社会主义核心价值观,normalised,block\n"
    + "T-B2,forbidden phrase,A.1 违反社会主义核心价值观,normalised,block\n"
    + "T-M1,遮盖词,A.3 商业违法违规,normalised,mask\n"
    + "T-F1,标记词,A.5 特定服务类型的安全需求,normalised,flag\n"
).encode()
# The same library with one rule changed, one removed and one added.
EDITED = (
    HEADER
    + "T-B1,禁止短语,A.1 违反社会主义核心价值观,normalised,block\n"
    + "T-B2,forbidden phrase,A.2 歧视性内容,normalised,block\n"
    + "T-M1,遮盖词,A.3 商业违法违规,normalised,mask\n"
    + "T-F2,另一标记词,A.5 特定服务类型的安全需求,exact,flag\n"
).encode()


scratch, gateway = scratch_gateway_fixtures("gw_content")


def _client(gateway: Gateway, tokens: Tokens, user: str) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, headers=tokens.headers(user), timeout=120)


def _import(client: httpx.Client, data: bytes, **params: str | int) -> httpx.Response:
    return client.post(
        "/api/content/keywords/import",
        content=data,
        params=params,
        headers={"content-type": "text/csv"},
    )


def _rows(db: ScratchDb, query: str, *params: object) -> list[tuple[Any, ...]]:
    with db.superuser() as conn:
        return list(conn.execute(query, params).fetchall())


def _events(db: ScratchDb, request_id: str, event_type: str, count: int) -> list[Any]:
    """The request's audit rows of ``event_type`` (outcome, detail), once ``count`` are in."""
    query = (
        "SELECT outcome, detail FROM audit_events "
        "WHERE request_id = %s AND event_type = %s ORDER BY seq"
    )
    deadline = time.monotonic() + 10
    while True:
        rows = _rows(db, query, request_id, event_type)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_1_the_secadmin_previews_an_import_then_applies_it(
    gateway: Gateway, tokens: Tokens, scratch: ScratchDb
) -> None:
    with _client(gateway, tokens, SECADMIN) as client:
        empty = client.get("/api/content/keywords")
        assert empty.status_code == 200, empty.text
        assert (empty.json()["revision"], empty.json()["total"]) == (0, 0)

        preview = _import(client, LIBRARY, dry_run="true")
        assert preview.status_code == 200, preview.text
        body = preview.json()
        assert (body["dry_run"], body["applied"], body["base_revision"]) == (True, False, 0)
        assert body["counts"] == {"added": 4, "removed": 0, "changed": 0}
        assert [e["id"] for e in body["added"]] == ["T-B1", "T-B2", "T-F1", "T-M1"]
        assert client.get("/api/content/keywords").json()["total"] == 0  # nothing stored

        applied = _import(client, LIBRARY, base_revision=0)
        assert applied.status_code == 200, applied.text
        assert (applied.json()["applied"], applied.json()["revision"]) == (True, 1)
        phases = _events(scratch, applied.headers["x-request-id"], "content.action", 2)
        assert [(o, d["phase"], d["action"]) for o, d in phases] == [
            ("pending", "begin", "keywords.import"),
            ("ok", "end", "keywords.import"),
        ]
        assert phases[1][1]["revision"] == 1 and phases[1][1]["added"] == 4

        page = client.get("/api/content/keywords", params={"limit": 2, "offset": 1}).json()
        assert (page["revision"], page["total"]) == (1, 4)
        assert [e["id"] for e in page["entries"]] == ["T-B2", "T-M1"]
        found = client.get("/api/content/keywords", params={"search": "PHRASE"}).json()
        assert [e["id"] for e in found["entries"]] == ["T-B2"]
        by_category = client.get(
            "/api/content/keywords", params={"category": "A.3 商业违法违规"}
        ).json()
        assert [e["id"] for e in by_category["entries"]] == ["T-M1"]

        diff = _import(client, EDITED, dry_run="true").json()
        assert diff["counts"] == {"added": 1, "removed": 1, "changed": 1}
        assert diff["removed"][0]["id"] == "T-F1" and diff["added"][0]["id"] == "T-F2"
        assert diff["changed"][0]["before"]["category"] == "A.1 违反社会主义核心价值观"
        assert diff["changed"][0]["after"]["category"] == "A.2 歧视性内容"
        # Applied against a revision that is no longer the active one: refused.
        assert client.get("/api/content/keywords/versions").json()["versions"][0]["revision"] == 1
        stale = _import(client, EDITED, base_revision=0)
        assert stale.status_code == 409, stale.text
        assert stale.json()["error"]["code"] == "library_changed"


def test_2_the_export_round_trips(gateway: Gateway, tokens: Tokens) -> None:
    with _client(gateway, tokens, SECADMIN) as client:
        exported = client.get("/api/content/keywords/export")
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-type"].startswith("text/csv")
        assert exported.content == export_csv(import_csv(LIBRARY))
        assert import_csv(exported.content).version == import_csv(LIBRARY).version
        again = _import(client, exported.content, dry_run="true").json()
        assert again["counts"] == {"added": 0, "removed": 0, "changed": 0}


def test_3_only_the_secadmin_may_see_or_change_the_library(
    gateway: Gateway, tokens: Tokens
) -> None:
    for user in (SYSADMIN, AUDITOR, STAFF):
        with _client(gateway, tokens, user) as client:
            for response in (
                _import(client, EDITED),
                _import(client, EDITED, dry_run="true"),
                client.get("/api/content/keywords"),
                client.get("/api/content/keywords/export"),
            ):
                assert response.status_code == 403, (user, response.text)
                assert response.json()["error"]["code"] == "missing_role"
    with _client(gateway, tokens, SECADMIN) as client:
        assert client.get("/api/content/keywords").json()["revision"] == 1


def test_4_a_bad_file_is_refused_naming_the_line(gateway: Gateway, tokens: Tokens) -> None:
    with _client(gateway, tokens, SECADMIN) as client:
        bad = _import(client, LIBRARY + "T-X,词,A.1,normalised,erase\n".encode())
        assert bad.status_code == 400, bad.text
        assert bad.json()["error"]["code"] == "invalid_keyword_library"
        assert "line 6" in bad.json()["error"]["message"]
        assert client.get("/api/content/keywords").json()["revision"] == 1


def test_5_a_prompt_with_a_blocked_term_is_refused_and_audited(
    gateway: Gateway, tokens: Tokens, scratch: ScratchDb, stub: Stub, served_model: str
) -> None:
    before = stub.chat_requests()
    body = chat_body(served_model)
    body["messages"] = [{"role": "user", "content": "请解释 禁止 短语 是什么"}]
    with _client(gateway, tokens, STAFF) as client:
        refused = client.post("/v1/chat/completions", json=body)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "content_blocked"
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("您的请求包含")
    assert stub.chat_requests() == before  # the model never heard of it
    [(outcome, detail)] = _events(scratch, refused.headers["x-request-id"], "content.blocked", 1)
    assert outcome == "denied"
    assert detail == {
        "source": "prompt",
        "rule": "T-B1",
        "category": "A.1 违反社会主义核心价值观",
        "action": "block",
    }


def test_6_masked_terms_never_reach_the_model(
    gateway: Gateway, tokens: Tokens, stub: Stub, served_model: str
) -> None:
    body = chat_body(served_model)
    body["messages"] = [{"role": "user", "content": "这里有遮盖词和标记词"}]
    with _client(gateway, tokens, STAFF) as client:
        answered = client.post("/v1/chat/completions", json=body)
    assert answered.status_code == 200, answered.text
    sent = stub.stats()["last_chat_request"]["messages"][0]["content"]
    assert sent == "这里有***和标记词"


def _sse(response: httpx.Response) -> list[Any]:
    events: list[Any] = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line.removeprefix("data: ")
            events.append(data if data == "[DONE]" else orjson.loads(data))
    return events


def test_7_a_streamed_answer_stops_before_a_blocked_term(
    gateway: Gateway, tokens: Tokens, scratch: ScratchDb, stub: Stub, served_model: str
) -> None:
    before = "巴黎是法国的首都，也是最大的城市。" * 2
    stub.control(reasoning=["想一想", "遮盖", "词"], content=[before, "禁", "止短", "语", "。尾声"])
    try:
        with (
            _client(gateway, tokens, STAFF) as client,
            client.stream(
                "POST", "/v1/chat/completions", json=chat_body(served_model, stream=True)
            ) as response,
        ):
            assert response.status_code == 200
            request_id = response.headers["x-request-id"]
            events = _sse(response)
    finally:
        stub.control(reasoning=None, content=None)
    chunks = [e for e in events if isinstance(e, dict) and e.get("choices")]
    answer = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content") or "" for c in chunks)
    assert "禁" not in answer and "尾声" not in answer
    assert before.startswith(answer)
    assert reasoning == "想一想***"
    assert events[-2]["error"]["code"] == "content_blocked"
    assert events[-2]["error"]["message"].startswith("回答包含")
    assert events[-1] == "[DONE]"
    [(outcome, detail)] = _events(scratch, request_id, "content.blocked", 1)
    assert outcome == "denied"
    assert (detail["source"], detail["rule"]) == ("answer", "T-B1")
    assert "matched" not in detail
    [(end_outcome, end)] = _events(scratch, request_id, "chat.end", 1)
    assert (end_outcome, end["error"]) == ("denied", "content_blocked")
    assert [(h["source"], h["rule"]) for h in end["content_hits"]] == [
        ("reasoning", "T-M1"),
        ("answer", "T-B1"),
    ]


def test_8_a_complete_answer_is_filtered_and_hits_are_counted(
    gateway: Gateway, tokens: Tokens, stub: Stub, served_model: str
) -> None:
    stub.control(content=["答案里有遮盖词。"])
    try:
        with _client(gateway, tokens, STAFF) as client:
            answered = client.post("/v1/chat/completions", json=chat_body(served_model))
    finally:
        stub.control(content=None)
    assert answered.status_code == 200, answered.text
    assert answered.json()["choices"][0]["message"]["content"] == "答案里有***。"
    with _client(gateway, tokens, SYSADMIN) as client:
        metrics = client.get("/metrics").text
    counted = [
        line
        for line in metrics.splitlines()
        if line.startswith("appliance_content_hits_total{")
        and 'action="mask"' in line
        and 'source="answer"' in line
    ]
    assert counted and float(counted[0].rsplit(" ", 1)[1]) >= 1


def test_9_with_the_audit_store_refusing_an_import_changes_nothing(
    gateway: Gateway, tokens: Tokens, scratch: ScratchDb
) -> None:
    with _client(gateway, tokens, SECADMIN) as client:
        revisions = client.get("/api/content/keywords/versions").json()["versions"]
        with scratch_db.audit_refused(scratch):
            refused = _import(client, EDITED)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "audit_unavailable"
        assert client.get("/api/content/keywords/versions").json()["versions"] == revisions
        assert _rows(scratch, "SELECT count(*) FROM keyword_libraries") == [(1,)]


def test_10_retrieved_passages_are_withheld_or_masked_before_the_model_sees_them(
    gateway: Gateway, tokens: Tokens, stub: Stub, served_model: str
) -> None:
    with _client(gateway, tokens, EDITOR) as editor:
        kb = editor.post("/api/kb", json={"name": "content-filter", "group": "/dept/finance"})
        assert kb.status_code == 201, kb.text
        kb_id = kb.json()["id"]
        uploaded = editor.post(
            f"/api/kb/{kb_id}/documents",
            files=[
                md_file("a.md", "# 茶歇\n\n茶歇费用的规定里写着禁止短语，不应给模型看。"),
                md_file("b.md", "# 茶歇\n\n茶歇费用每人每天三十五元，遮盖词在此。"),
            ],
        )
        assert uploaded.status_code == 200, uploaded.text
    body = chat_body(served_model, rag={"kb_ids": [kb_id], "top_k": 5})
    body["messages"] = [{"role": "user", "content": "茶歇费用是多少？"}]
    with _client(gateway, tokens, STAFF) as client:
        answered = client.post("/v1/chat/completions", json=body)
    assert answered.status_code == 200, answered.text
    prompt = stub.stats()["last_chat_request"]["messages"][-1]["content"]
    assert "三十五元" in prompt and "***" in prompt
    assert "禁止短语" not in prompt and "遮盖词" not in prompt
    cited = [c["document_name"] for c in answered.json()["citations"]]
    assert cited == ["b.md"]
