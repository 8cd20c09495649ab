"""The content-security and compliance features on the deployed site, through nginx/TLS as
their users reach them: the secadmin previews, applies and exports a keyword library and a
chat with one of its block terms is refused; a kb-editor's document graded above her
clearance is no longer retrieved; a complaint filed by staff is handled by the secadmin;
the compliance export's files match their manifest's SHA-256 and SM3, carry their labels,
and give a user who signed in a last sign-in from Keycloak's stored LOGIN events (the
events and the accounts client's ``view-events`` the keycloak role gives the realm).

Runs on the shared site before test_site (the add-a-node and upgrade tests), in about
half a minute; what it makes (a library entry, a knowledge base, a complaint) changes
nothing the later tests look at.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gmssl import sm3

from appliance.labels.files import verify as verify_label
from tests.support.deploy import bundle, deployed, nodes
from tests.support.deploy.deployed import Site

# The first of the site's tests to run may be the one that deploys it (10-25 minutes).
pytestmark = pytest.mark.timeout(3600)

TAG = secrets.token_hex(4)
SECADMIN, SECADMIN_PASSWORD = "qian.hua", secrets.token_hex(12)
RULE, TERM = f"DEPLOY-{TAG}", f"禁用词{TAG}"
CATEGORY = "A.1 违反社会主义核心价值观"
WORD = f"gradeword{TAG}"
SECTIONS = {
    "accounts.json",
    "permissions.json",
    "audit_statistics.json",
    "retention.json",
    "keyword_library.json",
    "assessment.json",
}
# Each gateway worker reloads an imported library within its reload interval (5 s).
RELOAD_WAIT_S = 30.0


def _client(site: Site, cluster: nodes.Cluster, user: str, password: str) -> httpx.Client:
    """``user`` signed in through nginx as the web UI signs in, calling the gateway."""
    inventory, vault, _ = site
    base = f"https://{cluster.control.address}"
    ctx = deployed.ca(inventory)
    token = deployed.token(base, ctx, vault["vault_keycloak_webui_client_secret"], user, password)
    return httpx.Client(
        base_url=base, verify=ctx, timeout=120, headers={"Authorization": f"Bearer {token}"}
    )


@pytest.fixture(scope="module")
def staff(site: Site, cluster: nodes.Cluster) -> Iterator[httpx.Client]:
    """li.na: staff and kb-editor of finance, no clearance (the lowest grade only)."""
    with _client(site, cluster, deployed.USER, deployed.PASSWORD) as client:
        yield client


@pytest.fixture(scope="module")
def secadmin(site: Site, cluster: nodes.Cluster, ssh_key: Path) -> Iterator[httpx.Client]:
    _, vault, _ = site
    admin = vault["vault_keycloak_admin_password"]
    deployed.add_user(
        cluster.control, ssh_key, admin, SECADMIN, SECADMIN_PASSWORD, ("secadmin",), None
    )
    with _client(site, cluster, SECADMIN, SECADMIN_PASSWORD) as client:
        yield client


def _import(client: httpx.Client, data: bytes, **params: str | int) -> httpx.Response:
    return client.post(
        "/api/content/keywords/import",
        content=data,
        params=params,
        headers={"content-type": "text/csv"},
    )


def _blocked(staff: httpx.Client, question: str) -> httpx.Response:
    """The chat's answer once every gateway worker filters with the new library."""
    body = {
        "model": bundle.MODEL_NAME,
        "messages": [{"role": "user", "content": question}],
        "max_tokens": 1,
    }
    deadline = time.monotonic() + RELOAD_WAIT_S
    while True:
        answer = staff.post("/v1/chat/completions", json=body)
        if answer.status_code != 200 or time.monotonic() > deadline:
            return answer
        time.sleep(1)


def test_the_secadmins_keyword_import_refuses_a_chat(
    secadmin: httpx.Client, staff: httpx.Client
) -> None:
    exported = secadmin.get("/api/content/keywords/export")
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    library = exported.content + f"{RULE},{TERM},{CATEGORY},normalised,block\r\n".encode()

    preview = _import(secadmin, library, dry_run="true")
    assert preview.status_code == 200, preview.text
    diff = preview.json()
    assert (diff["dry_run"], diff["applied"]) == (True, False)
    assert diff["counts"] == {"added": 1, "removed": 0, "changed": 0}
    assert [entry["id"] for entry in diff["added"]] == [RULE]
    applied = _import(secadmin, library, base_revision=diff["base_revision"])
    assert applied.status_code == 200, applied.text
    assert applied.json()["applied"] is True
    assert applied.json()["revision"] > diff["base_revision"]

    again = secadmin.get("/api/content/keywords/export")
    assert again.headers["x-library-revision"] == str(applied.json()["revision"])
    assert TERM in again.content.decode("utf-8-sig")
    workbook = secadmin.get("/api/content/keywords/export", params={"format": "xlsx"})
    assert workbook.status_code == 200, workbook.text
    assert workbook.content.startswith(b"PK")
    assert staff.get("/api/content/keywords/export").status_code == 403

    refused = _blocked(staff, f"请解释{TERM}是什么")
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "content_blocked"
    assert error["message"].startswith("您的请求包含内容安全策略不允许的内容")


def _found(staff: httpx.Client, kb_id: str) -> list[str]:
    """The texts of the search hits the reader gets from the knowledge base."""
    answer = staff.post("/api/kb/search", json={"query": WORD, "kb_ids": [kb_id], "top_k": 10})
    assert answer.status_code == 200, answer.text
    return [str(hit["text"]) for hit in answer.json()["results"]]


def test_a_document_graded_above_the_readers_clearance_is_not_retrieved(
    staff: httpx.Client,
) -> None:
    assert staff.get("/api/kb/grades").json() == {"grades": ["一般", "重要", "核心"]}
    made = staff.post(
        "/api/kb", json={"name": f"等级 {TAG}", "group": deployed.FINANCE, "grade": "一般"}
    )
    assert made.status_code == 201, made.text
    kb_id = made.json()["id"]
    upload = staff.post(
        f"/api/kb/{kb_id}/documents",
        files=[
            ("files", ("grades.txt", f"{WORD}: the branch's vault code.".encode(), "text/plain"))
        ],
    )
    assert upload.status_code in (200, 201), upload.text
    [document] = upload.json()["documents"]
    assert document["chunks"] >= 1, document
    assert any(WORD in text for text in _found(staff, kb_id))

    path = f"/api/kb/{kb_id}/documents/{document['id']}/grade"
    raised = staff.put(path, json={"grade": "重要"})
    assert raised.status_code == 200, raised.text
    assert (raised.json()["own_grade"], raised.json()["grade"]) == ("重要", "重要")
    assert _found(staff, kb_id) == []
    cleared = staff.put(path, json={"grade": None})
    assert cleared.status_code == 200 and cleared.json()["grade"] == "一般", cleared.text
    assert any(WORD in text for text in _found(staff, kb_id))
    whole = staff.put(f"/api/kb/{kb_id}/grade", json={"grade": "核心"})
    assert whole.status_code == 200 and whole.json()["grade"] == "核心", whole.text
    assert _found(staff, kb_id) == []


def test_staff_files_a_complaint_and_the_secadmin_handles_it(
    staff: httpx.Client, secadmin: httpx.Client
) -> None:
    conversation = deployed.save_conversation(
        staff, f"投诉 {TAG}", "差旅住宿标准是多少？", "每晚住宿上限为 6500 元。"
    )
    filed = staff.post(
        "/api/complaints",
        json={
            "conversation_id": conversation,
            "position": 2,
            "category": "false_information",
            "reason": f"上限应为 650 元 {TAG}",
        },
    )
    assert filed.status_code == 201, filed.text
    complaint = filed.json()
    assert (complaint["state"], complaint["reporter"]) == ("open", deployed.USER)

    queue = secadmin.get("/api/complaints", params={"state": "open", "limit": 200})
    assert queue.status_code == 200, queue.text
    assert complaint["id"] in [c["id"] for c in queue.json()["complaints"]]
    handled = secadmin.post(
        f"/api/complaints/{complaint['id']}/transition",
        json={"state": "handled", "note": "已更正知识库中的住宿标准"},
    )
    assert handled.status_code == 200, handled.text
    assert (handled.json()["state"], handled.json()["handler"]) == ("handled", SECADMIN)
    mine = {c["id"]: c["state"] for c in staff.get("/api/complaints/mine").json()}
    assert mine[complaint["id"]] == "handled"


def _document(data: bytes) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(data)
    return document


def test_the_compliance_export_is_hashed_and_knows_who_signed_in(
    staff: httpx.Client, secadmin: httpx.Client, cluster: nodes.Cluster, ssh_key: Path
) -> None:
    refused = staff.get("/api/compliance/export")
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "missing_role"

    response = secadmin.get("/api/compliance/export")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    assert set(files) == SECTIONS | {"manifest.json"}
    manifest = _document(files["manifest.json"])
    assert set(manifest["files"]) == SECTIONS
    for name in SECTIONS:
        entry = manifest["files"][name]
        assert entry["size"] == len(files[name]), name
        assert entry["sha256"] == hashlib.sha256(files[name]).hexdigest(), name
        assert entry["sm3"] == sm3.sm3_hash(list(files[name])), name
    for name, data in files.items():
        verdict = verify_label(name, data)
        assert verdict.ok, (name, verdict.problems)
        assert verdict.fields["ProduceID"] == manifest["produce_id"]

    # li.na and the secadmin signed in on Keycloak's page for this module's tokens: the
    # realm stored their LOGIN events and the accounts client may read them.
    users = {u["username"]: u for u in _document(files["accounts.json"])["users"]}
    for username in (deployed.USER, SECADMIN):
        assert users[username]["last_sign_in_source"] == "event", users[username]
        assert users[username]["last_sign_in"] is not None
    library = _document(files["keyword_library.json"])
    current = secadmin.get("/api/content/keywords/versions").json()["versions"][0]
    assert library["revision"] == current["revision"]

    recorded = deployed.psql(
        cluster.control,
        ssh_key,
        "SELECT actor_username, outcome FROM audit_events WHERE event_type = "
        f"'compliance.export' AND detail->>'produce_id' = '{manifest['produce_id']}'",
    )
    assert recorded == [f"{SECADMIN}|ok"], recorded
