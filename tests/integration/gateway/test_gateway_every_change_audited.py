"""Every change route of the gateway, as its OpenAPI document lists them, is fail-closed.

``ROUTES`` has one entry per POST/PUT/PATCH/DELETE operation of ``/openapi.json``: who calls
it, with what body, and whether it is a change or only reads ("read-like", with the reason).
A mutating operation without an entry fails :func:`test_every_mutating_route_has_an_entry`,
so no route can be added without this test calling it with the audit store down.

The gateway runs from this working tree on its own scratch database (INSERT on
``audit_events`` revoked from its role while the routes are called, as in
``test_gateway_audit_fail_closed.py``) and the shared Keycloak (the accounts client's
secret). Each change must answer 503 ``audit_unavailable`` and leave the database tables and
the Keycloak realm as they were; chat completions, already fail-closed, must too, before the
backend hears of it. The one batch route, the user import, audits each row as a change of
its own (so the one-time passwords of rows already made are not lost): it answers 200 with
every row refused as ``audit_unavailable``, and counts as refused.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from keycloak import KeycloakAdmin
from psycopg import sql

from appliance.gateway.app import create_app
from tests.support.gateways import chat_body
from tests.support.kb import EDITOR, md_file
from tests.support.keycloak_admin import accounts_client_secret, master_admin
from tests.support.postgres import scratch as scratch_db
from tests.support.postgres.databases import ScratchDb

if TYPE_CHECKING:
    from tests.support.gateways import Gateway
    from tests.support.stubs import Stub
    from tests.support.tokens import Tokens

RUN = secrets.token_hex(3)
SYSADMIN, SECADMIN, STAFF = "chen.jie", "zhao.min", "zhang.wei"
NEW_USER, NEW_CLIENT, NEW_GROUP = (
    f"t{RUN}-never",
    f"t{RUN}-never-client",
    f"/dept/t{RUN}-never",
)
MUTATING = ("post", "put", "patch", "delete")
# The audit tables are left out: nothing can be appended while INSERT is revoked, and the
# outcomes of the preparing changes and the writer's resume marker land after it.
TABLES = (
    "knowledge_bases",
    "documents",
    "chunks",
    "conversations",
    "conversation_messages",
    "keyword_libraries",
    "keyword_entries",
    "assessment_reports",
    "complaints",
    "api_keys",
    "api_key_policies",
)


@dataclass(frozen=True)
class Route:
    """How to call one operation: the caller (a username, or a role for a generated one),
    the body (``files`` for multipart), and for a read-like one why it changes nothing."""

    user: str
    body: Any = None
    files: bool = False
    # A CSV file as the whole body (the keyword library's import).
    csv: str = ""
    read_like: str = ""
    # A batch whose rows are each a change of their own: 200, every row refused.
    per_row: bool = False


ROUTES: dict[str, Route] = {
    "POST /v1/chat/completions": Route(STAFF, "chat"),
    "POST /v1/embeddings": Route(
        STAFF, {"model": "{model}", "input": "hello"}, read_like="computes vectors, stores none"
    ),
    "POST /api/audit/verify": Route(
        "role:auditor", {}, read_like="reads the audit chain and reports on it"
    ),
    "POST /api/kb/search": Route(
        EDITOR, {"query": "first document"}, read_like="reads the chunks it may see"
    ),
    "POST /api/admin/accounts/users": Route(SYSADMIN, {"username": NEW_USER}),
    "POST /api/admin/accounts/users/import": Route(
        SYSADMIN, {"users": [{"username": f"{NEW_USER}-imported"}]}, per_row=True
    ),
    "POST /api/admin/accounts/users/{username}/disable": Route(SYSADMIN),
    "POST /api/admin/accounts/users/{username}/enable": Route(SYSADMIN),
    "POST /api/admin/accounts/users/{username}/reset-password": Route(SYSADMIN),
    "POST /api/admin/accounts/users/{username}/roles": Route(SYSADMIN, {"grant": ["kb-editor"]}),
    "POST /api/admin/accounts/groups": Route(SYSADMIN, {"path": NEW_GROUP}),
    "POST /api/admin/accounts/groups/members": Route(
        SYSADMIN, {"group": "/dept/finance", "username": STAFF}
    ),
    "POST /api/admin/accounts/clients": Route(SYSADMIN, {"name": NEW_CLIENT}),
    "POST /api/admin/accounts/clients/{client_id}/disable": Route(SYSADMIN),
    "POST /api/kb": Route(EDITOR, {"name": "never", "group": "/dept/finance"}),
    "DELETE /api/kb/{kb_id}": Route(EDITOR),
    "PUT /api/kb/{kb_id}/pii-policy": Route(EDITOR, {"policy": "reject"}),
    "PUT /api/kb/{kb_id}/grade": Route(EDITOR, {"grade": "核心"}),
    "PUT /api/kb/{kb_id}/documents/{document_id}/grade": Route(EDITOR, {"grade": "重要"}),
    "POST /api/kb/{kb_id}/documents": Route(EDITOR, files=True),
    "DELETE /api/kb/{kb_id}/documents/{document_id}": Route(EDITOR),
    "POST /api/kb/{kb_id}/documents/{document_id}/reindex": Route(EDITOR),
    "POST /api/content/keywords/import": Route(
        SECADMIN, csv="id,term,category,match,action\nnever-1,never-term,test,normalised,block\n"
    ),
    "POST /api/assessment/reports": Route(
        SECADMIN,
        {"report": {"standard": "never", "passed": False, "summary": {}, "items": []}, "html": "x"},
    ),
    "POST /api/conversations": Route(STAFF, {"title": "never"}),
    "PATCH /api/conversations/{conversation_id}": Route(STAFF, {"title": "never"}),
    "DELETE /api/conversations/{conversation_id}": Route(STAFF),
    "POST /api/conversations/{conversation_id}/messages": Route(
        STAFF, {"role": "user", "content": "never"}
    ),
    "DELETE /api/conversations/{conversation_id}/last-answer": Route(STAFF),
    "POST /api/complaints": Route(
        STAFF,
        {"conversation_id": "{conversation_id}", "position": 2, "category": "other", "reason": "x"},
    ),
    "POST /api/complaints/{complaint_id}/transition": Route(
        SECADMIN, {"state": "handled", "note": "never"}
    ),
    "POST /api/keys": Route(STAFF, {"name": "never"}),
    "DELETE /api/keys/{key_id}": Route(STAFF),
    "PUT /api/content/api-key-policy": Route(SECADMIN, {"max_days": 30}),
    "POST /api/service-keys": Route(
        SYSADMIN, {"integration": "never", "name": "never", "daily_token_quota": 1}
    ),
    "DELETE /api/service-keys/{key_id}": Route(SYSADMIN),
}


def _mutating(document: dict[str, Any]) -> list[str]:
    return [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
        if method in MUTATING
    ]


def test_every_mutating_route_has_an_entry() -> None:
    """A new change route fails here until ``ROUTES`` says how it is called (no services)."""
    operations = _mutating(create_app().openapi())
    assert sorted(set(operations) - set(ROUTES)) == []
    assert sorted(set(ROUTES) - set(operations)) == []


@pytest.fixture
def scratch(services: dict[str, Any]) -> Iterator[ScratchDb]:
    with scratch_db.temporary(services, "gw_every_change") as db:
        yield db


@pytest.fixture(scope="module")
def master(services: dict[str, Any]) -> KeycloakAdmin:
    return master_admin(services)


@pytest.fixture
def stub(stubs: Callable[[], Stub]) -> Stub:
    return stubs()


@pytest.fixture
def gateway(scratch: ScratchDb, stub: Stub, spawn_gateway: Callable[..., Gateway]) -> Gateway:
    return spawn_gateway(
        [stub.url],
        database_url=scratch.gateway_url,
        keycloak__accounts_client_secret=accounts_client_secret(),
        api_keys__pepper=secrets.token_urlsafe(24),
    )


def _database_state(db: ScratchDb) -> dict[str, str]:
    """A digest of every row of the tables a change route may touch."""
    digest = (
        "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') "
        "FROM {} t"
    )
    state: dict[str, str] = {}
    with db.superuser() as conn:
        for table in TABLES:
            row = conn.execute(sql.SQL(digest).format(sql.Identifier(table))).fetchone()
            state[table] = str(row[0] if row else "")
    return state


def _keycloak_state(master: KeycloakAdmin, client_id: str) -> dict[str, Any]:
    """What the account routes could change: the staff user's flag, roles, groups and
    credentials, the new names' absence, and every client's enabled flag."""
    staff = master.get_user_id(STAFF)
    assert staff is not None, f"{STAFF} is missing from the realm"
    new_group = master.get_group_by_path(NEW_GROUP)
    return {
        "new_users": [master.get_user_id(n) for n in (NEW_USER, f"{NEW_USER}-imported")],
        "new_group": new_group.get("id") if isinstance(new_group, dict) else None,
        "staff_enabled": master.get_user(staff)["enabled"],
        "staff_roles": sorted(r["name"] for r in master.get_realm_roles_of_user(staff)),
        "staff_groups": sorted(g["path"] for g in master.get_user_groups(staff)),
        "staff_credentials": sorted(
            (c["id"], c.get("createdDate")) for c in master.get_credentials(staff)
        ),
        "clients": sorted((c["clientId"], c.get("enabled")) for c in master.get_clients()),
        "client_made_here": master.get_client_id(client_id) is not None,
    }


@dataclass
class Targets:
    kb_id: str
    document_id: str
    conversation_id: str
    client_id: str
    complaint_id: int
    key_id: str


def _prepare(client: httpx.Client, tokens: Tokens) -> Targets:
    """What the routes act on, made while the audit store still takes writes."""
    editor, staff = tokens.headers(EDITOR), tokens.headers(STAFF)
    kb = client.post("/api/kb", json={"name": "kept", "group": "/dept/finance"}, headers=editor)
    assert kb.status_code == 201, kb.text
    kb_id = kb.json()["id"]
    files = [md_file("a.md", "# A\n\nfirst document")]
    uploaded = client.post(f"/api/kb/{kb_id}/documents", files=files, headers=editor)
    assert uploaded.status_code == 200, uploaded.text
    conversation = client.post("/api/conversations", json={"title": "kept"}, headers=staff)
    assert conversation.status_code == 201, conversation.text
    cid = conversation.json()["id"]
    for role, content in (("user", "question"), ("assistant", "answer")):
        added = client.post(
            f"/api/conversations/{cid}/messages",
            json={"role": role, "content": content},
            headers=staff,
        )
        assert added.status_code in (200, 201), added.text
    flagged = client.post(
        "/api/complaints",
        json={"conversation_id": cid, "position": 2, "category": "other", "reason": "kept"},
        headers=staff,
    )
    assert flagged.status_code == 201, flagged.text
    made = client.post(
        "/api/admin/accounts/clients",
        json={"name": f"t{RUN}-kept-client"},
        headers=tokens.headers(SYSADMIN),
    )
    assert made.status_code == 201, made.text
    key = client.post("/api/keys", json={"name": "kept"}, headers=staff)
    assert key.status_code == 201, key.text
    # Service keys exist only while the key policy allows them.
    policy = client.put(
        "/api/content/api-key-policy",
        json={"max_days": 30, "service_keys": True},
        headers=tokens.headers(SECADMIN),
    )
    assert policy.status_code == 200, policy.text
    return Targets(
        kb_id,
        uploaded.json()["documents"][0]["id"],
        cid,
        made.json()["client_id"],
        flagged.json()["id"],
        key.json()["id"],
    )


def _call(
    client: httpx.Client, tokens: Tokens, key: str, route: Route, targets: Targets, model: str
) -> httpx.Response:
    method, template = key.split(" ", 1)
    path = template.format(
        username=STAFF,
        client_id=targets.client_id,
        kb_id=targets.kb_id,
        document_id=targets.document_id,
        conversation_id=targets.conversation_id,
        complaint_id=targets.complaint_id,
        key_id=targets.key_id,
    )
    user = route.user
    headers = tokens.headers(
        tokens.with_role(user.removeprefix("role:")) if user.startswith("role:") else user
    )
    if route.files:
        return client.request(
            method, path, files=[md_file("b.md", "# B\n\nsecond")], headers=headers
        )
    if route.csv:
        return client.request(
            method,
            path,
            content=route.csv.encode(),
            headers={**headers, "content-type": "text/csv"},
        )
    body = route.body
    if body == "chat":
        body = chat_body(model)
    elif isinstance(body, dict) and body.get("model") == "{model}":
        body = {**body, "model": model}
    elif isinstance(body, dict) and body.get("conversation_id") == "{conversation_id}":
        body = {**body, "conversation_id": targets.conversation_id}
    return client.request(method, path, json=body, headers=headers)


REFUSED, REFUSED_PER_ROW = "audit_unavailable", "audit_unavailable on every row"


def _answer(answer: httpx.Response, route: Route) -> tuple[int, str]:
    """The status and error code; a per-row batch's rows all refused read as one code."""
    body = answer.json() if answer.content else {}
    if route.per_row and answer.status_code == 200:
        rows = body["results"]
        if rows and all(not r["ok"] and r["error"] == REFUSED for r in rows):
            return 200, REFUSED_PER_ROW
        return 200, f"rows: {rows}"
    code = body.get("error", {}).get("code", "") if isinstance(body, dict) else ""
    return answer.status_code, str(code)


def test_every_change_route_is_refused_and_changes_nothing_while_audit_is_down(
    gateway: Gateway,
    scratch: ScratchDb,
    stub: Stub,
    tokens: Tokens,
    master: KeycloakAdmin,
    served_model: str,
) -> None:
    made_clients: list[str] = []
    try:
        with httpx.Client(base_url=gateway.url, timeout=300) as client:
            document = client.get("/openapi.json", headers=tokens.headers(STAFF))
            assert document.status_code == 200, document.text
            operations = _mutating(document.json())
            assert sorted(set(operations) - set(ROUTES)) == [], "routes without an entry"
            targets = _prepare(client, tokens)
            made_clients.append(f"t{RUN}-kept-client")
            made_clients += [NEW_CLIENT]
            before = (_database_state(scratch), _keycloak_state(master, targets.client_id))
            chats_before = stub.chat_requests()
            statuses: dict[str, tuple[int, str]] = {}
            with scratch_db.audit_refused(scratch):
                for key in operations:
                    answer = _call(client, tokens, key, ROUTES[key], targets, served_model)
                    statuses[key] = _answer(answer, ROUTES[key])
            after = (_database_state(scratch), _keycloak_state(master, targets.client_id))
            chats_after = stub.chat_requests()
    finally:
        for name in made_clients:
            if (internal := master.get_client_id(name)) is not None:
                master.delete_client(internal)

    changes = [k for k in operations if not ROUTES[k].read_like]
    refused = [k for k in changes if statuses[k][1] in (REFUSED, REFUSED_PER_ROW)]
    lines = [f"{'route':<62} {'kind':<10} answer"]
    for key in operations:
        route = ROUTES[key]
        status, code = statuses[key]
        kind = "read-like" if route.read_like else "change"
        why = f"  ({route.read_like})" if route.read_like else ""
        lines.append(f"{key:<62} {kind:<10} {status} {code}{why}")
    changed_db = [t for t in TABLES if before[0][t] != after[0][t]]
    changed_kc = [k for k in before[1] if before[1][k] != after[1][k]]
    lines.append(
        f"{len(operations)} mutating routes: {len(changes)} changes, "
        f"{len(operations) - len(changes)} read-like; {len(refused)} refused with 503; "
        f"{len(changed_db) + len(changed_kc)} changes made; "
        f"{len(changes) - len(refused)} unaudited changes"
    )
    lines.append(f"changed: tables {changed_db}, Keycloak {changed_kc}")
    print("\n" + "\n".join(lines))
    assert refused == changes, "\n".join(lines)
    assert all(statuses[k][0] == 503 for k in changes if not ROUTES[k].per_row)
    assert statuses["POST /v1/chat/completions"] == (503, "audit_unavailable")
    assert chats_after == chats_before, "the backend heard a chat while the audit store was down"
    assert changed_db == [], f"tables changed: {changed_db}"
    assert changed_kc == [], f"Keycloak changed: {changed_kc}"
