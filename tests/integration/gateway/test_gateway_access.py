"""Who may do what: authentication failures (401, audited) and role checks (403, audited)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support.audit import find_audit_event
from tests.support.gateways import chat_body

if TYPE_CHECKING:
    from tests.support.tokens import Tokens


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = "A" if signature[10] != "A" else "B"
    return f"{header}.{payload}.{signature[:10]}{flipped}{signature[11:]}"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer garbage", "Basic dXNlcjpwYXNz", "Bearer a.b.c"],
)
def test_missing_or_bad_tokens_are_401_with_www_authenticate(
    gateway: httpx.Client, served_model: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = gateway.post("/v1/chat/completions", json=chat_body(served_model), headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["type"] == "authentication_error"


def test_forged_signature_is_401_and_audited_without_the_token(
    gateway: httpx.Client, gateway_url: str, tokens: Tokens, served_model: str
) -> None:
    forged = _tampered(tokens("zhang.wei"))
    response = gateway.post(
        "/v1/chat/completions",
        json=chat_body(served_model),
        headers={"Authorization": f"Bearer {forged}"},
    )
    assert response.status_code == 401
    event = find_audit_event(
        gateway_url,
        tokens,
        request_id=response.headers["x-request-id"],
        event_type="auth.failure",
    )
    assert event["outcome"] == "unauthenticated"
    assert event["http_status"] == 401
    assert event["client_ip"] == "127.0.0.1"
    assert event["detail"]["reason"]
    assert forged.split(".")[2] not in str(event)


@pytest.mark.parametrize("username", ["sun.li", "chen.jie", "liu.yang", "zhao.min"])
def test_only_staff_may_chat(
    gateway: httpx.Client, gateway_url: str, tokens: Tokens, served_model: str, username: str
) -> None:
    response = gateway.post(
        "/v1/chat/completions", json=chat_body(served_model), headers=tokens.headers(username)
    )
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["type"] == "permission_error"
    assert "'staff' role is required" in error["message"]
    event = find_audit_event(
        gateway_url,
        tokens,
        request_id=response.headers["x-request-id"],
        event_type="access.denied",
    )
    assert event["actor_username"] == username
    assert event["detail"]["required_role"] == "staff"


@pytest.mark.parametrize("username", ["zhang.wei", "chen.jie", "zhao.min"])
def test_only_auditors_read_the_audit_log(
    gateway: httpx.Client, tokens: Tokens, username: str
) -> None:
    headers = tokens.headers(username)
    assert gateway.get("/api/audit/events", headers=headers).status_code == 403
    assert gateway.get("/api/audit/export", headers=headers).status_code == 403
    assert gateway.post("/api/audit/verify", headers=headers).status_code == 403


def test_only_sysadmins_see_backends_and_metrics(
    gateway: httpx.Client, tokens: Tokens, endpoints: dict[str, object]
) -> None:
    for username in ("zhang.wei", "liu.yang", "zhao.min"):
        headers = tokens.headers(username)
        assert gateway.get("/api/admin/backends", headers=headers).status_code == 403
        assert gateway.get("/metrics", headers=headers).status_code == 403
    assert gateway.get("/metrics").status_code == 401
    admin = tokens.headers("chen.jie")
    listing = gateway.get("/api/admin/backends", headers=admin).json()
    assert [b["url"] for b in listing["backends"]] == endpoints["backends"]
    assert all(b["healthy"] for b in listing["backends"])
    # vLLM's own queue and running counts, read from its metrics by the health check.
    assert all(isinstance(b["queued"], int) for b in listing["backends"])
    assert all(isinstance(b["running"], int) for b in listing["backends"])
    metrics = gateway.get("/metrics", headers=admin)
    assert metrics.status_code == 200
    assert "appliance_http_requests_total" in metrics.text
    assert "appliance_backend_healthy" in metrics.text
    assert "appliance_audit_queue_depth" in metrics.text


def test_health_checks_are_public(gateway: httpx.Client) -> None:
    assert gateway.get("/healthz").json() == {"status": "ok"}
    ready = gateway.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] is True


def test_me_shows_identity_and_limits(gateway: httpx.Client, tokens: Tokens) -> None:
    me = gateway.get("/api/me", headers=tokens.headers("li.na")).json()
    assert me["username"] == "li.na"
    assert {"staff", "kb-editor"} <= set(me["roles"])
    assert me["departments"] == ["/dept/finance"]
    assert 0 <= me["remaining_daily_tokens"] <= me["daily_token_quota"]
    assert me["concurrency_limit"] >= 1
