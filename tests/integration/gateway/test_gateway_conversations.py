"""Each user's saved conversations through the gateway (``/api/conversations``), against the
real PostgreSQL and Keycloak.

A gateway of the working tree (its own process) serves them; the web UI files its chats
here with each user's own token instead of holding database credentials. Every route is the
caller's own (wang.fang gets 404 on each of zhang.wei's ids, as on an id that does not
exist), every change leaves its intent and its outcome in the audit log, and a change whose
intent cannot be committed is refused with 503 and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.audit import request_events
from tests.support.gateways import Gateway, fragile_gateway
from tests.support.stubs import Stub

if TYPE_CHECKING:
    from tests.support.tokens import Tokens

OWNER, OTHER = "zhang.wei", "wang.fang"
CONVERSATIONS = "/api/conversations"
CITATION = {
    "index": 1,
    "document_id": str(uuid.uuid4()),
    "document_name": "travel-policy.md",
    "chunk_id": str(uuid.uuid4()),
    "page": 3,
    "section": "Hotels",
    "text": "Hotel stays are capped at 650 yuan a night.",
}


@pytest.fixture(scope="module")
def gateway(settings_env: dict[str, str], stub: Stub) -> Iterator[Gateway]:
    started = Gateway({**settings_env, "APPLIANCE_BACKENDS": stub.url})
    yield started
    started.stop()


class Api:
    """The conversation routes of one gateway as one user; what it creates is deleted after."""

    def __init__(self, gateway: Gateway, tokens: Tokens, user: str) -> None:
        self.url, self.tokens, self.user = gateway.url + CONVERSATIONS, tokens, user
        self.created: list[str] = []

    def call(self, method: str, path: str = "", body: Any = None) -> httpx.Response:
        return httpx.request(
            method,
            self.url + path,
            json=body,
            headers=self.tokens.headers(self.user),
            timeout=60,
        )

    def create(self, title: str) -> dict[str, Any]:
        made = self.call("POST", body={"title": title})
        assert made.status_code == 201, made.text
        self.created.append(made.json()["id"])
        return dict(made.json())

    def listing(self) -> list[dict[str, Any]]:
        listed = self.call("GET")
        assert listed.status_code == 200, listed.text
        return list(listed.json()["conversations"])

    def get(self, conversation_id: str) -> dict[str, Any]:
        found = self.call("GET", f"/{conversation_id}")
        assert found.status_code == 200, found.text
        return dict(found.json())

    def append(self, conversation_id: str, message: dict[str, Any]) -> httpx.Response:
        return self.call("POST", f"/{conversation_id}/messages", message)

    def clean_up(self) -> None:
        for conversation_id in self.created:
            self.call("DELETE", f"/{conversation_id}")


@pytest.fixture
def owner(gateway: Gateway, tokens: Tokens) -> Iterator[Api]:
    api = Api(gateway, tokens, OWNER)
    yield api
    api.clean_up()


def _audit_rows(gateway: Gateway, tokens: Tokens, response: httpx.Response) -> list[dict[str, Any]]:
    """The ``conversation.action`` events of the request that answered ``response``, read
    back as an auditor once both its intent and its outcome are there (the outcome is
    written after the answer, so poll)."""
    found = request_events(
        gateway.url,
        tokens,
        response.headers["x-request-id"],
        query={"event_type": "conversation.action"},
        until=lambda rows: len(rows) >= 2,
    )
    return sorted(found, key=lambda e: int(e["seq"]))


def _audited(
    gateway: Gateway,
    tokens: Tokens,
    response: httpx.Response,
    action: str,
    *,
    outcome: str = "ok",
    user: str = OWNER,
) -> dict[str, Any]:
    """Check the change's intent (committed first) and outcome; return the outcome row."""
    rows = _audit_rows(gateway, tokens, response)
    assert [(r["outcome"], r["detail"]["phase"]) for r in rows] == [
        ("pending", "begin"),
        (outcome, "end"),
    ], rows
    assert {r["detail"]["action"] for r in rows} == {action}
    assert {r["actor_username"] for r in rows} == {user}
    assert rows[1]["http_status"] == response.status_code
    return rows[1]


def test_create_list_get_rename_delete_each_audited(
    gateway: Gateway, tokens: Tokens, owner: Api
) -> None:
    made = owner.call("POST", body={"title": "  " + "住宿标准是多少？" * 10 + "  "})
    assert made.status_code == 201, made.text
    conversation = made.json()
    owner.created.append(conversation["id"])
    cid = conversation["id"]
    # The title is trimmed and cut to the sidebar's 60 characters.
    assert conversation["title"] == ("住宿标准是多少？" * 10)[:60]
    created = _audited(gateway, tokens, made, "conversation.create")
    assert created["detail"]["conversation_id"] == cid

    question = owner.append(cid, {"role": "user", "content": "住宿上限？"})
    answer = owner.append(
        cid,
        {
            "role": "assistant",
            "content": "650 元。",
            "reasoning": "用户问住宿上限。",
            "thought_seconds": 1.5,
            "citations": [CITATION],
        },
    )
    assert (question.status_code, answer.status_code) == (201, 201), answer.text
    assert (question.json()["position"], answer.json()["position"]) == (1, 2)
    appended = _audited(gateway, tokens, answer, "message.append")
    assert (
        appended["detail"] | {"conversation_id": cid, "role": "assistant", "position": 2}
        == (appended["detail"])
    )
    # The audit log names the message, never its text (the chat itself is audited).
    assert "650 元" not in str(appended) and "用户问住宿上限" not in str(appended)

    listed = owner.listing()
    assert listed[0]["id"] == cid
    opened = owner.get(cid)
    assert [(m["role"], m["content"]) for m in opened["messages"]] == [
        ("user", "住宿上限？"),
        ("assistant", "650 元。"),
    ]
    assert opened["messages"][1]["reasoning"] == "用户问住宿上限。"
    assert opened["messages"][1]["thought_seconds"] == 1.5
    assert opened["messages"][1]["citations"] == [CITATION]

    renamed = owner.call("PATCH", f"/{cid}", {"title": "Hotel cap"})
    assert renamed.status_code == 200 and renamed.json()["title"] == "Hotel cap"
    _audited(gateway, tokens, renamed, "conversation.rename")
    assert {c["id"]: c["title"] for c in owner.listing()}[cid] == "Hotel cap"

    dropped = owner.call("DELETE", f"/{cid}/last-answer")
    assert dropped.status_code == 204
    assert _audited(gateway, tokens, dropped, "message.drop_last_answer")["detail"]["dropped"]
    assert [m["role"] for m in owner.get(cid)["messages"]] == ["user"]

    deleted = owner.call("DELETE", f"/{cid}")
    assert deleted.status_code == 204
    _audited(gateway, tokens, deleted, "conversation.delete")
    assert owner.call("GET", f"/{cid}").status_code == 404
    assert cid not in {c["id"] for c in owner.listing()}


def test_another_user_gets_404_on_each_of_zhang_weis_ids(
    gateway: Gateway, tokens: Tokens, owner: Api
) -> None:
    cid = owner.create("Zhang's own")["id"]
    assert owner.append(cid, {"role": "user", "content": "Mine"}).status_code == 201
    assert owner.append(cid, {"role": "assistant", "content": "Yours"}).status_code == 201
    before = owner.get(cid)
    other = Api(gateway, tokens, OTHER)
    unknown = str(uuid.uuid4())

    attempts = [
        ("GET", "", None),
        ("PATCH", "", {"title": "Taken"}),
        ("POST", "/messages", {"role": "user", "content": "Injected"}),
        ("DELETE", "/last-answer", None),
        ("DELETE", "", None),
    ]
    for method, suffix, body in attempts:
        refused = other.call(method, f"/{cid}{suffix}", body)
        missing = other.call(method, f"/{unknown}{suffix}", body)
        # Another user's id reads exactly as one that does not exist: nothing to probe.
        assert refused.status_code == missing.status_code == 404, (method, suffix)
        assert refused.json() == missing.json()
        assert refused.json()["error"]["code"] == "conversation_not_found"
        if method != "GET":
            denied = _audited(
                gateway,
                tokens,
                refused,
                refused_action(method, suffix),
                outcome="denied",
                user=OTHER,
            )
            assert denied["detail"]["conversation_id"] == cid

    assert cid not in {c["id"] for c in other.listing()}
    assert owner.get(cid) == before


def refused_action(method: str, suffix: str) -> str:
    return {
        ("PATCH", ""): "conversation.rename",
        ("POST", "/messages"): "message.append",
        ("DELETE", "/last-answer"): "message.drop_last_answer",
        ("DELETE", ""): "conversation.delete",
    }[(method, suffix)]


def test_refuses_a_message_postgresql_cannot_store_and_an_id_that_is_no_uuid(
    owner: Api,
) -> None:
    cid = owner.create("Bodies")["id"]
    nul = owner.append(cid, {"role": "user", "content": "a\x00b"})
    assert nul.status_code == 422, nul.text
    role = owner.append(cid, {"role": "system", "content": "Obey"})
    assert role.status_code == 422
    assert owner.call("PATCH", f"/{cid}", {"title": "   "}).status_code == 422
    assert owner.call("GET", "/not-a-uuid").status_code == 404
    assert owner.get(cid)["messages"] == []


def test_audit_store_down_refuses_each_change_with_503_and_changes_nothing(
    settings_env: dict[str, str],
    stub: Stub,
    services: dict[str, Any],
    gateway: Gateway,
    tokens: Tokens,
    owner: Api,
) -> None:
    env = {**settings_env, "APPLIANCE_BACKENDS": stub.url}
    with fragile_gateway(env, services["database_url"]) as (fragile, proxy):
        through_fragile = Api(fragile, tokens, OWNER)
        cid = through_fragile.create("Before the outage")["id"]
        owner.created.append(cid)
        assert through_fragile.append(cid, {"role": "user", "content": "Q"}).status_code == 201
        assert through_fragile.append(cid, {"role": "assistant", "content": "A"}).status_code == 201
        before = owner.get(cid)
        listed_before = {c["id"] for c in owner.listing()}

        proxy.cut()
        changes = [
            ("POST", "", {"title": "During the outage"}),
            ("PATCH", f"/{cid}", {"title": "Renamed during the outage"}),
            ("POST", f"/{cid}/messages", {"role": "user", "content": "Lost?"}),
            ("DELETE", f"/{cid}/last-answer", None),
            ("DELETE", f"/{cid}", None),
        ]
        for method, path, body in changes:
            refused = through_fragile.call(method, path, body)
            assert refused.status_code == 503, (method, path, refused.text)
            assert refused.headers["Retry-After"]
            assert refused.json()["error"]["code"] == "audit_unavailable"

    # Read through the healthy gateway: nothing changed, nothing was added.
    assert owner.get(cid) == before
    assert {c["id"] for c in owner.listing()} == listed_before
