"""Personal information in a chat's prompt: masked as its kind before the model sees it for
a caller whose roles ask for it (the default), passed on for a role the settings allow, and
recorded in ``chat.begin`` as kinds and counts, never the values.

One gateway (this tree's code) on its own scratch database of the runtime's cluster, with the
real Keycloak and a stub backend that keeps the last request it was sent; ``kb-editor`` is
the role allowed the numbers here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.support.gateways import Gateway, chat_body
from tests.support.postgres import scratch as scratch_db
from tests.support.postgres.databases import ScratchDb
from tests.support.stubs import Stub
from tests.support.tokens import Tokens

STAFF, EDITOR = "zhang.wei", "li.na"  # staff; staff and kb-editor
ID, MOBILE = "11010519491231002X", "13812345678"
PROMPT = f"客户手机{MOBILE}，身份证{ID}，请核对。"


@pytest.fixture(scope="module")
def scratch(services: dict[str, Any]) -> Iterator[ScratchDb]:
    with scratch_db.temporary(services, "gw_pii") as db:
        yield db


@pytest.fixture(scope="module")
def gateway(services: dict[str, Any], scratch: ScratchDb, stub: Stub) -> Iterator[Gateway]:
    started = Gateway(
        {
            "APPLIANCE_DATABASE_URL": scratch.gateway_url,
            "APPLIANCE_KEYCLOAK__ISSUER": services["keycloak"]["issuer"],
            "APPLIANCE_BACKENDS": stub.url,
            "APPLIANCE_CONTENT__PII_CHAT_ROLES": orjson.dumps({"kb-editor": "allow"}).decode(),
        }
    )
    yield started
    started.stop()


def _chat(gateway: Gateway, tokens: Tokens, user: str, model: str) -> httpx.Response:
    body = chat_body(model)
    body["messages"] = [{"role": "user", "content": PROMPT}]
    with httpx.Client(base_url=gateway.url, headers=tokens.headers(user), timeout=120) as client:
        return client.post("/v1/chat/completions", json=body)


def _begin(db: ScratchDb, request_id: str) -> dict[str, Any]:
    """The request's ``chat.begin`` detail, once it is in."""
    deadline = time.monotonic() + 10
    while True:
        with db.superuser() as conn:
            row = conn.execute(
                "SELECT detail FROM audit_events WHERE request_id = %s"
                " AND event_type = 'chat.begin'",
                (request_id,),
            ).fetchone()
        if row is not None:
            return dict(row[0])
        assert time.monotonic() < deadline, "no chat.begin row"
        time.sleep(0.1)


def test_a_staff_prompt_reaches_the_model_masked_and_the_masks_are_audited(
    gateway: Gateway, tokens: Tokens, stub: Stub, scratch: ScratchDb, served_model: str
) -> None:
    answered = _chat(gateway, tokens, STAFF, served_model)
    assert answered.status_code == 200, answered.text
    sent = stub.stats()["last_chat_request"]["messages"][0]["content"]
    assert sent == "客户手机[手机号]，身份证[身份证号]，请核对。"
    detail = _begin(scratch, answered.headers["x-request-id"])
    assert detail["pii_masked"] == {"mobile": 1, "resident_id": 1}
    assert MOBILE not in orjson.dumps(detail).decode()


def test_a_role_the_settings_allow_sends_the_numbers_unmasked(
    gateway: Gateway, tokens: Tokens, stub: Stub, scratch: ScratchDb, served_model: str
) -> None:
    answered = _chat(gateway, tokens, EDITOR, served_model)
    assert answered.status_code == 200, answered.text
    assert stub.stats()["last_chat_request"]["messages"][0]["content"] == PROMPT
    assert "pii_masked" not in _begin(scratch, answered.headers["x-request-id"])
