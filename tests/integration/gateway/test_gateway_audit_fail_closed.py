"""With the audit store refusing writes, knowledge-base changes are refused (503
``audit_unavailable``) and change nothing, and ``/readyz`` says not ready, with the reason.

The gateway under test runs on its own scratch database of the runtime's cluster, so the
audit store can be made to refuse writes (INSERT revoked from the gateway role) while the
knowledge-base tables stay writable: a refused change then shows that the gateway checked
the audit store first, not that the database was down. The auditor API's verification and
its ``skip_signatures`` switch are checked on the same gateway (this tree's code).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from tests.support.kb import EDITOR, md_file
from tests.support.postgres import scratch as scratch_db
from tests.support.postgres.databases import ScratchDb
from tests.support.scratch_gateway import scratch_gateway_fixtures

if TYPE_CHECKING:
    from tests.support.gateways import Gateway
    from tests.support.tokens import Tokens

# One scratch database and gateway for the module (a gateway takes seconds of CPU to start):
# each test leaves the audit store taking writes again, and counts only what it adds.
scratch, gateway = scratch_gateway_fixtures("gw_fail_closed")


def _scalar(db: ScratchDb, query: str, *params: object) -> Any:
    with db.superuser() as conn:
        row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "audit_unavailable"


def test_knowledge_base_changes_are_refused_and_change_nothing(
    gateway: Gateway, scratch: ScratchDb, tokens: Tokens
) -> None:
    headers = tokens.headers(EDITOR)
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=300) as client:
        created = client.post("/api/kb", json={"name": "kept", "group": "/dept/finance"})
        assert created.status_code == 201, created.text
        kb_id = created.json()["id"]
        uploaded = client.post(
            f"/api/kb/{kb_id}/documents", files=[md_file("a.md", "# A\n\nfirst document")]
        )
        assert uploaded.status_code == 200, uploaded.text
        doc_id = uploaded.json()["documents"][0]["id"]
        doc_sql = "SELECT count(*) FROM documents WHERE kb_id = %s"
        stamp_sql = "SELECT updated_at FROM documents WHERE id = %s"
        stamp = _scalar(scratch, stamp_sql, doc_id)

        with scratch_db.audit_refused(scratch):
            _refused(client.post("/api/kb", json={"name": "never", "group": "/dept/finance"}))
            _refused(
                client.post(f"/api/kb/{kb_id}/documents", files=[md_file("b.md", "# B\n\nsecond")])
            )
            _refused(client.post(f"/api/kb/{kb_id}/documents/{doc_id}/reindex"))
            _refused(client.delete(f"/api/kb/{kb_id}/documents/{doc_id}"))
            _refused(client.delete(f"/api/kb/{kb_id}"))

        assert _scalar(scratch, "SELECT count(*) FROM knowledge_bases WHERE name = 'never'") == 0
        assert _scalar(scratch, "SELECT count(*) FROM knowledge_bases WHERE id = %s", kb_id) == 1
        assert _scalar(scratch, doc_sql, kb_id) == 1
        assert _scalar(scratch, stamp_sql, doc_id) == stamp
        listed = client.get(f"/api/kb/{kb_id}/documents")
        assert [d["name"] for d in listed.json()["documents"]] == ["a.md"]

        # Each change that went through left its intent before its outcome.
        deleted = client.delete(f"/api/kb/{kb_id}")
        assert deleted.status_code == 204, deleted.text
        request_id = deleted.headers["x-request-id"]
        phases = _phases(scratch, request_id)
        assert phases[0] == ("pending", "begin")
        assert _scalar(scratch, "SELECT count(*) FROM knowledge_bases WHERE id = %s", kb_id) == 0


def _phases(db: ScratchDb, request_id: str) -> list[tuple[str, str]]:
    """The (outcome, phase) of a request's kb.action rows in order (the end may lag)."""
    with db.superuser() as conn:
        rows = conn.execute(
            "SELECT outcome, detail->>'phase' FROM audit_events "
            "WHERE request_id = %s AND event_type = 'kb.action' ORDER BY seq",
            (request_id,),
        ).fetchall()
    return [(str(outcome), str(phase)) for outcome, phase in rows]


def test_readyz_is_not_ready_while_the_audit_store_refuses_writes(
    gateway: Gateway, scratch: ScratchDb
) -> None:
    ready = httpx.get(f"{gateway.url}/readyz", timeout=30)
    assert ready.status_code == 200, ready.text
    assert ready.json() | {"backends": 1} == {
        "status": "ready",
        "database": True,
        "backends": 1,
        "audit": True,
        "reason": None,
    }
    with scratch_db.audit_refused(scratch):
        refused = httpx.get(f"{gateway.url}/readyz", timeout=30)
        assert refused.status_code == 503
        body = refused.json()
        assert (body["status"], body["database"], body["audit"]) == ("not_ready", True, False)
        assert body["reason"] == "audit_store_refuses_writes"
    again = httpx.get(f"{gateway.url}/readyz", timeout=30)
    assert again.status_code == 200, again.text


def test_readyz_is_not_ready_after_a_failed_write_until_one_commits(
    gateway: Gateway, scratch: ScratchDb, tokens: Tokens
) -> None:
    """A refused write (a knowledge-base change's intent) marks the writer; readiness commits a
    marker event, which succeeds once the store takes writes again."""
    resumed = "SELECT count(*) FROM audit_events WHERE detail->>'reason' = 'audit_writes_resumed'"
    before = _scalar(scratch, resumed)
    with scratch_db.audit_refused(scratch):
        refused = httpx.post(
            f"{gateway.url}/api/kb",
            json={"name": "never", "group": "/dept/finance"},
            headers=tokens.headers(EDITOR),
            timeout=30,
        )
        _refused(refused)
    ready = httpx.get(f"{gateway.url}/readyz", timeout=30)
    assert ready.status_code == 200, ready.text
    assert _scalar(scratch, resumed) == before + 1


def test_verify_requires_signatures_unless_skipped_with_a_warning(
    gateway: Gateway, tokens: Tokens
) -> None:
    auditor = tokens.headers(tokens.with_role("auditor"))
    checked = httpx.post(f"{gateway.url}/api/audit/verify", headers=auditor, timeout=60)
    assert checked.status_code == 200, checked.text
    report = checked.json()
    assert report["ok"] is True
    assert (report["signatures_skipped"], report["warning"]) == (False, "")
    skipped = httpx.post(
        f"{gateway.url}/api/audit/verify",
        json={"skip_signatures": True},
        headers=auditor,
        timeout=60,
    )
    assert skipped.status_code == 200, skipped.text
    assert skipped.json()["signatures_skipped"] is True
    assert "NOT verified" in skipped.json()["warning"]
    bad = httpx.post(
        f"{gateway.url}/api/audit/verify", json={"skip_signatures": "maybe"}, headers=auditor
    )
    assert bad.status_code == 422
