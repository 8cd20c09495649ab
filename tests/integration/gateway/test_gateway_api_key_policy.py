"""The security administrator's API key policy (``/api/content/api-key-policy``) and a
key's scopes, through one gateway of the working tree on its own scratch database, with the
real Keycloak and two stub backends serving a model each.

Only the secadmin reads or sets the policy; each change is a new revision, audited before it
is stored (nothing stored while the audit store refuses); key creation is refused with the
policy's codes, OpenAI-shaped; ``/v1/models`` with a model-scoped key lists its models
alone; a key with a knowledge-base scope retrieves from those knowledge bases alone (403
``kb_not_in_key_scope`` for another, in a chat and in a search).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.gateways import Gateway, chat_body
from tests.support.kb import EDITOR, md_file
from tests.support.keycloak_admin import accounts_client_secret
from tests.support.postgres import scratch as scratch_db
from tests.support.postgres.databases import ScratchDb
from tests.support.scratch_gateway import poll_rows, scratch_fixture
from tests.support.stubs import Stub

if TYPE_CHECKING:
    from tests.support.tokens import Tokens

SECADMIN, SYSADMIN, AUDITOR, STAFF = "zhao.min", "chen.jie", "liu.yang", "zhang.wei"
POLICY, KEYS = "/api/content/api-key-policy", "/api/keys"
OTHER_MODEL = "other-stub-model"
SITE_MAX_DAYS = 200

scratch = scratch_fixture("gw_api_key_policy")


@pytest.fixture(scope="module")
def other_stub() -> Iterator[Stub]:
    started = Stub(OTHER_MODEL)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def gateway(
    settings_env: dict[str, str], scratch: ScratchDb, stub: Stub, other_stub: Stub
) -> Iterator[Gateway]:
    started = Gateway(
        {
            **settings_env,
            "APPLIANCE_DATABASE_URL": scratch.gateway_url,
            "APPLIANCE_BACKENDS": f"{stub.url},{other_stub.url}",
            "APPLIANCE_KEYCLOAK__ACCOUNTS_CLIENT_SECRET": accounts_client_secret(),
            "APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE": "",
            "APPLIANCE_API_KEYS__PEPPER": "test-pepper-of-the-key-policy-module",
            "APPLIANCE_API_KEYS__MAX_DAYS": str(SITE_MAX_DAYS),
        }
    )
    yield started
    started.stop()


def _put(gateway: Gateway, tokens: Tokens, user: str, **body: Any) -> httpx.Response:
    return httpx.put(gateway.url + POLICY, json=body, headers=tokens.headers(user), timeout=30)


def _policy(gateway: Gateway, tokens: Tokens, **body: Any) -> dict[str, Any]:
    answer = _put(gateway, tokens, SECADMIN, **body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _create(gateway: Gateway, tokens: Tokens, user: str = STAFF, **body: Any) -> httpx.Response:
    return httpx.post(
        gateway.url + KEYS,
        json={"name": "policy", **body},
        headers=tokens.headers(user),
        timeout=30,
    )


def _refused(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and error["message"] and error["type"]


def test_only_the_secadmin_reads_or_sets_the_policy(gateway: Gateway, tokens: Tokens) -> None:
    for user in (SYSADMIN, AUDITOR, STAFF):
        _refused(httpx.get(gateway.url + POLICY, headers=tokens.headers(user)), 403, "missing_role")
        _refused(_put(gateway, tokens, user, max_days=1), 403, "missing_role")
    current = httpx.get(gateway.url + POLICY, headers=tokens.headers(SECADMIN), timeout=30)
    assert current.status_code == 200
    assert {k: current.json()[k] for k in ("creators", "max_days", "models", "service_keys")} == {
        "creators": "staff",
        "max_days": SITE_MAX_DAYS,
        "models": [],
        "service_keys": False,
    }
    assert current.json()["site_max_days"] == SITE_MAX_DAYS


def test_each_change_is_a_revision_audited_before_it_is_stored(
    gateway: Gateway, tokens: Tokens, scratch: ScratchDb
) -> None:
    before = httpx.get(gateway.url + POLICY, headers=tokens.headers(SECADMIN), timeout=30).json()
    after = _policy(
        gateway,
        tokens,
        creators=["staff"],
        max_days=60,
        service_keys=True,
        base_revision=before["revision"],
    )
    assert after["revision"] == before["revision"] + 1
    assert (after["creators"], after["service_keys"], after["changed_by"]) == (
        ["staff"],
        True,
        SECADMIN,
    )
    rows = poll_rows(
        scratch,
        "SELECT outcome, detail FROM audit_events WHERE event_type = 'apikey.action'"
        " AND detail->>'action' = 'apikey.policy' AND (detail->>'revision')::int = %s"
        " ORDER BY seq",
        (after["revision"],),
        lambda found: len(found) == 2,
        "the policy change's intent and outcome",
    )
    assert [outcome for outcome, _ in rows] == ["pending", "ok"]
    assert (
        rows[1][1]["after"]["max_days"] == 60
        and rows[1][1]["before"]["max_days"] == before["max_days"]
    )

    stale = _put(gateway, tokens, SECADMIN, max_days=10, base_revision=before["revision"])
    _refused(stale, 409, "api_key_policy_changed")
    _refused(_put(gateway, tokens, SECADMIN, max_days=SITE_MAX_DAYS + 1), 400, "invalid_value")
    unknown = _put(gateway, tokens, SECADMIN, creators=["root"], max_days=10)
    assert unknown.status_code == 422 and unknown.json()["error"]["type"]

    with scratch_db.audit_refused(scratch):
        down = _put(gateway, tokens, SECADMIN, max_days=5)
    _refused(down, 503, "audit_unavailable")
    with scratch.superuser() as conn:
        stored = conn.execute("SELECT max(revision), count(*) FROM api_key_policies").fetchone()
    assert stored == (after["revision"], after["revision"])


def test_key_creation_follows_the_policy(
    gateway: Gateway, tokens: Tokens, served_model: str
) -> None:
    _policy(gateway, tokens, creators=["kb-editor"], max_days=30)
    _refused(_create(gateway, tokens), 403, "api_key_policy_creators")
    made = _create(gateway, tokens, EDITOR)
    assert made.status_code == 201, made.text
    expires = datetime.fromisoformat(made.json()["expires_at"])
    assert expires <= datetime.now(UTC) + timedelta(days=30, minutes=1)
    _refused(_create(gateway, tokens, EDITOR, expires_in_days=31), 400, "api_key_policy_max_days")

    _policy(gateway, tokens, creators="nobody", max_days=30)
    _refused(_create(gateway, tokens, EDITOR), 403, "api_key_policy_creators")

    _policy(gateway, tokens, max_days=30, models=[served_model])
    _refused(_create(gateway, tokens), 400, "api_key_policy_models")
    _refused(_create(gateway, tokens, models=[OTHER_MODEL]), 400, "api_key_policy_models")
    assert _create(gateway, tokens, models=[served_model]).status_code == 201
    _policy(gateway, tokens, max_days=SITE_MAX_DAYS)


def test_v1_models_with_a_scoped_key_lists_its_models_alone(
    gateway: Gateway, tokens: Tokens, served_model: str
) -> None:
    _policy(gateway, tokens, max_days=SITE_MAX_DAYS)

    def listed(bearer: str) -> list[str]:
        answer = httpx.get(
            gateway.url + "/v1/models", headers={"Authorization": f"Bearer {bearer}"}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        return sorted(card["id"] for card in answer.json()["data"])

    scoped = _create(gateway, tokens, models=[served_model])
    unscoped = _create(gateway, tokens)
    assert scoped.status_code == unscoped.status_code == 201
    both = sorted([served_model, OTHER_MODEL])
    assert listed(tokens(STAFF)) == both
    assert listed(unscoped.json()["key"]) == both
    assert listed(scoped.json()["key"]) == [served_model]


def _kb_with(client: httpx.Client, name: str, text: str) -> str:
    created = client.post("/api/kb", json={"name": name, "group": "/dept/finance"})
    assert created.status_code == 201, created.text
    kb_id = str(created.json()["id"])
    uploaded = client.post(f"/api/kb/{kb_id}/documents", files=[md_file(f"{name}.md", text)])
    assert uploaded.status_code == 200, uploaded.text
    return kb_id


def test_a_key_retrieves_only_from_the_knowledge_bases_of_its_scope(
    gateway: Gateway, tokens: Tokens, stub: Stub, served_model: str
) -> None:
    _policy(gateway, tokens, max_days=SITE_MAX_DAYS)
    with httpx.Client(base_url=gateway.url, headers=tokens.headers(EDITOR), timeout=120) as c:
        inside = _kb_with(c, "scope-in", "# 差旅\n\n差旅报销需要发票和行程单，标记词 INSIDEKB。")
        outside = _kb_with(c, "scope-out", "# 差旅\n\n差旅报销另有规定，标记词 OUTSIDEKB。")
    made = _create(gateway, tokens, kb_scope=[inside])
    assert made.status_code == 201, made.text
    assert made.json()["kb_scope"] == [inside]
    key = {"Authorization": f"Bearer {made.json()['key']}"}

    def chat(rag: dict[str, Any]) -> httpx.Response:
        body = chat_body(served_model, rag=rag)
        body["messages"] = [{"role": "user", "content": "差旅报销需要什么？"}]
        return httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=key, timeout=120)

    _refused(chat({"kb_ids": [outside]}), 403, "kb_not_in_key_scope")
    _refused(chat({"kb_ids": [inside, outside]}), 403, "kb_not_in_key_scope")
    searched = httpx.post(
        gateway.url + "/api/kb/search", json={"query": "差旅", "kb_ids": [outside]}, headers=key
    )
    _refused(searched, 403, "kb_not_in_key_scope")

    for rag in ({"kb_ids": [inside]}, {"top_k": 5}):
        answered = chat(rag)
        assert answered.status_code == 200, answered.text
        sent = stub.stats()["last_chat_request"]["messages"][-1]["content"]
        assert "INSIDEKB" in sent and "OUTSIDEKB" not in sent
    # The owner's own sign-in still reads both.
    with httpx.Client(base_url=gateway.url, headers=tokens.headers(STAFF), timeout=120) as c:
        both = c.post("/api/kb/search", json={"query": "差旅 标记词", "top_k": 10})
    assert both.status_code == 200
    assert {hit["kb_id"] for hit in both.json()["results"]} >= {inside, outside}
