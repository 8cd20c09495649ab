"""The account commands' edge: where the gateway and the token come from, how a refusal and
an import's results are printed (the gateway itself is faked with httpx's MockTransport)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from appliance.cli import accounts_cmds, gateway_session
from appliance.cli.gateway_session import Gateway, GatewayError
from appliance.cli.main import app


def _fake(handler: Any) -> Gateway:
    return Gateway(httpx.Client(base_url="http://gw", transport=httpx.MockTransport(handler)))


def test_gateway_and_token_come_from_option_then_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APPLIANCE_GATEWAY_URL", "https://ai.example.cn/")
    assert gateway_session.gateway_url(None) == "https://ai.example.cn"
    assert gateway_session.gateway_url("http://other:8080") == "http://other:8080"
    monkeypatch.setenv("APPLIANCE_ISSUER", "https://ai.example.cn/auth/realms/appliance")
    assert gateway_session.issuer_url(None, "x").endswith("/auth/realms/appliance")
    monkeypatch.setenv("APPLIANCE_TOKEN", "tok")

    def never(_: str) -> str:
        raise AssertionError("asked for a password although APPLIANCE_TOKEN is set")

    assert gateway_session.access_token("https://kc", None, ask=never, ask_secret=never) == "tok"


def test_a_refusal_carries_the_gateways_code_and_rule() -> None:
    rule = "三员分立: granting or revoking sysadmin, secadmin or auditor needs the secadmin."

    def refuse(_: httpx.Request) -> httpx.Response:
        body = {
            "error": {"message": rule, "type": "permission_error", "code": "separation_of_duties"}
        }
        return httpx.Response(403, json=body)

    with pytest.raises(GatewayError) as refused:
        accounts_cmds.change_roles(_fake(refuse), "bob", grant=["auditor"])
    assert (refused.value.status, refused.value.code, refused.value.message) == (
        403,
        "separation_of_duties",
        rule,
    )


def test_import_sends_parsed_rows_and_prints_each_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hr = tmp_path / "hr.csv"
    hr.write_bytes("username,name\nzhang.san,张三\nBad Name,李四\n".encode("gb18030"))
    sent: list[Any] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        results = [
            {"row": 1, "username": "zhang.san", "ok": True, "password": "one-time-123456"},
            {"row": 2, "username": "Bad Name", "ok": False, "error": "invalid_row",
             "message": "username: String should match pattern"},
        ]  # fmt: skip
        return httpx.Response(200, json={"results": results})

    monkeypatch.setattr(accounts_cmds, "_session", _session_with(_fake(gateway)))
    result = CliRunner().invoke(app, ["users", "import", str(hr)], terminal_width=200)
    assert sent == [{"users": [{"username": "zhang.san", "name": "张三"},
                               {"username": "Bad Name", "name": "李四"}]}]  # fmt: skip
    assert result.exit_code == 1  # one row failed: a scheduled job notices
    assert "one-time-123456" in result.output and "invalid_row" in result.output
    assert "1 created, 1 failed" in result.output


def _session_with(gw: Gateway) -> Any:
    from contextlib import contextmanager  # noqa: PLC0415

    @contextmanager
    def session(*_: Any) -> Any:
        try:
            yield gw
        except GatewayError as exc:
            raise typer.Exit(1) from exc

    return session
