"""Account management through the gateway, against the real Keycloak and PostgreSQL.

A gateway of the working tree (its own process, with the accounts client's secret) serves
``/api/admin/accounts``; the CLI's typed functions call it as ``appliance users|groups|
clients`` would. Every name carries this run's tag (the Keycloak is shared and persistent),
and what a test creates is deleted afterwards through the master realm's admin.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from keycloak import KeycloakAdmin

from appliance.cli import accounts_cmds as cli
from appliance.cli.gateway_session import Gateway as AdminApi
from appliance.cli.gateway_session import GatewayError, sign_in
from tests.support.audit import request_events
from tests.support.gateways import Gateway, chat_body, fragile_gateway
from tests.support.keycloak_admin import accounts_client_secret, master_admin
from tests.support.stubs import Stub

if TYPE_CHECKING:
    from tests.support.tokens import Tokens

RUN = secrets.token_hex(3)
SYSADMIN, SECADMIN, STAFF = "chen.jie", "zhao.min", "zhang.wei"


def _name(stem: str) -> str:
    return f"t{RUN}-{stem}"


@pytest.fixture(scope="module")
def master(services: dict[str, Any]) -> KeycloakAdmin:
    return master_admin(services)


@pytest.fixture(scope="module")
def accounts_env(settings_env: dict[str, str]) -> dict[str, str]:
    return {**settings_env, "APPLIANCE_KEYCLOAK__ACCOUNTS_CLIENT_SECRET": accounts_client_secret()}


@pytest.fixture(scope="module")
def gateway(accounts_env: dict[str, str], stub: Stub) -> Iterator[Gateway]:
    started = Gateway({**accounts_env, "APPLIANCE_BACKENDS": stub.url})
    yield started
    started.stop()


@pytest.fixture
def admin_api(gateway: Gateway, tokens: Tokens) -> Callable[[str], AdminApi]:
    opened: list[AdminApi] = []

    def as_user(username: str) -> AdminApi:
        api = AdminApi.open(gateway.url, tokens(username))
        opened.append(api)
        return api

    yield as_user  # type: ignore[misc]
    for api in opened:
        api.close()


@pytest.fixture
def cleanup(master: KeycloakAdmin) -> Iterator[dict[str, list[str]]]:
    made: dict[str, list[str]] = {"users": [], "clients": [], "groups": []}
    yield made
    for username in made["users"]:
        if (user_id := master.get_user_id(username)) is not None:
            master.delete_user(user_id)
    for client_id in made["clients"]:
        if (uuid := master.get_client_id(client_id)) is not None:
            master.delete_client(uuid)
    for path in made["groups"]:
        group = master.get_group_by_path(path)
        if isinstance(group, dict) and "id" in group:
            master.delete_group(group["id"])


def _post(
    gateway: Gateway, tokens: Tokens, user: str, path: str, body: Any = None
) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/api/admin/accounts{path}",
        json=body,
        headers=tokens.headers(user),
        timeout=60,
    )


def _audit_rows(
    gateway: Gateway,
    tokens: Tokens,
    request_id: str,
    *,
    actor: str,
    until: Callable[[list[dict[str, Any]]], bool],
) -> list[dict[str, Any]]:
    """The events of one request, read back as an auditor (the outcome row is written
    after the answer, so poll)."""
    return request_events(gateway.url, tokens, request_id, query={"user": actor}, until=until)


def _begin_and_end(rows: list[dict[str, Any]]) -> bool:
    return {r["outcome"] for r in rows if r["event_type"] == "admin.action"} >= {"pending", "ok"}


def _grant_fails_with(issuer: str, username: str, password: str) -> str:
    with pytest.raises(GatewayError) as refused:
        sign_in(issuer, username, password)
    return refused.value.message


def test_add_list_disable_enable_and_reset_password(
    gateway: Gateway,
    tokens: Tokens,
    admin_api: Callable[[str], AdminApi],
    master: KeycloakAdmin,
    services: dict[str, Any],
    cleanup: dict[str, list[str]],
) -> None:
    issuer = services["keycloak"]["issuer"]
    username = _name("alice")
    cleanup["users"].append(username)
    api = admin_api(SYSADMIN)
    created = cli.add_user(
        api,
        {
            "username": username,
            "name": "欧阳娜娜",
            "email": f"{username}@example.invalid",
            "department": "/dept/finance",
            "roles": ["staff"],
        },
    )
    assert created["username"] == username and len(created["password"]) >= 12
    # A one-time password: Keycloak insists that it is changed first.
    assert "not fully set up" in _grant_fails_with(issuer, username, created["password"])

    listed = {user["username"]: user for user in cli.list_users(api)}
    assert listed[username]["name"] == "欧阳娜娜"
    assert listed[username]["roles"] == ["staff"]
    assert listed[username]["departments"] == ["/dept/finance"]
    assert listed[username]["enabled"] and listed[username]["created"]

    # With a password of their own the person signs in; disabled, they no longer can.
    user_id = master.get_user_id(username)
    own = secrets.token_urlsafe(18)
    master.set_user_password(user_id, own, temporary=False)
    assert sign_in(issuer, username, own)
    response = _post(gateway, tokens, SYSADMIN, f"/users/{username}/disable")
    assert response.status_code == 200 and response.json()["enabled"] is False
    assert "disabled" in _grant_fails_with(issuer, username, own).lower()
    rows = _audit_rows(
        gateway, tokens, response.headers["x-request-id"], actor=SYSADMIN, until=_begin_and_end
    )
    assert _begin_and_end(rows)
    assert all(r["detail"]["action"] == "user.disable" for r in rows)
    assert all(r["detail"]["target"] == username for r in rows)
    assert cli.set_enabled(api, username, enabled=True)["enabled"] is True
    assert sign_in(issuer, username, own)

    reset = _post(gateway, tokens, SYSADMIN, f"/users/{username}/reset-password")
    password = reset.json()["password"]
    assert password != own
    assert "not fully set up" in _grant_fails_with(issuer, username, password)
    rows = _audit_rows(
        gateway, tokens, reset.headers["x-request-id"], actor=SYSADMIN, until=_begin_and_end
    )
    assert _begin_and_end(rows)
    assert {r["detail"]["action"] for r in rows} == {"user.reset_password"}
    # No password, one-time or not, is ever in the audit log.
    assert password not in str(rows) and created["password"] not in str(rows)


def test_import_reports_each_row_and_reads_gb18030(
    gateway: Gateway,
    tokens: Tokens,
    admin_api: Callable[[str], AdminApi],
    tmp_path: Path,
    cleanup: dict[str, list[str]],
) -> None:
    good = [_name("imp1"), _name("imp2")]
    cleanup["users"].extend(good)
    csv_text = (
        "username,name,email,department,roles\n"
        f"{good[0]},张伟,{good[0]}@example.invalid,/dept/finance,staff\n"
        f"{_name('bad')},李娜,not-an-email,/dept/finance,staff\n"
        f"{good[1]},王芳,{good[1]}@example.invalid,/dept/legal,staff;kb-editor\n"
    )
    hr_export = tmp_path / "hr.csv"
    hr_export.write_bytes(csv_text.encode("gb18030"))
    results = cli.import_users(admin_api(SYSADMIN), hr_export)
    assert [(r["username"], r["ok"]) for r in results] == [
        (good[0], True),
        (_name("bad"), False),
        (good[1], True),
    ]
    assert results[1]["error"] == "invalid_row" and "email" in results[1]["message"]
    assert all(r["password"] for r in results if r["ok"])
    listed = {u["username"]: u for u in cli.list_users(admin_api(SYSADMIN))}
    assert listed[good[0]]["name"] == "张伟"
    assert listed[good[1]]["roles"] == ["kb-editor", "staff"]
    assert _name("bad") not in listed

    # UTF-8 with a byte-order mark (Excel's "CSV UTF-8") reads the same.
    hr_export.write_bytes(csv_text.encode("utf-8-sig"))
    again = cli.import_users(admin_api(SYSADMIN), hr_export)
    assert [r["error"] for r in again] == ["conflict", "invalid_row", "conflict"]


def test_separation_of_duties_for_roles(
    gateway: Gateway,
    tokens: Tokens,
    admin_api: Callable[[str], AdminApi],
    cleanup: dict[str, list[str]],
) -> None:
    username = _name("bob")
    cleanup["users"].append(username)
    cli.add_user(admin_api(SYSADMIN), {"username": username, "name": "Bob Test"})

    # The sysadmin may not make an auditor; the refusal names the rule and is audited.
    refused = _post(gateway, tokens, SYSADMIN, f"/users/{username}/roles", {"grant": ["auditor"]})
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "separation_of_duties" and "secadmin" in error["message"]
    rows = _audit_rows(gateway, tokens, refused.headers["x-request-id"], actor=SYSADMIN, until=bool)
    assert rows[0]["event_type"] == "access.denied" and rows[0]["outcome"] == "denied"
    assert "secadmin" in rows[0]["detail"]["rule"]
    assert not [r for r in rows if r["outcome"] == "pending"]
    # Creating an account with an administrator role is the same grant.
    with pytest.raises(GatewayError) as by_creation:
        cli.add_user(admin_api(SYSADMIN), {"username": _name("eve"), "roles": ["sysadmin"]})
    assert by_creation.value.status == 403

    # The secadmin may; but not the ordinary roles, which are the sysadmin's.
    granted = cli.change_roles(admin_api(SECADMIN), username, grant=["auditor"])
    assert granted["roles"] == ["auditor", "staff"]
    # An administrator's account is the secadmin's to disable, and nobody's to reset.
    for action in ("disable", "reset-password"):
        taken = _post(gateway, tokens, SYSADMIN, f"/users/{username}/{action}")
        assert taken.status_code == 403, action
        assert taken.json()["error"]["code"] == "separation_of_duties"
    assert cli.set_enabled(admin_api(SECADMIN), username, enabled=False)["enabled"] is False
    with pytest.raises(GatewayError) as not_the_sysadmins:
        cli.set_enabled(admin_api(SYSADMIN), username, enabled=True)
    assert "secadmin" in not_the_sysadmins.value.message
    assert cli.set_enabled(admin_api(SECADMIN), username, enabled=True)["enabled"] is True
    with pytest.raises(GatewayError):
        cli.reset_password(admin_api(SECADMIN), username)
    with pytest.raises(GatewayError) as ordinary:
        cli.change_roles(admin_api(SECADMIN), username, grant=["kb-editor"])
    assert ordinary.value.status == 403 and "sysadmin" in ordinary.value.message
    assert cli.change_roles(admin_api(SYSADMIN), username, grant=["kb-editor"])["roles"] == [
        "auditor",
        "kb-editor",
        "staff",
    ]
    assert cli.change_roles(admin_api(SECADMIN), username, revoke=["auditor"])["roles"] == [
        "kb-editor",
        "staff",
    ]

    # Nobody changes their own roles or disables themselves.
    for actor, role in ((SYSADMIN, "kb-editor"), (SECADMIN, "auditor")):
        own = _post(gateway, tokens, actor, f"/users/{actor}/roles", {"grant": [role]})
        assert own.status_code == 403 and "own roles" in own.json()["error"]["message"]
    itself = _post(gateway, tokens, SYSADMIN, f"/users/{SYSADMIN}/disable")
    assert itself.status_code == 403 and "disable" in itself.json()["error"]["message"]

    # Staff and the secadmin do not manage accounts; an auditor reads no account list.
    for actor in (STAFF, SECADMIN):
        denied = _post(gateway, tokens, actor, "/users", {"username": _name("mallory")})
        assert denied.status_code == 403
        assert denied.json()["error"]["code"] == "separation_of_duties"
        rows = _audit_rows(gateway, tokens, denied.headers["x-request-id"], actor=actor, until=bool)
        assert [r["event_type"] for r in rows] == ["access.denied"]


def test_groups_and_members(
    tokens: Tokens, admin_api: Callable[[str], AdminApi], cleanup: dict[str, list[str]]
) -> None:
    department = f"/dept/{_name('ops')}"
    username = _name("carol")
    cleanup["groups"].append(department)
    cleanup["users"].append(username)
    api = admin_api(SYSADMIN)
    assert cli.add_group(api, department)["path"] == department
    with pytest.raises(GatewayError) as twice:
        cli.add_group(api, department)
    assert twice.value.status == 409
    cli.add_user(api, {"username": username, "name": "Carol Test"})
    assert cli.add_member(api, department, username)["departments"] == [department]
    groups = {g["path"]: g["members"] for g in cli.list_groups(api)}
    assert groups[department] == 1 and "/dept/finance" in groups
    # A department that does not exist is refused, not created.
    with pytest.raises(GatewayError) as missing:
        cli.add_member(api, f"/dept/{_name('nowhere')}", username)
    assert missing.value.status == 404


def test_api_client_gets_a_token_and_chats(
    gateway: Gateway,
    stub: Stub,
    tokens: Tokens,
    admin_api: Callable[[str], AdminApi],
    services: dict[str, Any],
    cleanup: dict[str, list[str]],
) -> None:
    api = admin_api(SYSADMIN)
    created = cli.add_client(api, _name("crm"), "/dept/finance")
    cleanup["clients"].append(created["client_id"])
    assert created["client_id"] == f"svc-{_name('crm')}"

    def client_token() -> httpx.Response:
        return httpx.post(
            created["token_url"],
            data={
                "grant_type": "client_credentials",
                "client_id": created["client_id"],
                "client_secret": created["client_secret"],
            },
            timeout=30,
        )

    token = client_token().json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    me = httpx.get(f"{gateway.url}/api/me", headers=headers, timeout=30)
    assert me.status_code == 200
    assert "staff" in me.json()["roles"] and "/dept/finance" in me.json()["groups"]
    chat = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json=chat_body(stub.model),
        headers=headers,
        timeout=60,
    )
    assert chat.status_code == 200, chat.text

    listed = {c["client_id"]: c for c in cli.list_clients(api)}
    assert listed[created["client_id"]]["enabled"] is True
    # No browser flows and no passwords: only client credentials.
    password_grant = httpx.post(
        created["token_url"],
        data={"grant_type": "password", "client_id": created["client_id"],
              "client_secret": created["client_secret"], "username": STAFF,
              "password": tokens.password(STAFF)},
        timeout=30,
    )  # fmt: skip
    assert password_grant.status_code in (400, 401)
    cli.disable_client(api, created["client_id"])
    assert client_token().status_code in (400, 401)
    assert (
        cli.list_clients(api)
        and not {c["client_id"]: c for c in cli.list_clients(api)}[created["client_id"]]["enabled"]
    )


def test_audit_store_down_refuses_with_503_and_changes_nothing(
    accounts_env: dict[str, str],
    stub: Stub,
    services: dict[str, Any],
    tokens: Tokens,
    master: KeycloakAdmin,
    cleanup: dict[str, list[str]],
) -> None:
    env = {**accounts_env, "APPLIANCE_BACKENDS": stub.url}
    with fragile_gateway(env, services["database_url"]) as (fragile, proxy):
        username = _name("dave")
        cleanup["users"].append(username)
        headers = tokens.headers(SYSADMIN)
        url = f"{fragile.url}/api/admin/accounts"
        assert httpx.get(f"{url}/users", headers=headers, timeout=60).status_code == 200
        proxy.cut()
        refused = httpx.post(
            f"{url}/users", json={"username": username}, headers=headers, timeout=60
        )
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "audit_unavailable"
        assert master.get_user_id(username) is None
        zhang = master.get_user_id(STAFF)
        disable = httpx.post(f"{url}/users/{STAFF}/disable", headers=headers, timeout=60)
        assert disable.status_code == 503
        assert master.get_user(zhang)["enabled"] is True
