"""The API keys tab: each key's row says its state (valid, expired, revoked) and limits (its
knowledge bases by name) in the user's language and never holds the key; the form sends what
the gateway takes, a knowledge-base scope picked from those the user may read included, and
names a malformed address itself; the new key reaches only its one-time box, which empties
when hidden; revoking asks first and sends nothing until confirmed; refusals are localised;
the page shows the tab in both languages."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import gradio as gr
import httpx
import pytest

from webui import api_keys as api_keys_module
from webui import ui_keys as ui_keys_module
from webui.api_keys import FormError, parse_form, refusal_message, revocable, row
from webui.gateway_client import GatewayClient, GatewayError
from webui.i18n import Lang, t
from webui.services import Services
from webui.sessions import Identity, Session
from webui.ui import build_ui
from webui.ui_keys import KeysTab

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
AUDITOR = Identity("sub-liu", "liu.yang", frozenset({"auditor"}), ("/dept/audit",))
REQUEST = cast(gr.Request, SimpleNamespace(cookies={}))
SECRET = "sk-appl-" + "s" * 43
KB_HR = "11111111-1111-1111-1111-111111111111"
KB_IT = "22222222-2222-2222-2222-222222222222"
KB_GONE = "33333333-3333-3333-3333-333333333333"
READABLE = [{"id": KB_HR, "name": "人事制度"}, {"id": KB_IT, "name": "IT 手册"}]
NAMES = {KB_HR: "人事制度", KB_IT: "IT 手册"}


def _key(name: str, **changes: Any) -> dict[str, Any]:
    key: dict[str, Any] = {
        "id": f"00000000-0000-0000-0000-00000000000{len(name)}",
        "name": name,
        "prefix": "sk-appl-abcdefgh",
        "created_at": "2026-12-01T08:30:15+00:00",
        "expires_at": (NOW + timedelta(days=30)).isoformat(),
        "revoked_at": None,
        "last_used_at": None,
        "models": None,
        "allowed_cidrs": None,
        "kb_scope": None,
    }
    return {**key, **changes}


VALID = _key("cherry", models=["r1"], allowed_cidrs=["10.20.0.0/16"])
EXPIRED = _key("old-dify", expires_at="2026-12-01T00:00:00+00:00")
REVOKED = _key("leaked-ci", revoked_at="2026-12-05T00:00:00+00:00")


def test_rows_say_each_state_and_limit_in_the_users_language() -> None:
    assert [row(k, Lang.ZH, NOW)[2] for k in (VALID, EXPIRED, REVOKED)] == [
        "有效",
        "已过期",
        "已吊销",
    ]
    assert row(VALID, Lang.EN, NOW) == [
        "cherry",
        "sk-appl-abcdefgh…",
        "valid",
        "2026-12-01 08:30",
        "2027-01-06 12:00",
        "never",
        "r1",
        "10.20.0.0/16",
        "all",
    ]
    assert row(EXPIRED, Lang.ZH, NOW)[5:] == ["从未使用", "全部", "不限", "全部"]
    # Revocation wins over expiry.
    assert row({**REVOKED, "expires_at": EXPIRED["expires_at"]}, Lang.EN, NOW)[2] == "revoked"


def test_the_knowledge_base_scope_is_named_and_by_id_where_unreadable() -> None:
    scoped = _key("rag-bot", kb_scope=[KB_HR, KB_GONE])
    assert row(scoped, Lang.ZH, NOW, NAMES)[8] == f"人事制度, {KB_GONE}"
    assert row(scoped, Lang.EN, NOW)[8] == f"{KB_HR}, {KB_GONE}"
    assert t("key_col_kb_scope", Lang.ZH) == "可检索的知识库"


def test_only_keys_not_revoked_can_be_picked_for_revoking() -> None:
    choices = revocable([VALID, EXPIRED, REVOKED], Lang.EN, NOW)
    assert choices == [
        ("cherry (sk-appl-abcdefgh…)", VALID["id"]),
        ("old-dify (sk-appl-abcdefgh…) · expired", EXPIRED["id"]),
    ]


def test_the_form_sends_what_the_gateway_takes() -> None:
    form = parse_form("  Cherry Studio ", None, [], "\n10.20.0.0/16\n\n 192.168.1.5 \n")
    assert form.body() == {
        "name": "Cherry Studio",
        "expires_in_days": 90,
        "models": None,
        "allowed_cidrs": ["10.20.0.0/16", "192.168.1.5"],
        "kb_scope": None,
    }
    assert parse_form("ci", 30, ["r1"], "").body()["models"] == ["r1"]
    assert parse_form("ci", 30, ["r1"], None).body()["allowed_cidrs"] is None
    assert parse_form("ci", 30, [], "", [KB_HR]).body()["kb_scope"] == [KB_HR]
    assert parse_form("ci", 30, [], "", []).body()["kb_scope"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", 90, None, ""), "请填写密钥名称。"),
        (("x" * 101, 90, None, ""), "名称最多 100 个字符。"),
        (("ci", 0, None, ""), "有效天数须为正整数。"),
        (("ci", 2.5, None, ""), "有效天数须为正整数。"),
        (("ci", 90, None, "10.0.0.0/8\n10.0.0.999"), "「10.0.0.999」不是有效的 IP 地址或网段。"),
        (("ci", 90, None, "", [KB_HR] * 51), "模型、来源地址和知识库各最多 50 项。"),
    ],
)
def test_a_wrong_form_is_named_before_the_gateway_is_asked(
    args: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(FormError) as wrong:
        parse_form(*args)
    assert t(wrong.value.key, Lang.ZH, **wrong.value.values) == message


def test_refusals_are_localised_by_code_and_fall_back_to_the_gateways_words() -> None:
    refused = GatewayError(400, "Invalid value for 'expires_in_days'", code="invalid_expiry")
    assert "有效天数超出管理员允许的范围" in refusal_message(refused, Lang.ZH)
    disabled = GatewayError(503, "API keys are disabled.", code="api_keys_disabled")
    assert refusal_message(disabled, Lang.EN) == t("key_err_api_keys_disabled", Lang.EN)
    # Only staff may make keys under the default policy: an auditor is told so.
    creators = GatewayError(403, "The policy does not let you.", code="api_key_policy_creators")
    assert refusal_message(creators, Lang.ZH) == "安全管理员的密钥策略不允许您创建 API 密钥。"
    outside = GatewayError(403, "This API key may not ...", code="kb_not_in_key_scope")
    assert "不在密钥限定的知识库范围内" in refusal_message(outside, Lang.ZH)
    assert "outside the key's knowledge-base scope" in refusal_message(outside, Lang.EN)
    other = GatewayError(500, "Internal error.", code="internal_error")
    assert refusal_message(other, Lang.EN) == "The request failed: Internal error."


class FakeGateway:
    """The gateway's /api/keys, /v1/models and /api/kb behind a real GatewayClient."""

    def __init__(self, refusal: tuple[int, str] | None = None) -> None:
        self.keys: list[dict[str, Any]] = [dict(VALID)]
        self.calls: list[tuple[str, str, Any]] = []
        self.refusal = refusal

    def handle(self, request: httpx.Request) -> httpx.Response:
        body: dict[str, Any] = json.loads(request.content) if request.content else {}
        self.calls.append((request.method, request.url.path, body or None))
        assert request.headers["Authorization"] == "Bearer access-token"
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "r1"}, {"id": "qwen"}]})
        if request.url.path == "/api/kb":
            return httpx.Response(200, json=READABLE)
        if self.refusal is not None and request.method != "GET":
            status, code = self.refusal
            return httpx.Response(status, json={"error": {"message": code, "code": code}})
        if request.method == "POST":
            made = _key(
                body["name"], id="00000000-0000-0000-0000-0000000000aa", kb_scope=body["kb_scope"]
            )
            self.keys.insert(0, made)
            return httpx.Response(201, json={**made, "key": SECRET})
        if request.method == "DELETE":
            key_id = request.url.path.rsplit("/", 1)[1]
            found = next(k for k in self.keys if k["id"] == key_id)
            found["revoked_at"] = NOW.isoformat()
            return httpx.Response(200, json=found)
        return httpx.Response(200, json=self.keys)


class FakeServices:
    def __init__(self, gateway: FakeGateway) -> None:
        self.session = cast(Session, SimpleNamespace(identity=AUDITOR))
        http = httpx.AsyncClient(transport=httpx.MockTransport(gateway.handle))
        self.gateway = GatewayClient("http://gateway", http, chat_timeout_s=5)

    def require(self, request: gr.Request) -> Session:
        return self.session

    async def token(self, session: Session) -> str:
        return "access-token"


def _tab(gateway: FakeGateway, lang: Lang = Lang.ZH) -> tuple[KeysTab, FakeServices]:
    services = FakeServices(gateway)
    with gr.Blocks():
        return KeysTab(cast(Services, services), lang), services


async def test_the_page_loads_the_users_keys_and_the_scopes_to_limit_a_key_to() -> None:
    gateway = FakeGateway()
    tab, _ = _tab(gateway, Lang.EN)
    count, rows, picker, models, kbs = await tab.load(REQUEST)
    assert count == "1 keys, newest first"
    assert [r[0] for r in rows] == ["cherry"]
    assert picker.choices == [("cherry (sk-appl-abcdefgh…)", VALID["id"])]
    assert [value for _, value in models.choices] == ["r1", "qwen"]
    assert kbs.choices == [("人事制度", KB_HR), ("IT 手册", KB_IT)]


async def test_a_key_scoped_to_knowledge_bases_lists_them_by_name() -> None:
    gateway = FakeGateway()
    tab, _ = _tab(gateway, Lang.EN)
    out = await tab._create("RAG bot", 30, [], "", [KB_IT], REQUEST)
    assert gateway.calls[0][2]["kb_scope"] == [KB_IT]
    rows = out[6]
    assert rows[0][0] == "RAG bot" and rows[0][8] == "IT 手册"
    assert rows[1][0] == "cherry" and rows[1][8] == "all"
    # An unscoped listing does not ask for the knowledge bases.
    gateway.calls.clear()
    gateway.keys = [dict(VALID)]
    await tab._list(REQUEST)
    assert [path for _, path, _ in gateway.calls] == ["/api/keys"]


async def test_a_new_key_is_shown_once_in_its_box_and_nowhere_else() -> None:
    gateway = FakeGateway()
    tab, services = _tab(gateway)
    out = await tab._create("CI", 30, ["r1"], "10.20.0.0/16", None, REQUEST)
    assert gateway.calls[0] == (
        "POST",
        "/api/keys",
        {
            "name": "CI",
            "expires_in_days": 30,
            "models": ["r1"],
            "allowed_cidrs": ["10.20.0.0/16"],
            "kb_scope": None,
        },
    )
    box, said, secret, name, cidrs, count, rows, _picker = out
    assert box.visible is True and secret == SECRET
    assert said.startswith("已创建密钥「CI」") and (name, cidrs) == ("", "")
    assert count == "共 2 个密钥（最新的在前）"
    # The table and the session hold the prefix at most, never the key.
    assert SECRET not in repr(rows) and SECRET not in repr(vars(services.session))
    hidden, emptied = tab.forget()
    assert hidden.visible is False and emptied == ""


def test_the_server_never_writes_the_key_into_its_box() -> None:
    """Gradio keeps each output's last value per browser tab: the key goes out through a
    carrier that the browser copies into the box and the server then empties, so the
    server writes the box only to empty it (``forget``)."""
    services = FakeServices(FakeGateway())
    with gr.Blocks() as demo:
        tab = KeysTab(cast(Services, services), Lang.ZH)
    config = cast(dict[str, Any], demo.get_config_file())
    writes = [d for d in config["dependencies"] if tab.secret._id in d["outputs"]]
    assert [(d["backend_fn"], d["js"]) for d in writes] == [(False, "(key) => key"), (True, None)]
    carrier = writes[0]["inputs"][0]
    created, copied, emptied = (
        d for d in config["dependencies"] if carrier in d["outputs"] + d["inputs"]
    )
    assert created["backend_fn"] and carrier in created["outputs"]
    assert tab.secret._id not in created["outputs"]
    assert copied is writes[0]
    assert emptied["outputs"] == [carrier] and emptied["trigger_after"] == config[
        "dependencies"
    ].index(copied)


async def test_a_wrong_form_never_reaches_the_gateway() -> None:
    gateway = FakeGateway()
    tab, _ = _tab(gateway, Lang.EN)
    with pytest.raises(gr.Error, match="is not an address or network"):
        await tab._create("CI", 30, [], "10.0.0.999", None, REQUEST)
    assert gateway.calls == []


async def test_revoking_asks_first_and_revokes_only_the_confirmed_key() -> None:
    gateway = FakeGateway()
    tab, _ = _tab(gateway)
    box, question, pending = await tab._ask(VALID["id"], REQUEST)
    assert box.visible is True and pending == VALID["id"]
    assert "cherry (sk-appl-abcdefgh…)" in question and "无法恢复" in question
    assert [method for method, _, _ in gateway.calls] == ["GET"]
    out = await tab._revoke(pending, REQUEST)
    assert ("DELETE", f"/api/keys/{VALID['id']}", None) in gateway.calls
    assert out[0].visible is False and out[1] == "" and out[2] == "已吊销密钥「cherry」。"
    assert out[4][0][2] == "已吊销" and out[5].choices == []
    with pytest.raises(gr.Error, match=t("key_pick_first", Lang.ZH)):
        await tab._ask(None, REQUEST)


async def test_a_refusal_reads_in_the_users_language() -> None:
    tab, _ = _tab(FakeGateway(refusal=(503, "audit_unavailable")), Lang.EN)
    with pytest.raises(gr.Error, match="The audit log is unavailable, so nothing was changed"):
        await tab._create("CI", 30, [], "", None, REQUEST)
    tab, _ = _tab(FakeGateway(refusal=(403, "api_key_policy_creators")))
    with pytest.raises(gr.Error, match="密钥策略不允许您创建"):
        await tab._create("CI", 30, [], "", None, REQUEST)
    tab, _ = _tab(FakeGateway(refusal=(404, "api_key_not_found")))
    with pytest.raises(gr.Error, match="没有这个密钥"):
        await tab._revoke(VALID["id"], REQUEST)


def _tab_labels(demo: gr.Blocks) -> list[str]:
    config = cast(dict[str, Any], demo.get_config_file())
    return [
        str(c["props"].get("label"))
        for c in config["components"]
        if c.get("type") == "tabitem" and c["props"].get("elem_id") == "tab-keys"
    ]


def test_the_page_has_the_keys_tab_in_both_languages() -> None:
    services = cast(Services, FakeServices(FakeGateway()))
    assert _tab_labels(build_ui(services, Lang.ZH)) == ["密钥"]
    assert _tab_labels(build_ui(services, Lang.EN)) == ["API keys"]


def test_the_keys_tab_calls_the_gateway_through_its_public_methods() -> None:
    for module in (api_keys_module, ui_keys_module):
        assert "gateway._" not in inspect.getsource(module)
