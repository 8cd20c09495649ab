"""What the deployment tests do to a deployed site: run the `appliance` CLI, sign a user in
through nginx as the web UI does, and reach the control node's database and services."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import ssl
import subprocess
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.support.deploy import nodes

APPLIANCE = str(nodes.ROOT / ".venv" / "bin" / "appliance")
HOSTNAME = "ai.test.internal"
BUNDLE_DIR = "/opt/appliance-bundle/bundle"
# A finance kb-editor, made in Keycloak after the deploy (the deployed realm has no users).
USER, PASSWORD = "li.na", secrets.token_hex(12)
FINANCE = "/dept/finance"
# What the ``site`` fixture gives: the inventory, the vault's secrets, the first deploy.
Site = tuple[Path, dict[str, str], subprocess.CompletedProcess[str]]


def appliance(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [APPLIANCE, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def deploy(inventory: Path, vault: Path) -> subprocess.CompletedProcess[str]:
    return appliance("deploy", "-i", str(inventory), f"--vault-password-file={vault}", timeout=3000)


def require_ok(
    result: subprocess.CompletedProcess[str], machines: Iterable[nodes.Node], key: Path
) -> None:
    """Fail with the run's end; first keep each node's journal (var/deploy/<node>.journal.log)
    for what the Ansible message leaves out."""
    if result.returncode == 0:
        return
    for node in machines:
        journal = node.ssh("journalctl -b --no-pager -n 400 -o short-precise", key)
        (nodes.WORK / f"{node.name}.journal.log").write_text(journal.stdout + journal.stderr)
    raise AssertionError(result.stderr[-3000:] + "\n(node journals in var/deploy/*.journal.log)")


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The per-host recap lines of a run, by host."""
    lines = [line for line in result.stderr.splitlines() if " ok=" in line]
    return {line.split()[0]: line for line in lines}


def ca(inventory: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(inventory / "artifacts" / "internal-ca.crt"))


def add_user(
    control: nodes.Node,
    key: Path,
    admin_password: str,
    user: str = USER,
    password: str = PASSWORD,
    roles: tuple[str, ...] = ("staff", "kb-editor"),
    group: str | None = FINANCE,
) -> None:
    """A Keycloak user with a password we know, made with kcadm on the control node as the
    install runbook shows; by default li.na, staff and kb-editor in /dept/finance."""
    kcadm = "/opt/keycloak/current/bin/kcadm.sh"
    cfg = "--config /root/.kcadm.config"
    groups = f""" -s 'groups=["{group}"]'""" if group else ""
    first, _, last = user.title().partition(".")
    script = " && ".join(
        [
            f"{kcadm} config credentials {cfg} --server http://127.0.0.1:8180/auth "
            f"--realm master --user admin --password {admin_password}",
            f"{kcadm} create users {cfg} -r appliance -s username={user} -s enabled=true "
            f"-s firstName={first} -s lastName={last} -s email={user}@test.internal "
            f"-s emailVerified=true{groups}",
            f"{kcadm} set-password {cfg} -r appliance --username {user} --new-password {password}",
            f"{kcadm} add-roles {cfg} -r appliance --uusername {user} "
            + " ".join(f"--rolename {role}" for role in roles),
        ]
    )
    result = control.ssh(script, key)
    assert result.returncode == 0, result.stderr


def kcadm(control: nodes.Node, key: Path, admin_password: str, *commands: str) -> str:
    """Keycloak's ``kcadm.sh`` commands (``get events/config -r appliance``) on the control
    node, signed in as the master realm's admin as the runbooks do; the last one's output."""
    kc = "/opt/keycloak/current/bin/kcadm.sh"
    cfg = "--config /root/.kcadm.config"
    sign_in = (
        f"{kc} config credentials {cfg} --server http://127.0.0.1:8180/auth "
        f"--realm master --user admin --password {admin_password} >/dev/null"
    )
    # The options after the command's verb, as the runbooks and add_user place them.
    calls = [f"{kc} {verb} {cfg} {rest}" for verb, _, rest in (c.partition(" ") for c in commands)]
    script = " && ".join([sign_in, *calls])
    result = control.ssh(script, key)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def token(
    base: str, ctx: ssl.SSLContext, client_secret: str, user: str = USER, password: str = PASSWORD
) -> str:
    """The web UI client's authorization-code flow with PKCE, as a browser would do it."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    redirect = f"https://{HOSTNAME}/"
    realm = f"{base}/auth/realms/appliance/protocol/openid-connect"
    with httpx.Client(verify=ctx, timeout=30) as web:
        page = web.get(
            f"{realm}/auth",
            params={
                "client_id": "appliance-webui", "response_type": "code", "scope": "openid",
                "redirect_uri": redirect, "state": "s1",
                "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
            },
        )  # fmt: skip
        assert page.status_code == 200, page.text[:500]
        action = html.unescape(re.search(r'action="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
        action = action.replace(f"https://{HOSTNAME}", base)
        login = web.post(action, data={"username": user, "password": password})
        assert login.status_code == 302, login.text[:500]
        code = parse_qs(urlsplit(login.headers["location"]).query)["code"][0]
        answer = web.post(
            f"{realm}/token",
            data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
                "client_id": "appliance-webui", "client_secret": client_secret,
                "code_verifier": verifier,
            },
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])


def subject(access_token: str) -> str:
    """The token's ``sub``: whom the web UI files conversations under."""
    payload = access_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


def psql(control: nodes.Node, key: Path, sql: str) -> list[str]:
    """Rows (``a|b``) of a query on the control node's appliance database, as postgres."""
    quoted = sql.replace("'", "'\\''")
    result = control.ssh(f"runuser -u postgres -- psql -d appliance -tA -c '{quoted}'", key)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\n")[:-1] if result.stdout else []


def save_conversation(client: httpx.Client, title: str, question: str, answer: str) -> str:
    """File a conversation through the gateway's ``/api/conversations`` exactly as the web
    UI does (the client carries the user's own token); returns its id."""
    made = client.post("/api/conversations", json={"title": title})
    assert made.status_code == 201, made.text
    conversation_id = str(made.json()["id"])
    for message in (
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer, "reasoning": "..."},
    ):
        added = client.post(f"/api/conversations/{conversation_id}/messages", json=message)
        assert added.status_code == 201, added.text
    return conversation_id


def conversations(client: httpx.Client) -> list[dict[str, object]]:
    """The token's user's conversations with their messages as ``[role, content]`` pairs."""
    listed = client.get("/api/conversations")
    assert listed.status_code == 200, listed.text
    out: list[dict[str, object]] = []
    for item in listed.json()["conversations"]:
        found = client.get(f"/api/conversations/{item['id']}")
        assert found.status_code == 200, found.text
        messages = [[m["role"], m["content"]] for m in found.json()["messages"]]
        out.append({"id": item["id"], "title": item["title"], "messages": messages})
    return out
