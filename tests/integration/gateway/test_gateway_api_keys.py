"""Personal API keys through a two-worker gateway of the working tree, on its own scratch
database, with the real Keycloak (zhang.wei's token creates the keys) and the local CPU
vLLM answering the official ``openai`` client.

A key answers chats streamed and not, with the audit rows naming its id; it lists without
its secret; a key may not manage keys; a revoked key is refused within 5 s on every worker;
an expired key is refused; a throwaway owner's account disabled in Keycloak stops their
key within the re-check interval; a model outside the key's scope is 403; a gateway without a
pepper answers 503 ``api_keys_disabled``; and the key string is nowhere in the audit table,
the error bodies or the gateway's log.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import openai
import psycopg
import pytest

from tests.support.gateways import Gateway, GatewayProcess, WorkersGateway
from tests.support.keycloak_admin import accounts_client_secret, master_admin
from tests.support.postgres.databases import ScratchDb
from tests.support.scratch_gateway import poll_rows, scratch_fixture

if TYPE_CHECKING:
    from tests.support.tokens import Tokens

OWNER, OTHER = "zhang.wei", "wang.fang"
KEYS = "/api/keys"
PEPPER = "test-pepper-of-the-api-keys-module"
# How long a worker trusts its last look at a key owner's account, in this module's gateway.
RECHECK_S = 2

scratch = scratch_fixture("gw_api_keys")


def _env(services: dict[str, Any], scratch: ScratchDb, **extra: str) -> dict[str, str]:
    return {
        "APPLIANCE_DATABASE_URL": scratch.gateway_url,
        "APPLIANCE_KEYCLOAK__ISSUER": services["keycloak"]["issuer"],
        "APPLIANCE_KEYCLOAK__ACCOUNTS_CLIENT_SECRET": accounts_client_secret(),
        "APPLIANCE_BACKENDS": services["backends"][0],
        "APPLIANCE_BACKEND_API_KEY": services["backend_api_key"],
        "APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE": "",
        **extra,
    }


@pytest.fixture(scope="module")
def gateway(services: dict[str, Any], scratch: ScratchDb) -> Iterator[WorkersGateway]:
    started = WorkersGateway(
        _env(
            services,
            scratch,
            APPLIANCE_API_KEYS__PEPPER=PEPPER,
            APPLIANCE_API_KEYS__ACCOUNT_RECHECK_S=str(RECHECK_S),
        )
    )
    yield started
    started.stop()


def _create(gateway: GatewayProcess, tokens: Tokens, **body: Any) -> dict[str, Any]:
    made = httpx.post(
        gateway.url + KEYS,
        json={"name": "Cherry Studio", **body},
        headers=tokens.headers(OWNER),
        timeout=30,
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def _client(gateway: GatewayProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=120)


def _chat(gateway: GatewayProcess, key: str, model: str) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4},
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )


def test_a_key_chats_through_the_openai_client_and_its_id_is_audited(
    gateway: WorkersGateway, tokens: Tokens, scratch: ScratchDb, served_model: str
) -> None:
    made = _create(gateway, tokens, expires_in_days=7)
    key = made["key"]
    assert key.startswith("sk-appl-") and made["prefix"] == key[:16]
    client = _client(gateway, key)

    plain = client.chat.completions.with_raw_response.create(
        model=served_model, messages=[{"role": "user", "content": "你好"}], max_tokens=8
    )
    assert plain.parse().choices[0].message is not None
    request_id = plain.headers["x-request-id"]
    chunks = list(
        client.chat.completions.create(
            model=served_model,
            messages=[{"role": "user", "content": "Say hi"}],
            max_tokens=8,
            stream=True,
        )
    )
    assert chunks and chunks[0].object == "chat.completion.chunk"

    rows = poll_rows(
        scratch,
        "SELECT actor_username, client_id FROM audit_events"
        " WHERE request_id = %s AND event_type = 'chat.end'",
        (request_id,),
        bool,
        "chat.end row of the keyed request",
    )
    assert rows == [(OWNER, f"apikey:{made['id']}")]

    listed = httpx.get(gateway.url + KEYS, headers=tokens.headers(OWNER), timeout=30)
    assert listed.status_code == 200
    mine = next(k for k in listed.json() if k["id"] == made["id"])
    assert mine["prefix"] == made["prefix"] and mine["last_used_at"] is not None
    assert "key" not in mine and key not in listed.text
    others = httpx.get(gateway.url + KEYS, headers=tokens.headers(OTHER), timeout=30)
    assert made["id"] not in others.text


def test_a_key_cannot_make_keys(gateway: WorkersGateway, tokens: Tokens) -> None:
    key = _create(gateway, tokens)["key"]
    refused = httpx.post(
        gateway.url + KEYS,
        json={"name": "more"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "api_key_cannot_manage_keys"


def test_a_revoked_key_is_refused_on_every_worker_within_5_s(
    gateway: WorkersGateway, tokens: Tokens, served_model: str
) -> None:
    made = _create(gateway, tokens)
    key = made["key"]
    assert _chat(gateway, key, served_model).status_code == 200
    revoked = httpx.delete(
        f"{gateway.url}{KEYS}/{made['id']}", headers=tokens.headers(OWNER), timeout=30
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    at = time.monotonic()
    # Several calls, so both workers answer at least one (no connection reuse).
    answers = [_chat(gateway, key, served_model) for _ in range(6)]
    assert time.monotonic() - at < 5 * len(answers)
    assert {a.status_code for a in answers} == {401}
    body = answers[0].json()["error"]
    assert body["type"] and key not in answers[0].text
    with pytest.raises(openai.AuthenticationError):
        _client(gateway, key).models.list()

    gone = httpx.delete(
        f"{gateway.url}{KEYS}/{made['id']}", headers=tokens.headers(OTHER), timeout=30
    )
    assert gone.status_code == 404


def test_an_expired_key_is_refused(
    gateway: WorkersGateway, tokens: Tokens, scratch: ScratchDb, served_model: str
) -> None:
    made = _create(gateway, tokens)
    with scratch.superuser() as conn:
        conn.execute(
            "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = %s",
            (made["id"],),
        )
    refused = _chat(gateway, made["key"], served_model)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "api_key_expired"


def test_a_model_outside_the_scope_is_403_openai_shaped(
    gateway: WorkersGateway, tokens: Tokens, served_model: str
) -> None:
    key = _create(gateway, tokens, models=[served_model])["key"]
    assert _chat(gateway, key, served_model).status_code == 200
    with pytest.raises(openai.PermissionDeniedError) as raised:
        _client(gateway, key).chat.completions.create(
            model="deepseek-r1-671b", messages=[{"role": "user", "content": "Hi"}]
        )
    error = raised.value.body
    assert isinstance(error, dict) and error["code"] == "model_not_in_key_scope"
    embedded = httpx.post(
        gateway.url + "/v1/embeddings",
        json={"model": "another-embedder", "input": "hi"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert embedded.status_code == 403
    assert embedded.json()["error"]["code"] == "model_not_in_key_scope"


def test_a_key_outside_its_address_allow_list_is_refused(
    gateway: WorkersGateway, tokens: Tokens, served_model: str
) -> None:
    key = _create(gateway, tokens, allowed_cidrs=["192.0.2.0/24"])["key"]
    refused = _chat(gateway, key, served_model)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "api_key_address"
    bad = httpx.post(
        gateway.url + KEYS,
        json={"name": "x", "allowed_cidrs": ["10.0.0.300/8"]},
        headers=tokens.headers(OWNER),
        timeout=30,
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cidr"


def test_keys_appear_in_no_audit_row_and_no_log(
    gateway: WorkersGateway, tokens: Tokens, scratch: ScratchDb, served_model: str
) -> None:
    made = _create(gateway, tokens)
    key = made["key"]
    assert _chat(gateway, key, served_model).status_code == 200
    assert (
        _chat(gateway, key[:-1] + ("A" if key[-1] != "A" else "B"), served_model).status_code == 401
    )
    poll_rows(
        scratch,
        "SELECT 1 FROM audit_events WHERE event_type = 'apikey.action'"
        " AND detail->>'key_id' = %s AND outcome = 'ok'",
        (made["id"],),
        bool,
        "apikey.create row",
    )
    time.sleep(1)
    with scratch.superuser() as conn:
        leaked = conn.execute(
            "SELECT count(*) FROM audit_events e WHERE strpos(row_to_json(e)::text, %s) > 0",
            (key[8:],),
        ).fetchone()
    assert leaked == (0,)
    assert key[8:] not in gateway.log_path.read_text(encoding="utf-8", errors="replace")


def test_a_gateway_without_a_pepper_answers_503_for_keys_only(
    services: dict[str, Any], scratch: ScratchDb, tokens: Tokens, served_model: str
) -> None:
    bare = Gateway(_env(services, scratch, APPLIANCE_API_KEYS__PEPPER=""))
    try:
        made = httpx.post(
            bare.url + KEYS, json={"name": "x"}, headers=tokens.headers(OWNER), timeout=30
        )
        assert made.status_code == 503
        assert made.json()["error"]["code"] == "api_keys_disabled"
        keyed = _chat(bare, "sk-appl-" + "a" * 43, served_model)
        assert keyed.status_code == 503
        assert keyed.json()["error"]["code"] == "api_keys_disabled"
        listed = httpx.get(bare.url + KEYS, headers=tokens.headers(OWNER), timeout=30)
        assert listed.status_code == 200
    finally:
        bare.stop()


def test_the_gateway_login_may_not_delete_keys(scratch: ScratchDb) -> None:
    with psycopg.connect(scratch.gateway_url.replace("+psycopg", ""), autocommit=True) as gw:
        privileges = gw.execute(
            "SELECT has_table_privilege('api_keys', 'SELECT'),"
            " has_table_privilege('api_keys', 'INSERT'),"
            " has_table_privilege('api_keys', 'UPDATE'),"
            " has_table_privilege('api_keys', 'DELETE'),"
            " has_table_privilege('api_keys', 'TRUNCATE')"
        ).fetchone()
    assert privileges == (True, True, True, False, False)


@pytest.fixture
def throwaway_staff(services: dict[str, Any], tokens: Tokens) -> Iterator[tuple[str, str]]:
    """A staff account of its own (its id and an access token), deleted after the test, so
    disabling it touches no demo user."""
    master = master_admin(services)
    name = f"t{secrets.token_hex(3)}-keys"
    password = secrets.token_urlsafe(18)
    user_id = master.create_user(
        {
            "username": name,
            "enabled": True,
            "firstName": "Key",
            "lastName": "Owner",
            "email": f"{name}@example.invalid",
            "emailVerified": True,
            "credentials": [{"type": "password", "value": password, "temporary": False}],
        }
    )
    try:
        master.assign_realm_roles(user_id, [master.get_realm_role("staff")])
        answer = httpx.post(
            tokens.token_url,
            data={
                "grant_type": "password",
                "client_id": tokens.client_id,
                "username": name,
                "password": password,
                "scope": "openid",
            },
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        yield user_id, str(answer.json()["access_token"])
    finally:
        master.delete_user(user_id)


def test_a_disabled_owner_disables_their_keys_within_the_recheck_interval(
    gateway: WorkersGateway,
    services: dict[str, Any],
    throwaway_staff: tuple[str, str],
    served_model: str,
) -> None:
    user_id, token = throwaway_staff
    made = httpx.post(
        gateway.url + KEYS,
        json={"name": "owner check"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    assert _chat(gateway, key, served_model).status_code == 200
    master_admin(services).update_user(user_id, {"enabled": False})
    disabled_at = time.monotonic()
    while True:
        answer = _chat(gateway, key, served_model)
        if answer.status_code == 401:
            break
        assert answer.status_code == 200, answer.text
        assert time.monotonic() - disabled_at < RECHECK_S + 10, "the key outlived its owner"
        time.sleep(0.5)
    assert answer.json()["error"]["code"] == "api_key_owner_disabled"
    # Once the interval has passed since the change, no worker trusts what it read before.
    time.sleep(max(0.0, RECHECK_S - (time.monotonic() - disabled_at)))
    assert {_chat(gateway, key, served_model).status_code for _ in range(4)} == {401}
