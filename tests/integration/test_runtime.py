"""The local all-in-one runtime, as its users see it after ``appliance up``.

These tests share the running services (no ``appliance down`` here): they read
``var/endpoints.json``, talk to each real service, and run ``appliance up`` once more to show
that it only verifies.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jwt
import psutil
import psycopg
import pytest

pytestmark = pytest.mark.services

REPO = Path(__file__).resolve().parents[2]
VAR = REPO / "var"
APPLIANCE = Path(sys.executable).parent / "appliance"
ROLES = {"staff", "kb-editor", "sysadmin", "secadmin", "auditor"}
PORTS = {55432, 8180, 9000, 8011, 8080, 7860}
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def _libpq(url: str) -> str:
    """SQLAlchemy URL -> libpq URL."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _token(endpoints: dict[str, Any], username: str, password: str) -> httpx.Response:
    keycloak = endpoints["keycloak"]
    return httpx.post(
        f"{keycloak['issuer']}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": keycloak["dev_client_id"],
            "username": username,
            "password": password,
            "scope": "openid",
        },
        timeout=10,
    )


def _replica_key(endpoints: dict[str, Any]) -> dict[str, str]:
    """The header vLLM requires: the key only the gateway (and these tests) hold."""
    return {"Authorization": f"Bearer {endpoints['backend_api_key']}"}


def _user(endpoints: dict[str, Any], name: str) -> dict[str, Any]:
    return next(u for u in endpoints["users"] if u["username"] == name)


def test_endpoints_file_has_the_shared_shape(endpoints: dict[str, Any]) -> None:
    assert endpoints["gateway_url"] == "http://127.0.0.1:8080"
    assert endpoints["webui_url"] == "http://127.0.0.1:7860"
    assert endpoints["backends"] == ["http://127.0.0.1:8011"]
    assert endpoints["keycloak"] == {
        **endpoints["keycloak"],
        "url": "http://127.0.0.1:8180",
        "realm": "appliance",
        "issuer": "http://127.0.0.1:8180/realms/appliance",
        "dev_client_id": "appliance-dev",
    }
    assert endpoints["model"] == "smollm2-135m-instruct"
    assert endpoints["database_url"].startswith(
        "postgresql+psycopg://appliance_gateway:"
    ) and endpoints["database_url"].endswith("@127.0.0.1:55432/appliance")
    assert endpoints["owner_database_url"].startswith("postgresql+psycopg://appliance_migrator:")
    assert endpoints["superuser_socket_dir"] == str(VAR / "pg" / "run")
    users = endpoints["users"]
    assert {u["username"] for u in users} >= {
        "zhang.wei", "li.na", "wang.fang", "chen.jie", "zhao.min", "liu.yang", "sun.li",
    }  # fmt: skip
    assert set().union(*(u["roles"] for u in users)) == ROLES
    assert len({g for u in users for g in u["groups"]}) >= 2
    assert all(len(u["password"]) >= 16 for u in users)
    assert _user(endpoints, "sun.li")["roles"] == []


def test_secrets_are_readable_by_their_owner_only(endpoints: dict[str, Any]) -> None:
    secrets = [p for p in (VAR / "secrets").iterdir() if p.suffix != ".pub"]
    files = [VAR / "endpoints.json", VAR / "appliance.env", *secrets]
    assert len(files) > 5
    assert stat.S_IMODE((VAR / "secrets").stat().st_mode) == 0o700
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_every_service_listens_on_loopback_only(endpoints: dict[str, Any]) -> None:
    listening = [
        c for c in psutil.net_connections("inet") if c.status == psutil.CONN_LISTEN and c.laddr
    ]
    ours = [c for c in listening if c.laddr.port in PORTS]
    assert {c.laddr.port for c in ours} == PORTS
    for conn in ours:
        assert conn.laddr.ip in {"127.0.0.1", "::ffff:127.0.0.1"}, conn


def test_each_service_answers(endpoints: dict[str, Any]) -> None:
    issuer = endpoints["keycloak"]["issuer"]
    discovery = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10)
    assert discovery.json()["issuer"] == issuer
    models = httpx.get(
        f"{endpoints['backends'][0]}/v1/models", headers=_replica_key(endpoints), timeout=10
    ).json()
    assert [m["id"] for m in models["data"]] == [endpoints["model"]]
    assert httpx.get(f"{endpoints['gateway_url']}/healthz", timeout=10).status_code == 200
    with psycopg.connect(_libpq(endpoints["database_url"])) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        vector = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
        ).fetchone()
    assert version is not None and str(version[0]).startswith("15.")
    assert vector is not None and str(vector[0]).startswith("0.8")


def test_appliance_status_reports_everything_running(endpoints: dict[str, Any]) -> None:
    result = subprocess.run(
        [str(APPLIANCE), "status"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stdout
    assert "stopped" not in result.stdout
    assert "postgres" in result.stdout and "vllm" in result.stdout


def test_second_up_changes_nothing(endpoints: dict[str, Any]) -> None:
    pids = {p.name: p.read_text() for p in (VAR / "run").glob("*.pid")}
    before = (VAR / "endpoints.json").read_text()
    result = subprocess.run(
        [str(APPLIANCE), "up"], capture_output=True, text=True, check=False, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert ": started" not in result.stdout
    for service in ("postgresql", "keycloak", "vllm", "gateway"):
        assert f"{service}: already running" in result.stdout
    assert (VAR / "endpoints.json").read_text() == before
    assert {p.name: p.read_text() for p in (VAR / "run").glob("*.pid")} == pids
    assert "zhang.wei" in result.stdout


def test_keycloak_issues_gateway_tokens_with_groups_and_roles(endpoints: dict[str, Any]) -> None:
    user = _user(endpoints, "li.na")
    response = _token(endpoints, user["username"], user["password"])
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    issuer = endpoints["keycloak"]["issuer"]
    keys = jwt.PyJWKClient(f"{issuer}/protocol/openid-connect/certs")
    claims = jwt.decode(
        token,
        keys.get_signing_key_from_jwt(token).key,
        algorithms=["RS256"],
        audience="appliance-gateway",
        issuer=issuer,
    )
    assert claims["azp"] == "appliance-dev"
    assert claims["preferred_username"] == "li.na"
    assert claims["groups"] == ["/dept/finance"]
    assert {"staff", "kb-editor"} <= set(claims["realm_access"]["roles"])
    assert not (ROLES - {"staff", "kb-editor"}) & set(claims["realm_access"]["roles"])


def test_user_without_roles_gets_no_appliance_role(endpoints: dict[str, Any]) -> None:
    user = _user(endpoints, "sun.li")
    token = _token(endpoints, user["username"], user["password"]).json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["groups"] == ["/dept/legal"]
    assert not ROLES & set(claims["realm_access"]["roles"])


def test_keycloak_rejects_a_wrong_password(endpoints: dict[str, Any]) -> None:
    response = _token(endpoints, "zhang.wei", "not-the-password")
    # OAuth 2.0 (RFC 6749 5.2): bad resource-owner credentials are a 400 invalid_grant.
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_postgres_rejects_password_less_and_superuser_tcp_logins(
    endpoints: dict[str, Any],
) -> None:
    for user in ("appliance_gateway", "appliance_migrator", "appliance_owner", "postgres"):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(host="127.0.0.1", port=55432, user=user, dbname="appliance")
    with pytest.raises(psycopg.OperationalError, match="rejects"):
        psycopg.connect(
            host="127.0.0.1", port=55432, user="postgres", dbname="appliance", password="x"
        )


def test_gateway_role_cannot_create_tables(endpoints: dict[str, Any]) -> None:
    with (
        psycopg.connect(_libpq(endpoints["database_url"])) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("CREATE TABLE runtime_test_forbidden (x int)")


def test_vllm_answers_with_reasoning_and_content(endpoints: dict[str, Any]) -> None:
    response = httpx.post(
        f"{endpoints['backends'][0]}/v1/chat/completions",
        headers=_replica_key(endpoints),
        json={"model": endpoints["model"], "messages": QUESTION, "max_tokens": 64},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    assert message["reasoning"].strip()
    assert message["content"].strip()
    assert "think>" not in message["content"] + message["reasoning"]


def test_vllm_streams_reasoning_then_content(endpoints: dict[str, Any]) -> None:
    deltas: list[dict[str, Any]] = []
    with httpx.stream(
        "POST",
        f"{endpoints['backends'][0]}/v1/chat/completions",
        headers=_replica_key(endpoints),
        json={"model": endpoints["model"], "messages": QUESTION, "max_tokens": 64, "stream": True},
        timeout=120,
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                deltas += [c["delta"] for c in json.loads(line[6:])["choices"]]
    reasoning = "".join(d.get("reasoning") or "" for d in deltas)
    content = "".join(d.get("content") or "" for d in deltas)
    assert reasoning.strip() and content.strip()
    first_content = next(i for i, d in enumerate(deltas) if (d.get("content") or "").strip())
    assert not any(d.get("reasoning") for d in deltas[first_content:])


def test_settings_file_points_the_gateway_at_the_local_services(
    endpoints: dict[str, Any],
) -> None:
    lines = (VAR / "appliance.env").read_text().splitlines()
    values = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert values["APPLIANCE_DATABASE_URL"] == endpoints["database_url"]
    assert values["APPLIANCE_MIGRATION_DATABASE_URL"] == endpoints["owner_database_url"]
    assert values["APPLIANCE_BACKENDS"] == endpoints["backends"][0]
    assert values["APPLIANCE_KEYCLOAK__ISSUER"] == endpoints["keycloak"]["issuer"]
    key = Path(values["APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE"])
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert os.stat(key).st_mode & 0o077 == 0


def test_staff_user_chats_through_the_gateway(endpoints: dict[str, Any]) -> None:
    user = _user(endpoints, "zhang.wei")
    token = _token(endpoints, user["username"], user["password"]).json()["access_token"]
    response = httpx.post(
        f"{endpoints['gateway_url']}/v1/chat/completions",
        headers={"Authorization": f"Bearer {token}"},
        json={"model": endpoints["model"], "messages": QUESTION, "max_tokens": 64},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    assert message["reasoning_content"].strip() and message["content"].strip()


def test_the_model_is_reached_only_through_the_gateway(endpoints: dict[str, Any]) -> None:
    """vLLM refuses a request without its key (or with another), the way a user or program
    on the machine would try it; the same question through the gateway, which holds the
    key, is answered; the key is in vLLM's environment, not on its command line."""
    chat = f"{endpoints['backends'][0]}/v1/chat/completions"
    body = {"model": endpoints["model"], "messages": QUESTION, "max_tokens": 8}
    assert httpx.post(chat, json=body, timeout=30).status_code == 401
    wrong = {"Authorization": "Bearer not-the-key"}
    assert httpx.post(chat, json=body, headers=wrong, timeout=30).status_code == 401
    assert httpx.get(f"{endpoints['backends'][0]}/v1/models", timeout=10).status_code == 401

    user = _user(endpoints, "zhang.wei")
    token = _token(endpoints, user["username"], user["password"]).json()["access_token"]
    response = httpx.post(
        f"{endpoints['gateway_url']}/v1/chat/completions",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
        timeout=120,
    )
    assert response.status_code == 200, response.text
    pid = int((VAR / "run" / "vllm.pid").read_text())
    assert endpoints["backend_api_key"] not in " ".join(psutil.Process(pid).cmdline())
