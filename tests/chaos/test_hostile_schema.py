"""Hostile input, 1: schemathesis against the gateway's own OpenAPI document.

The gateway serves ``/openapi.json`` to authenticated callers (see
``appliance.gateway.edge.openapi`` for why not publicly). schemathesis generates requests from
it (valid and invalid bodies, parameters, methods, missing auth) and checks every answer:
no 5xx, the status documented, the body matching the documented model (errors as OpenAI's
error object), content types and headers as declared.

It runs against this test's OWN gateway process (the current code) in front of the fast
stub backend, so generated chats never reach the slow CPU vLLM; PostgreSQL and Keycloak
are the shared ones and the tokens are real. Three runs, one per role, so role-gated routes
are exercised by a caller who may use them: li.na (staff, kb-editor of /dept/finance) for
the OpenAI surface, her own conversations and the knowledge bases, liu.yang (auditor) for
``/api/audit``, chen.jie (sysadmin) for ``/api/admin`` and ``/metrics``; schemathesis's
``ignored_auth`` check also replays cases without the token.

What is left out, and why:

- the ``positive_data_acceptance`` check: it demands 2xx for every schema-valid request,
  but some rules are not schema (a ``rag`` chat needs a user message with text, a knowledge
  base's group must be one the caller manages, a chat must not exceed the per-model
  context); those answer a documented 400/403, which the other checks verify;
- the ``stateful`` phase: it chains ids from listings into DELETE, and li.na's listing
  includes the shared demo knowledge bases other tests rely on. Destructive routes still
  run: against random ids (404) and against a throwaway knowledge base and document made
  for the run, whose ids the hooks in ``hostile_st_hooks`` mix into generated paths.
"""

from __future__ import annotations

import base64
import collections
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.gateways import Gateway
from tests.support.hostile import hostile_gateway
from tests.support.record import REPO, full_scale, record, scaled
from tests.support.stubs import Stub

ST = Path(sys.executable).parent / "st"
DEMO_KB = "财务制度 / Finance policies"
CHECKS = ["--checks", "all", "--exclude-checks", "positive_data_acceptance"]
# (user, operations by path, examples per operation at short and full scale). Each run
# gets a fresh token (they live 5 minutes). The audit routes read the whole log per call
# (export streams every row), so they get fewer.
# The account routes act on the Keycloak realm every other test signs in to, so they are
# read only here (a generated reset or disable would lock out a demo user mid-suite); their
# changes are covered by the accounts and every-change-audited integration tests.
RUNS: list[tuple[str, str, tuple[int, int], list[str]]] = [
    ("li.na", r"^/(healthz|readyz|v1/|api/me|api/conversations)", (4, 130), []),
    ("li.na", r"^/api/kb", (4, 130), []),
    ("liu.yang", r"^/api/audit/", (2, 40), []),
    ("chen.jie", r"^/(api/admin/(?!accounts/)|metrics)", (3, 120), []),
    (
        "chen.jie",
        r"^/api/admin/accounts/",
        (3, 120),
        ["--exclude-method-regex", "(?i)^(post|put|patch|delete)$"],
    ),
]


@pytest.fixture(scope="module")
def own_gateway(services: dict[str, Any]) -> tuple[Gateway, Stub]:
    return hostile_gateway(str(services["model"]))


def _throwaway_kb(client: httpx.Client, headers: dict[str, str]) -> tuple[str, str]:
    created = client.post(
        "/api/kb",
        headers=headers,
        json={"name": f"chaos-schema-{uuid.uuid4().hex[:8]}", "group": "/dept/finance"},
    )
    assert created.status_code == 201, created.text
    kb_id = str(created.json()["id"])
    files = {"files": ("note.txt", b"A throwaway note for generated requests.")}
    uploaded = client.post(f"/api/kb/{kb_id}/documents", headers=headers, files=files)
    assert uploaded.status_code == 200, uploaded.text
    return kb_id, str(uploaded.json()["documents"][0]["id"])


def _conversation_ids(client: httpx.Client, headers: dict[str, str]) -> set[str]:
    listed = client.get("/api/conversations", headers=headers)
    assert listed.status_code == 200, listed.text
    return {c["id"] for c in listed.json()["conversations"]}


def _throwaway_conversation(client: httpx.Client, headers: dict[str, str]) -> str:
    created = client.post("/api/conversations", headers=headers, json={"title": "chaos-schema"})
    assert created.status_code == 201, created.text
    conversation_id = str(created.json()["id"])
    message = {"role": "user", "content": "A throwaway question for generated requests."}
    path = f"/api/conversations/{conversation_id}/messages"
    added = client.post(path, headers=headers, json=message)
    assert added.status_code == 201, added.text
    return conversation_id


def _kb_ids(client: httpx.Client, headers: dict[str, str]) -> set[str]:
    listed = client.get("/api/kb", headers=headers)
    assert listed.status_code == 200, listed.text
    return {kb["id"] for kb in listed.json()["knowledge_bases"]}


def _shared_state(client: httpx.Client, headers: dict[str, str]) -> dict[str, int]:
    """The demo knowledge bases (not made by a test) and their document counts."""
    state: dict[str, int] = {}
    for kb in client.get("/api/kb", headers=headers).json()["knowledge_bases"]:
        if kb["name"] == DEMO_KB:
            listed = client.get(f"/api/kb/{kb['id']}/documents", headers=headers)
            state[kb["id"]] = len(listed.json()["documents"])
    return state


def _run_schemathesis(
    gateway: Gateway,
    schema_file: Path,
    token: str,
    paths: str,
    examples: int,
    env: dict[str, str],
    extra: list[str],
) -> Path:
    report_dir = schema_file.parent / f"report-{uuid.uuid4().hex[:6]}"
    argv = [
        str(ST), "run", str(schema_file), "--url", gateway.url,
        "-H", f"Authorization: Bearer {token}", *CHECKS,
        "--max-examples", str(examples), "--phases", "examples,coverage,fuzzing",
        "--include-path-regex", paths, "--no-shrink", "--seed", "20261128",
        "--request-timeout", "60", "--report", "ndjson", "--report-dir", str(report_dir),
        *extra,
    ]  # fmt: skip
    completed = subprocess.run(
        argv,
        cwd=schema_file.parent,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    output = completed.stdout[-6000:] + completed.stderr[-2000:]
    assert completed.returncode == 0, f"schemathesis found problems:\n{output}"
    return next(report_dir.glob("*.ndjson"))


def _tally(ndjson: Path, created: list[str]) -> dict[str, Any]:
    """Cases, statuses and failed checks from schemathesis's event stream; the ids of the
    knowledge bases it created are appended to ``created``."""
    statuses: collections.Counter[str] = collections.Counter()
    failed: collections.Counter[str] = collections.Counter()
    bodies_with_traces = 0
    cases = 0
    for line in ndjson.read_text().splitlines():
        event = json.loads(line)
        recorder = event.get("ScenarioFinished", {}).get("recorder", {})
        for interaction in recorder.get("interactions", {}).values():
            response = interaction.get("response")
            if response is None:
                continue
            cases += 1
            statuses[str(response["status_code"])] += 1
            content = base64.b64decode(response.get("content", {}).get("$base64", ""))
            if recorder["label"] == "POST /api/kb" and response["status_code"] == 201:
                created.append(str(json.loads(content)["id"]))
            bodies_with_traces += b"Traceback" in content or b'File "' in content
        for checks in recorder.get("checks", {}).values():
            for check in checks:
                if check["status"] == "failure":
                    failed[check["name"]] += 1
    return {
        "cases": cases,
        "statuses": dict(statuses),
        "failed_checks": dict(failed),
        "bodies_with_traces": bodies_with_traces,
    }


def test_generated_requests_get_documented_answers(
    own_gateway: tuple[Gateway, Stub], tokens: Any, services: dict[str, Any], tmp_path: Path
) -> None:
    gateway, stub = own_gateway
    started = time.monotonic()
    with httpx.Client(base_url=gateway.url, timeout=60) as client:
        assert client.get("/openapi.json").status_code == 401
        editor = tokens.headers("li.na")
        document = client.get("/openapi.json", headers=editor)
        assert document.status_code == 200
        schema_file = tmp_path / "openapi.json"
        schema_file.write_text(document.text)
        shared_before = _shared_state(client, editor)
        kb_id, document_id = _throwaway_kb(client, editor)
        conversations_before = _conversation_ids(client, editor)
        conversation_id = _throwaway_conversation(client, editor)
        models = client.get("/v1/models", headers=editor).json()["data"]
        hook_env = {
            "SCHEMATHESIS_HOOKS": "tests.support.hostile_st_hooks",
            "CHAOS_ST_CHAT_MODEL": str(models[0]["id"]),
            "CHAOS_ST_EMBEDDING_MODEL": "intfloat/multilingual-e5-small",
            "CHAOS_ST_KB_ID": kb_id,
            "CHAOS_ST_DOCUMENT_ID": document_id,
            "CHAOS_ST_CONVERSATION_ID": conversation_id,
        }
        runs: dict[str, Any] = {}
        created = [kb_id]
        try:
            for user, paths, (short, full), extra in RUNS:
                examples = full if full_scale() else short
                ndjson = _run_schemathesis(
                    gateway, schema_file, tokens(user), paths, examples, hook_env, extra
                )
                tally = _tally(ndjson, created)
                runs[" ".join([user, paths, *extra])] = {"max_examples": examples, **tally}
        finally:
            # Only what this run made: other tests create knowledge bases as li.na too.
            for leftover in created:
                client.delete(f"/api/kb/{leftover}", headers=tokens.headers("li.na"))
            # li.na's conversations from before the run are left alone; the run's go.
            made = _conversation_ids(client, tokens.headers("li.na")) - conversations_before
            for leftover in made:
                client.delete(f"/api/conversations/{leftover}", headers=tokens.headers("li.na"))
        assert not set(created) & _kb_ids(client, tokens.headers("li.na"))
        assert _conversation_ids(client, tokens.headers("li.na")) == conversations_before
        assert _shared_state(client, tokens.headers("li.na")) == shared_before
    log = gateway.log_path.read_text(errors="replace")
    unhandled = log.count("unhandled error in request")
    total = sum(run["cases"] for run in runs.values())
    server_errors = sum(
        n for run in runs.values() for status, n in run["statuses"].items() if int(status) >= 500
    )
    record(
        "hostile_schema",
        {
            "cases": total,
            "server_errors_5xx": server_errors,
            "schema_violations": sum(sum(run["failed_checks"].values()) for run in runs.values()),
            "unhandled_errors_logged": unhandled,
            "bodies_with_stack_traces": sum(run["bodies_with_traces"] for run in runs.values()),
            "stub_chat_requests": stub.chat_requests(),
            "operations_documented": len(document.json()["paths"]),
            "runs": runs,
            "duration_s": round(time.monotonic() - started, 1),
        },
    )
    assert total >= scaled(150, 2000)
    assert server_errors == 0
    assert unhandled == 0
    assert all(not run["failed_checks"] for run in runs.values()), runs
    assert all(run["bodies_with_traces"] == 0 for run in runs.values())
