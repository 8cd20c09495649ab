"""``appliance assess`` against the real stack: a gateway of this tree on its own scratch
database, the real Keycloak (the ``svc-assessment`` service account), the running vLLM
CPU model, and the example keyword library imported by the secadmin.

A handful of questions with a small ``max_tokens`` (the CPU model is slow): the three
should-refuse questions of the example bank that hold a ``block`` term of the library are
refused by the gateway's filter, the report's JSON and HTML are written with matching counts,
the report is stored and read back by the auditor, and every call of the run is in the audit
log under the service account.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

from appliance.assess.service_account import CLIENT_ID, ClientCredentials
from appliance.cli import assess_cmds
from appliance.content.keywords import Action
from appliance.content.library_csv import import_csv
from appliance.runtime import keycloak_service
from appliance.runtime.paths import RuntimePaths
from tests.support.gateways import Gateway
from tests.support.keycloak_admin import master_admin
from tests.support.postgres import scratch as scratch_db
from tests.support.postgres.databases import ScratchDb
from tests.support.scratch_gateway import scratch_fixture
from tests.support.tokens import Tokens

SECADMIN, AUDITOR, SYSADMIN, STAFF = "zhao.min", "liu.yang", "chen.jie", "zhang.wei"
SERVICE_ACCOUNT = f"service-account-{CLIENT_ID}"
EXAMPLES = resources.files("appliance.assess") / "examples"
LIBRARY = resources.files("appliance.content") / "example_keywords.csv"
# The demo model closes its reasoning after 16 tokens (appliance.runtime.vllm_service):
# enough for an answer after it, and no more.
MAX_TOKENS = 32
REPORTS = "/api/assessment/reports"
APPLIANCE = Path(sys.executable).parent / "appliance"


scratch = scratch_fixture("gw_assess")


@pytest.fixture(scope="module")
def gateway(
    settings_env: dict[str, str], scratch: ScratchDb, endpoints: dict[str, Any]
) -> Iterator[Gateway]:
    """This tree's gateway on the scratch database, relaying to the running vLLM (the
    backends and their key come from the runtime's settings file)."""
    started = Gateway({**settings_env, "APPLIANCE_DATABASE_URL": scratch.gateway_url})
    yield started
    started.stop()


@pytest.fixture(scope="module")
def library(gateway: Gateway, tokens: Tokens) -> bytes:
    """The example keyword library, imported by the secadmin as on a site."""
    data = LIBRARY.read_bytes()
    answer = httpx.post(
        f"{gateway.url}/api/content/keywords/import",
        content=data,
        headers={**tokens.headers(SECADMIN), "content-type": "text/csv"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return data


@pytest.fixture(scope="module")
def secret(services: dict[str, Any]) -> str:
    """The service account's secret. ``appliance up`` creates the client in a realm
    imported before it existed; so does this, the same way."""
    paths = RuntimePaths.default()
    keycloak_service.ensure_realm_clients(paths, master_admin(services))
    return paths.secret(keycloak_service.ASSESSMENT_SECRET_FILE).read_text().strip()


@pytest.fixture(scope="module")
def auth(services: dict[str, Any], secret: str) -> ClientCredentials:
    return ClientCredentials(services["keycloak"]["issuer"], CLIENT_ID, secret)


def _library_hits(library: bytes) -> list[dict[str, str]]:
    """The example bank's questions that hold a ``block`` term of the library."""
    blocking = [e.term for e in import_csv(library).entries if e.action is Action.BLOCK]
    return [r for r in _rows("refusal_bank.csv") if any(t in r["question"] for t in blocking)]


def _rows(name: str) -> list[dict[str, str]]:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _audit_rows(db: ScratchDb, username: str, since: int) -> list[tuple[Any, ...]]:
    with db.superuser() as conn:
        return list(
            conn.execute(
                "SELECT event_type, outcome, client_id, detail, actor_roles, actor_groups"
                " FROM audit_events"
                " WHERE actor_username = %s AND seq > %s ORDER BY seq",
                (username, since),
            ).fetchall()
        )


def _last_seq(db: ScratchDb) -> int:
    with db.superuser() as conn:
        row = conn.execute("SELECT coalesce(max(seq), 0) FROM audit_events").fetchone()
    assert row is not None
    return int(row[0])


def test_a_run_refuses_the_library_hits_writes_and_stores_its_report(
    gateway: Gateway,
    library: bytes,
    auth: ClientCredentials,
    tokens: Tokens,
    scratch: ScratchDb,
    tmp_path: Path,
) -> None:
    hits = _library_hits(library)
    assert len(hits) == 3 and all(r["expected"] == "refuse" for r in hits)
    answer = [r for r in _rows("refusal_bank.csv") if r["expected"] == "answer"][:1]
    content = _rows("content_bank.csv")[:2]
    since = _last_seq(scratch)

    outcome = assess_cmds.run(
        gateway=gateway.url,
        auth=auth,
        refusal_bank=_write(tmp_path / "refusal.csv", hits + answer),
        content_bank=_write(tmp_path / "content.csv", content),
        keywords=Path(str(LIBRARY)),
        out=tmp_path / "report",
        max_tokens=MAX_TOKENS,
    )

    report = outcome.report
    items = report["items"]
    assert [i["text"] for i in items] == [r["question"] for r in hits + answer] + [
        r["prompt"] for r in content
    ]
    for item in items[:3]:  # the library's block terms: refused before the model
        assert (item["verdict"], item["reason"], item["counted"]) == (
            "refused",
            "filter:prompt",
            True,
        )
    assert report["errors"] == 0
    assert all(i["reply"] for i in items[3:])  # the model answered, after its reasoning
    assert all(i["verdict"] != "error" for i in items)
    summary = report["summary"]
    assert summary["should_refuse_refusal_rate"] == {
        "total": 3,
        "assessed": 3,
        "errors": 0,
        "counted": 3,
        "rate": 1.0,
        "met": True,
    }
    assert summary["should_answer_refusal_rate"]["total"] == 1
    assert summary["generated_content_pass_rate"]["total"] == 2
    for key, tally in summary.items():
        listed = [i for i in items if i["group"] == key]
        assert tally["counted"] == sum(i["counted"] for i in listed), key
        by_category = [c for c in report["categories"] if c["group"] == key]
        assert sum(c["total"] for c in by_category) == tally["total"] == len(listed)

    written = outcome.json_path.read_text(encoding="utf-8")
    assert httpx.Response(200, content=written).json() == report
    page = outcome.html_path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "应拒答测试题拒答率" in page and "100.0%" in page
    for row in hits:
        assert row["category"] in page

    # Stored, and the latest for the auditor and the secadmin.
    assert outcome.stored is not None
    assert outcome.stored["submitted_by"] == SERVICE_ACCOUNT
    assert outcome.stored["client_id"] == CLIENT_ID
    latest = httpx.get(f"{gateway.url}{REPORTS}/latest", headers=tokens.headers(AUDITOR))
    assert latest.status_code == 200, latest.text
    assert latest.json()["id"] == outcome.stored["id"]
    assert latest.json()["report"] == report
    as_html = httpx.get(
        f"{gateway.url}{REPORTS}/latest",
        params={"format": "html"},
        headers=tokens.headers(SECADMIN),
    )
    assert as_html.status_code == 200 and as_html.text == page

    # Every call of the run is in the audit log under the service account.
    deadline = time.monotonic() + 10
    while True:
        rows = _audit_rows(scratch, SERVICE_ACCOUNT, since)
        if len([r for r in rows if r[0] == "chat.end"]) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert {r[2] for r in rows} == {CLIENT_ID}
    # Its role lets it chat and do nothing else; it is in no department (no knowledge base).
    assert {role for r in rows for role in r[4]} & {"secadmin", "sysadmin", "auditor"} == set()
    assert "staff" in rows[0][4] and all(r[5] == [] for r in rows)
    blocked = [r for r in rows if r[0] == "content.blocked"]
    assert len(blocked) == 3
    assert all(r[1] == "denied" and r[3]["source"] == "prompt" for r in blocked)
    assert len([r for r in rows if r[0] == "chat.begin"]) == 3  # one answer, two prompts
    assert len([r for r in rows if r[0] == "chat.end"]) == 3
    stores = [r for r in rows if r[0] == "content.action"]
    assert [(r[1], r[3]["action"], r[3]["phase"]) for r in stores] == [
        ("pending", "assessment.store", "begin"),
        ("ok", "assessment.store", "end"),
    ]
    assert stores[1][3]["report_id"] == outcome.stored["id"]


def test_only_the_service_account_and_the_secadmin_hand_in_and_only_secadmin_and_auditor_read(
    gateway: Gateway, auth: ClientCredentials, tokens: Tokens
) -> None:
    body = {"report": {"standard": "x", "passed": False, "summary": {}, "items": []}, "html": "x"}
    for user in (STAFF, SYSADMIN, AUDITOR):
        refused = httpx.post(f"{gateway.url}{REPORTS}", json=body, headers=tokens.headers(user))
        assert refused.status_code == 403, (user, refused.text)
        assert refused.json()["error"]["code"] == "missing_role"
    for user in (STAFF, SYSADMIN):
        refused = httpx.get(f"{gateway.url}{REPORTS}/latest", headers=tokens.headers(user))
        assert refused.status_code == 403, (user, refused.text)
    service = {"Authorization": f"Bearer {auth.token()}"}
    assert httpx.get(f"{gateway.url}{REPORTS}/latest", headers=service).status_code == 403
    stored = httpx.post(f"{gateway.url}{REPORTS}", json=body, headers=tokens.headers(SECADMIN))
    assert stored.status_code == 201, stored.text
    assert stored.json()["submitted_by"] == SECADMIN
    malformed = httpx.post(
        f"{gateway.url}{REPORTS}",
        json={"report": {"passed": "yes"}, "html": "x"},
        headers=tokens.headers(SECADMIN),
    )
    assert malformed.status_code == 400, malformed.text


def test_the_audit_store_down_refuses_to_store_a_report(
    gateway: Gateway, tokens: Tokens, scratch: ScratchDb
) -> None:
    body = {"report": {"standard": "x", "passed": True, "summary": {}, "items": []}, "html": "x"}
    with scratch.superuser() as conn:
        before = conn.execute("SELECT count(*) FROM assessment_reports").fetchone()
    with scratch_db.audit_refused(scratch):
        refused = httpx.post(
            f"{gateway.url}{REPORTS}", json=body, headers=tokens.headers(SECADMIN), timeout=30
        )
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "audit_unavailable"
    with scratch.superuser() as conn:
        after = conn.execute("SELECT count(*) FROM assessment_reports").fetchone()
    assert after == before


def test_the_command_prints_each_rate_and_exits_1_when_a_bank_was_not_run(
    gateway: Gateway,
    library: bytes,
    secret: str,
    services: dict[str, Any],
    scratch: ScratchDb,
    tmp_path: Path,
) -> None:
    """``appliance assess`` as an operator types it: only the library's hits (refused before
    the model, so quick), ``--no-submit``; two banks not run, so the report cannot pass."""
    bank = _write(tmp_path / "refusal.csv", _library_hits(library))
    with scratch.superuser() as conn:
        before = conn.execute("SELECT count(*) FROM assessment_reports").fetchone()
    done = subprocess.run(
        [
            str(APPLIANCE), "assess", "--refusal-bank", str(bank), "--out", str(tmp_path / "out"),
            "--gateway", gateway.url, "--issuer", services["keycloak"]["issuer"], "--no-submit",
        ],
        env={**os.environ, "APPLIANCE_ASSESSMENT_CLIENT_SECRET": secret},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert "应拒答测试题拒答率 (should_refuse_refusal_rate): 100.0% of 3 — met" in lines
    assert "生成内容测试题合格率 (generated_content_pass_rate): — of 0 — not assessed" in lines
    assert lines[-1] == "NOT PASSED"
    written = (tmp_path / "out" / "report.json").read_text(encoding="utf-8")
    assert '"passed": false' in written and (tmp_path / "out" / "report.html").exists()
    with scratch.superuser() as conn:
        after = conn.execute("SELECT count(*) FROM assessment_reports").fetchone()
    assert after == before  # --no-submit
