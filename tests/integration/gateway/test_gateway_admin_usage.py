"""The sysadmin's usage report: per-user and per-department tokens, recent error rate,
and never a word of what anyone asked."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from tests.support.audit import find_audit_event

if TYPE_CHECKING:
    from tests.support.tokens import Tokens

SECRET_QUESTION = "机密问题-USAGE-REPORT-7731: What is two plus two?"


def test_sysadmin_sees_usage_per_user_and_department_without_contents(
    gateway: httpx.Client, gateway_url: str, tokens: Tokens, served_model: str
) -> None:
    chat = gateway.post(
        "/v1/chat/completions",
        headers=tokens.headers("zhang.wei"),
        json={
            "model": served_model,
            "messages": [{"role": "user", "content": SECRET_QUESTION}],
            "max_tokens": 4,
        },
    )
    assert chat.status_code == 200
    # The end event (with the token counts) is group-committed just after the response.
    find_audit_event(
        gateway_url, tokens, request_id=chat.headers["x-request-id"], event_type="chat.end"
    )
    report = gateway.get("/api/admin/usage", headers=tokens.headers("chen.jie"))
    assert report.status_code == 200
    body = report.json()
    user = next(u for u in body["users"] if u["username"] == "zhang.wei")
    assert user["departments"] == ["/dept/finance"]
    assert user["tokens_today"] > 0
    assert user["remaining_today"] == max(0, body["daily_token_quota"] - user["tokens_today"])
    finance = next(d for d in body["departments"] if d["department"] == "/dept/finance")
    assert finance["tokens_today"] >= user["tokens_today"]
    assert body["recent"]["requests"] >= 1
    assert 0.0 <= body["recent"]["error_rate"] <= 1.0
    assert "USAGE-REPORT-7731" not in report.text


def test_only_sysadmins_get_the_usage_report(gateway: httpx.Client, tokens: Tokens) -> None:
    for user in ("zhang.wei", "liu.yang", "zhao.min"):
        response = gateway.get("/api/admin/usage", headers=tokens.headers(user))
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "missing_role"
