"""Personal information in a chat's prompt: masked as its kind before the model sees it for
a caller whose roles ask for it (the default), passed on for a role the settings allow, and
recorded in ``chat.begin`` as kinds and counts, never the values. And in the documents of a
knowledge base, by its policy: rejected with the kinds named and nothing stored, or masked
in the chunks.

One gateway (this tree's code) on its own scratch database of the runtime's cluster, with the
real Keycloak and a stub backend that keeps the last request it was sent; ``kb-editor`` is
the role allowed the numbers here.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tests.support.gateways import Gateway, chat_body
from tests.support.kb import md_file
from tests.support.postgres.databases import ScratchDb
from tests.support.scratch_gateway import chat_begin_detail, scratch_gateway_fixtures
from tests.support.stubs import Stub
from tests.support.tokens import Tokens

STAFF, EDITOR = "zhang.wei", "li.na"  # staff; staff and kb-editor
ID, MOBILE = "11010519491231002X", "13812345678"
PROMPT = f"客户手机{MOBILE}，身份证{ID}，请核对。"


scratch, gateway = scratch_gateway_fixtures(
    "gw_pii", {"APPLIANCE_CONTENT__PII_CHAT_ROLES": orjson.dumps({"kb-editor": "allow"}).decode()}
)


def _chat(gateway: Gateway, tokens: Tokens, user: str, model: str) -> httpx.Response:
    body = chat_body(model)
    body["messages"] = [{"role": "user", "content": PROMPT}]
    with httpx.Client(base_url=gateway.url, headers=tokens.headers(user), timeout=120) as client:
        return client.post("/v1/chat/completions", json=body)


def test_a_staff_prompt_reaches_the_model_masked_and_the_masks_are_audited(
    gateway: Gateway, tokens: Tokens, stub: Stub, scratch: ScratchDb, served_model: str
) -> None:
    answered = _chat(gateway, tokens, STAFF, served_model)
    assert answered.status_code == 200, answered.text
    sent = stub.stats()["last_chat_request"]["messages"][0]["content"]
    assert sent == "客户手机[手机号]，身份证[身份证号]，请核对。"
    detail = chat_begin_detail(scratch, answered.headers["x-request-id"])
    assert detail["pii_masked"] == {"mobile": 1, "resident_id": 1}
    assert MOBILE not in orjson.dumps(detail).decode()


def test_a_role_the_settings_allow_sends_the_numbers_unmasked(
    gateway: Gateway, tokens: Tokens, stub: Stub, scratch: ScratchDb, served_model: str
) -> None:
    answered = _chat(gateway, tokens, EDITOR, served_model)
    assert answered.status_code == 200, answered.text
    assert stub.stats()["last_chat_request"]["messages"][0]["content"] == PROMPT
    assert "pii_masked" not in chat_begin_detail(scratch, answered.headers["x-request-id"])


DOCUMENT = f"# 客户档案\n\n客户张三，身份证号{ID}，联系电话{MOBILE}，已核实。"


def _kb(client: httpx.Client, name: str) -> str:
    created = client.post("/api/kb", json={"name": name, "group": "/dept/finance"})
    assert created.status_code == 201, created.text
    assert created.json()["pii_policy"] == "allow"
    return str(created.json()["id"])


def _rows(db: ScratchDb, query: str, *params: object) -> list[tuple[Any, ...]]:
    with db.superuser() as conn:
        return list(conn.execute(query, params).fetchall())


def test_a_knowledge_base_that_rejects_refuses_the_document_naming_the_kinds(
    gateway: Gateway, tokens: Tokens, scratch: ScratchDb
) -> None:
    with httpx.Client(base_url=gateway.url, headers=tokens.headers(EDITOR), timeout=120) as c:
        kb_id = _kb(c, "pii-reject")
        staff = tokens.headers(STAFF)
        refused = c.put(f"/api/kb/{kb_id}/pii-policy", json={"policy": "reject"}, headers=staff)
        assert refused.status_code in (403, 404), refused.text  # a reader may not set it
        changed = c.put(f"/api/kb/{kb_id}/pii-policy", json={"policy": "reject"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["pii_policy"] == "reject"
        uploaded = c.post(
            f"/api/kb/{kb_id}/documents",
            files=[
                md_file("clean.md", "# 制度\n\n差旅住宿每晚不超过六百元。"),
                md_file("a.md", DOCUMENT),
            ],
        )
    assert uploaded.status_code == 422, uploaded.text
    error = uploaded.json()["error"]
    assert error["code"] == "personal_information"
    assert "a.md" in error["message"] and "resident_id (1)" in error["message"]
    assert "mobile (1)" in error["message"] and MOBILE not in error["message"]
    assert _rows(scratch, "SELECT count(*) FROM documents WHERE kb_id = %s", kb_id) == [(0,)]
    phases = _rows(
        scratch,
        "SELECT outcome, detail->>'phase', detail->>'action', detail->>'pii_policy'"
        " FROM audit_events WHERE detail->>'kb_id' = %s AND event_type = 'kb.action'"
        " ORDER BY seq",
        kb_id,
    )
    assert ("pending", "begin", "kb.pii_policy", "reject") in phases
    assert ("ok", "end", "kb.pii_policy", "reject") in phases


def test_a_knowledge_base_that_masks_stores_chunks_without_the_numbers(
    gateway: Gateway, tokens: Tokens, scratch: ScratchDb
) -> None:
    with httpx.Client(base_url=gateway.url, headers=tokens.headers(EDITOR), timeout=120) as c:
        kb_id = _kb(c, "pii-mask")
        assert c.put(f"/api/kb/{kb_id}/pii-policy", json={"policy": "mask"}).status_code == 200
        uploaded = c.post(f"/api/kb/{kb_id}/documents", files=[md_file("a.md", DOCUMENT)])
    assert uploaded.status_code == 200, uploaded.text
    result = uploaded.json()["documents"][0]
    assert result["status"] == "ready", result
    assert result["pii_masked"] == {"mobile": 1, "resident_id": 1}
    chunks = _rows(scratch, "SELECT text, lexical::text FROM chunks WHERE kb_id = %s", kb_id)
    assert chunks, "no chunks stored"
    for text, lexical in chunks:
        assert ID not in text and ID[:17] not in lexical and MOBILE not in text + lexical
    assert any("[身份证号]" in text and "[手机号]" in text for text, _ in chunks)


def test_a_passage_from_a_knowledge_base_that_allows_is_masked_for_a_masking_role(
    gateway: Gateway, tokens: Tokens, stub: Stub, scratch: ScratchDb, served_model: str
) -> None:
    with httpx.Client(base_url=gateway.url, headers=tokens.headers(EDITOR), timeout=120) as c:
        kb_id = _kb(c, "pii-allow")
        uploaded = c.post(f"/api/kb/{kb_id}/documents", files=[md_file("a.md", DOCUMENT)])
    assert uploaded.status_code == 200, uploaded.text
    assert _rows(
        scratch, "SELECT count(*) FROM chunks WHERE kb_id = %s AND text LIKE %s", kb_id, f"%{ID}%"
    ) == [(1,)]  # stored as it is
    body = chat_body(served_model, rag={"kb_ids": [kb_id], "top_k": 3})
    body["messages"] = [{"role": "user", "content": "张三的客户档案核实了吗？"}]
    with httpx.Client(base_url=gateway.url, headers=tokens.headers(STAFF), timeout=120) as c:
        answered = c.post("/v1/chat/completions", json=body)
    assert answered.status_code == 200, answered.text
    sent = stub.stats()["last_chat_request"]["messages"][-1]["content"]
    assert "[身份证号]" in sent and "[手机号]" in sent
    assert ID not in sent and MOBILE not in sent
    detail = chat_begin_detail(scratch, answered.headers["x-request-id"])
    assert detail["pii_masked_passages"] == {"mobile": 1, "resident_id": 1}
    assert "pii_masked" not in detail
