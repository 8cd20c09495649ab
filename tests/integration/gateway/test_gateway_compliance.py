"""The 等保 compliance export from a running gateway: who may fetch it, what the ZIP holds,
that its manifest's SHA-256 and SM3 hashes match every file and each file's GB 45438 label
verifies, that the export is audited, that an account's last sign-in is the realm's stored
LOGIN event even once its session has ended, and that ``appliance compliance export``
writes it.

A gateway of the working tree on the shared PostgreSQL and Keycloak (with the accounts
client's secret, as a deployed gateway has), tokens of the demo realm's users.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
import httpx
import pytest
from gmssl import sm3

from appliance.labels.files import verify as verify_label
from tests.support.audit import find_audit_event
from tests.support.gateways import Gateway
from tests.support.keycloak_admin import accounts_client_secret
from tests.support.stubs import Stub
from webui.gateway_client import GatewayClient
from webui.i18n import Lang
from webui.ui_compliance import compliance_file

if TYPE_CHECKING:
    from tests.support.tokens import Tokens

SECADMIN, AUDITOR, STAFF, SYSADMIN = "zhao.min", "liu.yang", "zhang.wei", "chen.jie"
# Signs in once in this module, and its session is ended at once.
DORMANT = "wang.fang"
SECTIONS = {
    "accounts.json",
    "permissions.json",
    "audit_statistics.json",
    "retention.json",
    "keyword_library.json",
    "assessment.json",
}
APPLIANCE = Path(sys.executable).parent / "appliance"


@pytest.fixture(scope="module")
def gateway(settings_env: dict[str, str], stub: Stub) -> Iterator[Gateway]:
    started = Gateway(
        {
            **settings_env,
            "APPLIANCE_BACKENDS": stub.url,
            "APPLIANCE_KEYCLOAK__ACCOUNTS_CLIENT_SECRET": accounts_client_secret(),
        }
    )
    yield started
    started.stop()


def _export(gateway: Gateway, tokens: Tokens, user: str) -> httpx.Response:
    return httpx.get(
        f"{gateway.url}/api/compliance/export", headers=tokens.headers(user), timeout=120
    )


def _sm3(data: bytes) -> str:
    return str(sm3.sm3_hash(list(data)))


def _files(response: httpx.Response) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _document(data: bytes) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(data)
    return document


@pytest.mark.parametrize("user", [STAFF, SYSADMIN])
def test_other_roles_are_refused(gateway: Gateway, tokens: Tokens, user: str) -> None:
    response = _export(gateway, tokens, user)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "missing_role"
    assert httpx.get(f"{gateway.url}/api/compliance/export", timeout=60).status_code == 401


@pytest.mark.parametrize("user", [SECADMIN, AUDITOR])
def test_the_export_holds_every_section_hashed_and_labelled(
    gateway: Gateway, tokens: Tokens, user: str
) -> None:
    response = _export(gateway, tokens, user)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    files = _files(response)
    assert set(files) == SECTIONS | {"manifest.json"}

    manifest = _document(files["manifest.json"])
    assert set(manifest["files"]) == SECTIONS
    for name in SECTIONS:
        entry = manifest["files"][name]
        assert entry["size"] == len(files[name])
        assert entry["sha256"] == hashlib.sha256(files[name]).hexdigest()
        assert entry["sm3"] == _sm3(files[name])
    for name, data in files.items():
        verdict = verify_label(name, data)
        assert verdict.ok, (name, verdict.problems)
        assert verdict.fields["ProduceID"] == manifest["produce_id"]
    recorded = find_audit_event(
        gateway.url,
        tokens,
        request_id=response.headers["x-request-id"],
        event_type="compliance.export",
    )
    assert recorded["actor_username"] == user
    assert recorded["detail"]["produce_id"] == manifest["produce_id"]


def test_the_sections_come_from_keycloak_the_routes_and_the_audit_log(
    gateway: Gateway, tokens: Tokens
) -> None:
    assert _export(gateway, tokens, AUDITOR).status_code == 200
    files = _files(_export(gateway, tokens, SECADMIN))

    users = {u["username"]: u for u in _document(files["accounts.json"])["users"]}
    assert users[SECADMIN]["roles"] == ["secadmin"]
    assert users[AUDITOR]["roles"] == ["auditor"]
    # Signed in for this test's token: the realm's LOGIN event says when.
    assert users[SECADMIN]["last_sign_in"] is not None
    assert users[SECADMIN]["last_sign_in_source"] == "event"

    matrix = _document(files["permissions.json"])
    routes = {(r["method"], r["path"]): r for r in matrix["routes"]}
    export = routes[("GET", "/api/compliance/export")]
    assert export["required_roles"] == ["secadmin", "auditor"]
    assert {k for k, v in export["roles"].items() if v} == {"secadmin", "auditor"}
    assert routes[("POST", "/v1/chat/completions")]["required_roles"] == ["staff"]
    assert routes[("GET", "/api/audit/events")]["required_roles"] == ["auditor"]
    assert routes[("GET", "/healthz")]["access"] == "public"

    counts = _document(files["audit_statistics.json"])["by_month"]
    exports = [c for c in counts if c["event_type"] == "compliance.export" and c["outcome"] == "ok"]
    assert sum(c["events"] for c in exports) >= 1

    retention = _document(files["retention.json"])
    assert retention["retention_days"] >= 180
    assert retention["oldest_live_seq"] >= 1
    assert isinstance(retention["archives"], list)

    library = _document(files["keyword_library.json"])
    assert "version" in library
    assessment = _document(files["assessment.json"])
    if not assessment["recorded"]:
        assert assessment["message"] == "no assessment is recorded"
    else:
        assert {"model", "passed", "report"} <= set(assessment)


def test_last_sign_in_is_the_login_event_after_its_session_ended(
    gateway: Gateway, tokens: Tokens
) -> None:
    """A sign-in at Keycloak's real token endpoint, its session ended at once: the export
    still knows it, from the realm's stored LOGIN event, not from an open session."""
    now = datetime.now(UTC)
    before = now.replace(microsecond=now.microsecond // 1000 * 1000)  # Keycloak keeps ms
    signed_in = httpx.post(
        tokens.token_url,
        data={
            "grant_type": "password",
            "client_id": tokens.client_id,
            "username": DORMANT,
            "password": tokens.password(DORMANT),
            "scope": "openid",
        },
        timeout=10,
    )
    assert signed_in.status_code == 200, signed_in.text
    ended = httpx.post(
        tokens.token_url.removesuffix("/token") + "/logout",
        data={"client_id": tokens.client_id, "refresh_token": signed_in.json()["refresh_token"]},
        timeout=10,
    )
    assert ended.status_code == 204, ended.text

    response = _export(gateway, tokens, AUDITOR)
    assert response.status_code == 200, response.text
    accounts = _document(_files(response)["accounts.json"])
    assert "LOGIN event" in accounts["source"]
    row = next(u for u in accounts["users"] if u["username"] == DORMANT)
    assert row["last_sign_in_source"] == "event"
    assert datetime.fromisoformat(row["last_sign_in"]) >= before
    assert datetime.fromisoformat(row["last_sign_in"]) <= datetime.now(UTC)


def test_the_cli_writes_the_export(gateway: Gateway, tokens: Tokens, tmp_path: Path) -> None:
    env = {**os.environ, "APPLIANCE_TOKEN": tokens(AUDITOR)}
    done = subprocess.run(
        [str(APPLIANCE), "compliance", "export", "--out", str(tmp_path), "--gateway", gateway.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    written = list(tmp_path.glob("compliance-*.zip"))
    assert len(written) == 1
    with zipfile.ZipFile(written[0]) as archive:
        assert set(archive.namelist()) == SECTIONS | {"manifest.json"}
    refused = subprocess.run(
        [str(APPLIANCE), "compliance", "export", "--out", str(tmp_path), "--gateway", gateway.url],
        env={**env, "APPLIANCE_TOKEN": tokens(STAFF)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 1
    assert "missing_role" in refused.stderr


async def test_the_web_ui_buttons_fetch_the_export(gateway: Gateway, tokens: Tokens) -> None:
    """What the audit tab's and the secadmin tab's button run, against the gateway."""
    async with httpx.AsyncClient(timeout=120) as http:
        client = GatewayClient(gateway.url, http, chat_timeout_s=60)
        body, name = await client.compliance_export(tokens(SECADMIN), "en")
        assert name.startswith("compliance-") and name.endswith(".zip")
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            assert set(archive.namelist()) == SECTIONS | {"manifest.json"}
        _, status = await compliance_file(client, tokens(AUDITOR), Lang.EN)
        assert "SHA-256 and SM3 manifest" in status
        with pytest.raises(gr.Error):
            await compliance_file(client, tokens(STAFF), Lang.ZH)
