"""Service keys for integrations (``/api/service-keys``), through one gateway of the working
tree on its own scratch database, with the real Keycloak and a stub backend.

Only the sysadmin manages them, and only while the secadmin's key policy allows
``service_keys``; each creation and revocation is audited before it is stored; a request
with a service key acts as ``svc:<integration>`` (the key's id in every audit row, its own
departments and clearance, staff for chat only) under a daily token quota of its own
(429 ``quota_exceeded`` for it while staff chat on); the sysadmin's usage report has one row
per integration.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.gateways import Gateway, chat_body
from tests.support.keycloak_admin import accounts_client_secret
from tests.support.postgres import scratch as scratch_db
from tests.support.postgres.databases import ScratchDb
from tests.support.scratch_gateway import poll_rows, scratch_fixture
from tests.support.stubs import Stub

if TYPE_CHECKING:
    from tests.support.tokens import Tokens

SECADMIN, SYSADMIN, AUDITOR, STAFF = "zhao.min", "chen.jie", "liu.yang", "zhang.wei"
POLICY, SERVICE_KEYS = "/api/content/api-key-policy", "/api/service-keys"
SITE_MAX_DAYS = 120

scratch = scratch_fixture("gw_service_keys")


@pytest.fixture(scope="module")
def gateway(settings_env: dict[str, str], scratch: ScratchDb, stub: Stub) -> Iterator[Gateway]:
    started = Gateway(
        {
            **settings_env,
            "APPLIANCE_DATABASE_URL": scratch.gateway_url,
            "APPLIANCE_BACKENDS": stub.url,
            "APPLIANCE_KEYCLOAK__ACCOUNTS_CLIENT_SECRET": accounts_client_secret(),
            "APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE": "",
            "APPLIANCE_API_KEYS__PEPPER": "test-pepper-of-the-service-keys-module",
            "APPLIANCE_API_KEYS__MAX_DAYS": str(SITE_MAX_DAYS),
        }
    )
    yield started
    started.stop()


def _policy(gateway: Gateway, tokens: Tokens, *, service_keys: bool) -> None:
    answer = httpx.put(
        gateway.url + POLICY,
        json={"max_days": 30, "service_keys": service_keys},
        headers=tokens.headers(SECADMIN),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def _create(gateway: Gateway, tokens: Tokens, user: str = SYSADMIN, **body: Any) -> httpx.Response:
    wanted = {
        "integration": "erp-bridge",
        "name": "ERP",
        "departments": ["/dept/finance"],
        "clearance": "重要",
        "daily_token_quota": 100_000,
        **body,
    }
    return httpx.post(
        gateway.url + SERVICE_KEYS, json=wanted, headers=tokens.headers(user), timeout=30
    )


def _refused(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and error["message"] and error["type"]


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _chat(gateway: Gateway, headers: dict[str, str], model: str) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions", json=chat_body(model), headers=headers, timeout=60
    )


def test_only_the_sysadmin_while_the_policy_allows_them(gateway: Gateway, tokens: Tokens) -> None:
    for user in (SECADMIN, AUDITOR, STAFF):
        _refused(_create(gateway, tokens, user), 403, "missing_role")
        listed = httpx.get(gateway.url + SERVICE_KEYS, headers=tokens.headers(user), timeout=30)
        _refused(listed, 403, "missing_role")
    _policy(gateway, tokens, service_keys=False)
    _refused(_create(gateway, tokens), 403, "service_keys_disabled")
    listed = httpx.get(gateway.url + SERVICE_KEYS, headers=tokens.headers(SYSADMIN), timeout=30)
    _refused(listed, 403, "service_keys_disabled")


def test_creation_is_checked_audited_and_shown_once(
    gateway: Gateway, tokens: Tokens, scratch: ScratchDb
) -> None:
    _policy(gateway, tokens, service_keys=True)
    bad_name = _create(gateway, tokens, integration="ERP Bridge")
    assert bad_name.status_code == 422 and bad_name.json()["error"]["type"]
    _refused(_create(gateway, tokens, departments=["finance"]), 400, "invalid_value")
    _refused(_create(gateway, tokens, clearance="绝密"), 400, "unknown_grade")
    _refused(_create(gateway, tokens, expires_in_days=31), 400, "api_key_policy_max_days")

    made = _create(gateway, tokens, integration="hr-sync", allowed_cidrs=["127.0.0.0/8"])
    assert made.status_code == 201, made.text
    key = made.json()
    assert key["key"].startswith("sk-appl-") and key["integration"] == "hr-sync"
    assert (key["departments"], key["clearance"], key["created_by"]) == (
        ["/dept/finance"],
        "重要",
        SYSADMIN,
    )
    listed = httpx.get(gateway.url + SERVICE_KEYS, headers=tokens.headers(SYSADMIN), timeout=30)
    assert listed.status_code == 200
    (row,) = [k for k in listed.json() if k["id"] == key["id"]]
    assert "key" not in row and row["daily_token_quota"] == 100_000
    rows = poll_rows(
        scratch,
        "SELECT outcome, actor_username, detail FROM audit_events"
        " WHERE event_type = 'apikey.action' AND detail->>'key_id' = %s ORDER BY seq",
        (key["id"],),
        lambda found: len(found) == 2,
        "the service key's creation, intent and outcome",
    )
    assert [(outcome, actor) for outcome, actor, _ in rows] == [
        ("pending", SYSADMIN),
        ("ok", SYSADMIN),
    ]
    assert rows[1][2]["service"] == "svc:hr-sync" and rows[1][2]["prefix"] == key["prefix"]
    assert key["key"] not in str(rows)

    with scratch_db.audit_refused(scratch):
        down = _create(gateway, tokens, integration="never-stored")
    _refused(down, 503, "audit_unavailable")
    with scratch.superuser() as conn:
        stored = conn.execute(
            "SELECT count(*) FROM api_keys WHERE owner_username = 'svc:never-stored'"
        ).fetchone()
    assert stored == (0,)


def test_a_service_key_acts_as_its_integration_under_its_own_quota(
    gateway: Gateway, tokens: Tokens, scratch: ScratchDb, served_model: str
) -> None:
    _policy(gateway, tokens, service_keys=True)
    made = _create(gateway, tokens, integration="crm-bot", daily_token_quota=1)
    assert made.status_code == 201, made.text
    key_id, headers = made.json()["id"], _bearer(made.json()["key"])

    # Staff for chat only: no administrator's API, no key management.
    for path in ("/api/admin/usage", SERVICE_KEYS, POLICY, "/api/keys"):
        answer = httpx.get(gateway.url + path, headers=headers, timeout=30)
        assert answer.status_code == 403, (path, answer.text)

    first = _chat(gateway, headers, served_model)
    assert first.status_code == 200, first.text
    rows = poll_rows(
        scratch,
        "SELECT actor_subject, actor_roles, actor_groups, client_id, prompt_tokens"
        " FROM audit_events WHERE event_type = 'chat.end' AND actor_username = %s",
        ("svc:crm-bot",),
        lambda found: len(found) == 1,
        "the integration's chat.end",
    )
    assert rows[0][:4] == ("svc:crm-bot", ["staff"], ["/dept/finance"], f"apikey:{key_id}")
    _refused(_chat(gateway, headers, served_model), 429, "quota_exceeded")
    assert _chat(gateway, tokens.headers(STAFF), served_model).status_code == 200

    report = httpx.get(
        gateway.url + "/api/admin/usage", headers=tokens.headers(SYSADMIN), timeout=30
    )
    assert report.status_code == 200, report.text
    services = {row["integration"]: row for row in report.json()["services"]}
    crm = services["crm-bot"]
    assert crm["requests_today"] == 1 and crm["tokens_today"] >= 1
    assert (crm["daily_token_quota"], crm["remaining_today"]) == (1, 0)
    assert "hr-sync" in services
    assert all(not u["username"].startswith("svc:") for u in report.json()["users"])


def test_a_revoked_service_key_stops_and_the_revocation_is_audited(
    gateway: Gateway, tokens: Tokens, scratch: ScratchDb
) -> None:
    _policy(gateway, tokens, service_keys=True)
    made = _create(gateway, tokens, integration="wiki-sync")
    assert made.status_code == 201, made.text
    key_id, headers = made.json()["id"], _bearer(made.json()["key"])
    assert httpx.get(gateway.url + "/v1/models", headers=headers, timeout=30).status_code == 200

    personal = httpx.post(
        gateway.url + "/api/keys", json={"name": "mine"}, headers=tokens.headers(STAFF), timeout=30
    )
    assert personal.status_code == 201, personal.text
    sysadmin = tokens.headers(SYSADMIN)
    other = httpx.delete(f"{gateway.url}{SERVICE_KEYS}/{personal.json()['id']}", headers=sysadmin)
    _refused(other, 404, "api_key_not_found")

    revoked = httpx.delete(f"{gateway.url}{SERVICE_KEYS}/{key_id}", headers=sysadmin, timeout=30)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"], revoked.text
    _refused(
        httpx.get(gateway.url + "/v1/models", headers=headers, timeout=30), 401, "api_key_revoked"
    )
    rows = poll_rows(
        scratch,
        "SELECT outcome FROM audit_events WHERE event_type = 'apikey.action'"
        " AND detail->>'action' = 'apikey.revoke' AND detail->>'key_id' = %s ORDER BY seq",
        (key_id,),
        lambda found: len(found) == 2,
        "the revocation's intent and outcome",
    )
    assert [outcome for (outcome,) in rows] == ["pending", "ok"]
