"""Plumbing shared by the hostile-input scenarios: one gateway of the current code, and a
legal-department knowledge base full of canaries.

The scenarios talk to their own gateway process (the working tree's code, not the shared
gateway on 8080 that runs whatever was started with ``make up``) in front of the fast stub
backend, with the shared PostgreSQL and Keycloak. It is started once per test process on
first use and stopped when the process exits, so the scenarios do not each pay for its
start-up (it loads the embedding model).

No demo user is a kb-editor of /dept/legal, so the canary knowledge base is made through
the product's own service layer (:class:`KnowledgeService`, what the gateway's routes call)
as a legal kb-editor principal, in the shared database; every scenario deletes its own.
"""

from __future__ import annotations

import atexit
import functools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import text

from appliance.auth.principal import Principal
from appliance.db.session import create_engine, create_session_factory
from appliance.rag.config import RagSettings
from appliance.rag.embeddings import Embedder, build_embedder
from appliance.rag.schemas import UploadedFile
from appliance.rag.service import KnowledgeService
from tests.support.gateways import Gateway
from tests.support.stubs import Stub

LEGAL_EDITOR = Principal(
    subject="chaos-legal-editor",
    username="chaos.legal.editor",
    roles=frozenset({"staff", "kb-editor"}),
    groups=frozenset({"/dept/legal"}),
)

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
# Per-user limits far above what one scenario sends, so only what a scenario tests refuses.
# Load shedding by event-loop lag is off: on a busy 2-core machine it would turn requests
# into 503s that say nothing about hostile input (the load scenarios test shedding).
_SETTINGS = {
    "APPLIANCE_LIMITS__PER_USER_CONCURRENCY": "64",
    "APPLIANCE_LIMITS__DAILY_TOKEN_QUOTA": "1000000000",
    "APPLIANCE_LIMITS__MAX_LOOP_LAG_MS": "0",
    # Small upload limits, so the oversized-file cases cost megabytes, not the default 50.
    "APPLIANCE_RAG__MAX_FILE_BYTES": str(MAX_FILE_BYTES),
    "APPLIANCE_RAG__MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
}


@functools.cache
def hostile_gateway(model: str) -> tuple[Gateway, Stub]:
    """The gateway (and its stub backend serving ``model``), started on first call."""
    stub = Stub(model)
    stub.control(zero_usage=True)
    try:
        gateway = Gateway({"APPLIANCE_BACKENDS": stub.url, **_SETTINGS})
    except BaseException:
        stub.stop()
        raise
    atexit.register(stub.stop)
    atexit.register(gateway.stop)
    return gateway, stub


@asynccontextmanager
async def knowledge_service(
    database_url: str, embedder: Embedder | None = None
) -> AsyncIterator[KnowledgeService]:
    """The product's knowledge service on the shared database, as the gateway builds it."""
    settings = RagSettings()
    engine = create_engine(database_url, pool_size=4)
    own = embedder is None
    used = build_embedder(settings.embedding) if embedder is None else embedder
    try:
        yield KnowledgeService(create_session_factory(engine), used, settings)
    finally:
        if own:
            await used.aclose()
        await engine.dispose()


@dataclass
class CanaryKb:
    """A /dept/legal knowledge base whose every document carries the run's canary marks."""

    kb_id: uuid.UUID
    token: str
    canaries: list[str]
    document_ids: set[str] = field(default_factory=set)
    chunk_ids: set[str] = field(default_factory=set)
    vectors: list[list[float]] = field(default_factory=list)

    def leaks_in(self, payload: str) -> list[str]:
        """Which canary marks or legal ids a response body contains."""
        marks = [self.token, str(self.kb_id), *self.document_ids, *self.chunk_ids]
        return [mark for mark in marks if mark in payload]


def _canary_documents(token: str) -> dict[str, str]:
    return {
        "诉讼备忘录.md": (
            f"# 诉讼备忘录 {token}\n\n## 和解条件\n\n机密：案件代号 LEGAL{token} 的和解金额上限为"
            f" 380 万元，仅限法务部知悉。出差住宿、报销标准与本案无关。{token}\n"
        ),
        "contract-review.md": (
            f"# Contract review {token}\n\nConfidential: the settlement cap for matter "
            f"LEGAL{token} is 3.8 million yuan. Travel expenses and hotel limits are not "
            f"covered here. Canary {token}.\n"
        ),
        "合规清单.txt": (
            f"合规清单 {token}：保密协议、竞业限制、劳动合同续签。预算、报销、差旅住宿每晚"
            f"上限 650 元请咨询财务部。LEGAL{token}\n"
        ),
    }


async def create_canary_kb(service: KnowledgeService, database_url: str) -> CanaryKb:
    """Create and index the canary knowledge base; read back its ids and vectors."""
    token = f"CNRY{uuid.uuid4().hex[:12].upper()}"
    kb = await service.create_kb(
        LEGAL_EDITOR, f"chaos-legal-canary-{token}", "/dept/legal", "Chaos suite canaries."
    )
    documents = _canary_documents(token)
    files = [UploadedFile(name=name, data=body.encode()) for name, body in documents.items()]
    results = await service.ingest_files(LEGAL_EDITOR, kb.id, files)
    assert all(r.status == "ready" for r in results), results
    canary = CanaryKb(kb.id, token, [token, f"LEGAL{token}", *documents.values()])
    canary.document_ids = {str(r.id) for r in results}
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT id, embedding::text FROM chunks WHERE kb_id = :kb"), {"kb": kb.id}
            )
            for chunk_id, vector in rows:
                canary.chunk_ids.add(str(chunk_id))
                canary.vectors.append([float(x) for x in vector.strip("[]").split(",")])
    finally:
        await engine.dispose()
    assert canary.chunk_ids
    return canary


async def delete_canary_kb(service: KnowledgeService, canary: CanaryKb) -> None:
    await service.delete_kb(LEGAL_EDITOR, canary.kb_id)
