"""Complaints about answers through the gateway (``/api/complaints``), against the real
PostgreSQL and Keycloak tokens of the demo users.

A gateway of the working tree runs on its own scratch database (migrated to head, so the
complaints table is there whatever the shared database's revision), where the test may also
revoke the gateway role's INSERT on the audit table. zhang.wei flags an answer of his own
conversation and follows its state; zhao.min (secadmin) reads the queue and closes it; the
sysadmin, the auditor and other staff are refused; the auditor reads every step in the audit
log; and while the audit store refuses writes, filing and closing answer 503 and change no
row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.audit import request_events
from tests.support.gateways import Gateway
from tests.support.postgres import scratch as scratch_db
from tests.support.postgres.databases import ScratchDb
from tests.support.scratch_gateway import scratch_gateway_fixtures

if TYPE_CHECKING:
    from tests.support.tokens import Tokens

OWNER, OTHER = "zhang.wei", "wang.fang"
SECADMIN, SYSADMIN, AUDITOR = "zhao.min", "chen.jie", "liu.yang"
COMPLAINTS = "/api/complaints"
QUESTION, ANSWER = "差旅住宿标准是多少？", "每晚住宿上限为 6500 元。"


scratch, gateway = scratch_gateway_fixtures("gw_complaints")


def _call(
    gateway: Gateway, tokens: Tokens, user: str, method: str, path: str = "", body: Any = None
) -> httpx.Response:
    return httpx.request(
        method,
        gateway.url + path,
        json=body,
        headers=tokens.headers(user),
        timeout=60,
    )


@pytest.fixture(scope="module")
def conversation(gateway: Gateway, tokens: Tokens) -> str:
    """zhang.wei's conversation: the question at position 1, the answer at 2."""
    made = _call(gateway, tokens, OWNER, "POST", "/api/conversations", {"title": "差旅"})
    assert made.status_code == 201, made.text
    cid = str(made.json()["id"])
    for role, content in (("user", QUESTION), ("assistant", ANSWER)):
        added = _call(
            gateway,
            tokens,
            OWNER,
            "POST",
            f"/api/conversations/{cid}/messages",
            {"role": role, "content": content},
        )
        assert added.status_code == 201, added.text
    return cid


def _flag(cid: str, position: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "conversation_id": cid,
        "position": position,
        "category": "false_information",
        "reason": "上限应为 650 元",
        **extra,
    }


def _audited(
    gateway: Gateway, tokens: Tokens, response: httpx.Response, action: str, outcome: str = "ok"
) -> dict[str, Any]:
    """The change's intent (committed first) and outcome, read back by the auditor; the
    outcome row is returned."""
    rows = request_events(
        gateway.url,
        tokens,
        response.headers["x-request-id"],
        query={"event_type": "complaint.action"},
        until=lambda found: len(found) >= 2,
    )
    rows.sort(key=lambda e: int(e["seq"]))
    assert [(r["outcome"], r["detail"]["phase"]) for r in rows] == [
        ("pending", "begin"),
        (outcome, "end"),
    ], rows
    assert {r["detail"]["action"] for r in rows} == {action}
    assert rows[1]["http_status"] == response.status_code
    return rows[1]


def _complaint_rows(db: ScratchDb) -> list[tuple[Any, ...]]:
    with db.superuser() as conn:
        return [tuple(r) for r in conn.execute("SELECT * FROM complaints ORDER BY id").fetchall()]


def test_a_user_files_the_secadmin_closes_and_the_auditor_reads_each_step(
    gateway: Gateway, tokens: Tokens, conversation: str
) -> None:
    filed = _call(gateway, tokens, OWNER, "POST", COMPLAINTS, _flag(conversation))
    assert filed.status_code == 201, filed.text
    complaint = filed.json()
    assert complaint["state"] == "open"
    assert (complaint["question"], complaint["answer"]) == (QUESTION, ANSWER)
    assert complaint["reporter"] == OWNER
    row = _audited(gateway, tokens, filed, "complaint.file")
    assert row["actor_username"] == OWNER
    assert row["detail"]["complaint_id"] == complaint["id"]
    assert row["detail"]["category"] == "false_information"
    assert row["detail"]["reason"] == "上限应为 650 元"

    mine = _call(gateway, tokens, OWNER, "GET", f"{COMPLAINTS}/mine")
    assert mine.status_code == 200, mine.text
    assert [(c["id"], c["state"]) for c in mine.json()][:1] == [(complaint["id"], "open")]

    queue = _call(gateway, tokens, SECADMIN, "GET", f"{COMPLAINTS}?state=open&limit=200")
    assert queue.status_code == 200, queue.text
    assert complaint["id"] in [c["id"] for c in queue.json()["complaints"]]
    read = request_events(
        gateway.url,
        tokens,
        queue.headers["x-request-id"],
        query={"event_type": "complaint.action"},
        until=bool,
    )
    assert [(r["outcome"], r["actor_username"], r["detail"]["action"]) for r in read] == [
        ("ok", SECADMIN, "complaint.list")
    ]
    assert read[0]["detail"]["state"] == "open"

    closed = _call(
        gateway,
        tokens,
        SECADMIN,
        "POST",
        f"{COMPLAINTS}/{complaint['id']}/transition",
        {"state": "handled", "note": "已更正知识库中的住宿标准"},
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "handled"
    assert closed.json()["handler"] == SECADMIN
    assert closed.json()["handled_at"]
    row = _audited(gateway, tokens, closed, "complaint.transition")
    assert row["actor_username"] == SECADMIN
    assert row["detail"]["complaint_id"] == complaint["id"]
    assert row["detail"]["state"] == "handled"
    assert row["detail"]["note"] == "已更正知识库中的住宿标准"
    assert row["detail"]["reporter"] == OWNER

    again = _call(
        gateway,
        tokens,
        SECADMIN,
        "POST",
        f"{COMPLAINTS}/{complaint['id']}/transition",
        {"state": "dismissed", "note": "second"},
    )
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "complaint_closed"
    _audited(gateway, tokens, again, "complaint.transition", outcome="denied")

    mine_after = {
        c["id"]: c for c in _call(gateway, tokens, OWNER, "GET", "/api/complaints/mine").json()
    }
    assert mine_after[complaint["id"]]["state"] == "handled"
    assert mine_after[complaint["id"]]["note"] == "已更正知识库中的住宿标准"
    still_open = _call(gateway, tokens, SECADMIN, "GET", f"{COMPLAINTS}?state=open&limit=200")
    assert complaint["id"] not in [c["id"] for c in still_open.json()["complaints"]]


def test_the_queue_pages_and_filters_by_state(
    gateway: Gateway, tokens: Tokens, conversation: str
) -> None:
    ids = []
    for category in ("illegal", "personal_information", "other"):
        filed = _call(
            gateway, tokens, OWNER, "POST", COMPLAINTS, _flag(conversation, category=category)
        )
        assert filed.status_code == 201, filed.text
        ids.append(filed.json()["id"])
    everything = _call(gateway, tokens, SECADMIN, "GET", f"{COMPLAINTS}?limit=200").json()
    total = everything["total"]
    assert total >= 3
    assert [c["id"] for c in everything["complaints"]] == sorted(
        c["id"] for c in everything["complaints"]
    )
    page = _call(gateway, tokens, SECADMIN, "GET", f"{COMPLAINTS}?offset=1&limit=2").json()
    assert (page["total"], page["offset"], page["limit"]) == (total, 1, 2)
    assert [c["id"] for c in page["complaints"]] == [c["id"] for c in everything["complaints"][1:3]]
    dismissed = _call(
        gateway,
        tokens,
        SECADMIN,
        "POST",
        f"{COMPLAINTS}/{ids[0]}/transition",
        {"state": "dismissed", "note": "不属实"},
    )
    assert dismissed.status_code == 200, dismissed.text
    only = _call(gateway, tokens, SECADMIN, "GET", f"{COMPLAINTS}?state=dismissed").json()
    assert ids[0] in [c["id"] for c in only["complaints"]]
    assert {c["state"] for c in only["complaints"]} == {"dismissed"}
    bad = _call(gateway, tokens, SECADMIN, "GET", f"{COMPLAINTS}?state=reopened")
    assert bad.status_code == 422, bad.text


def test_another_users_message_a_question_and_a_missing_one_are_refused(
    gateway: Gateway, tokens: Tokens, conversation: str, scratch: ScratchDb
) -> None:
    before = _complaint_rows(scratch)
    other = _call(gateway, tokens, OTHER, "POST", COMPLAINTS, _flag(conversation))
    assert other.status_code == 404, other.text
    assert other.json()["error"]["code"] == "message_not_found"
    _audited(gateway, tokens, other, "complaint.file", outcome="denied")
    question = _call(gateway, tokens, OWNER, "POST", COMPLAINTS, _flag(conversation, 1))
    assert question.status_code == 400, question.text
    assert question.json()["error"]["code"] == "not_an_answer"
    missing = _call(gateway, tokens, OWNER, "POST", COMPLAINTS, _flag(conversation, 99))
    assert missing.status_code == 404, missing.text
    unknown = _call(
        gateway, tokens, OWNER, "POST", COMPLAINTS, _flag(conversation, category="rumour")
    )
    assert unknown.status_code == 422, unknown.text
    blank = _call(
        gateway,
        tokens,
        SECADMIN,
        "POST",
        f"{COMPLAINTS}/1/transition",
        {"state": "handled", "note": "   "},
    )
    assert blank.status_code == 422, blank.text
    assert _complaint_rows(scratch) == before
    others = _call(gateway, tokens, OTHER, "GET", f"{COMPLAINTS}/mine")
    assert others.status_code == 200, others.text
    assert all(c["reporter"] == OTHER for c in others.json())


def test_only_the_secadmin_reads_the_queue_and_closes_complaints(
    gateway: Gateway, tokens: Tokens, conversation: str, scratch: ScratchDb
) -> None:
    filed = _call(gateway, tokens, OWNER, "POST", COMPLAINTS, _flag(conversation))
    assert filed.status_code == 201, filed.text
    path = f"{COMPLAINTS}/{filed.json()['id']}/transition"
    before = _complaint_rows(scratch)
    for user in (OWNER, SYSADMIN, AUDITOR):
        listed = _call(gateway, tokens, user, "GET", COMPLAINTS)
        assert listed.status_code == 403, (user, listed.text)
        closed = _call(gateway, tokens, user, "POST", path, {"state": "handled", "note": "x"})
        assert closed.status_code == 403, (user, closed.text)
        assert closed.json()["error"]["code"] == "missing_role"
    # The secadmin handles complaints and does not chat, so files none.
    own = _call(gateway, tokens, SECADMIN, "POST", COMPLAINTS, _flag(conversation))
    assert own.status_code == 403, own.text
    assert _complaint_rows(scratch) == before


def test_audit_store_down_refuses_filing_and_closing_and_changes_no_row(
    gateway: Gateway, tokens: Tokens, conversation: str, scratch: ScratchDb
) -> None:
    filed = _call(gateway, tokens, OWNER, "POST", COMPLAINTS, _flag(conversation))
    assert filed.status_code == 201, filed.text
    path = f"{COMPLAINTS}/{filed.json()['id']}/transition"
    before = _complaint_rows(scratch)
    with scratch_db.audit_refused(scratch):
        refused = [
            _call(gateway, tokens, OWNER, "POST", COMPLAINTS, _flag(conversation)),
            _call(gateway, tokens, SECADMIN, "POST", path, {"state": "handled", "note": "x"}),
        ]
    for answer in refused:
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "audit_unavailable"
    assert _complaint_rows(scratch) == before
