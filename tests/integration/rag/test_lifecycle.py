"""Deleting and re-indexing: results change at once, and nothing half-ingested is visible."""

from __future__ import annotations

import socket

from sqlalchemy import update

from appliance.errors import NotFound
from appliance.rag.config import EmbeddingSettings
from appliance.rag.embeddings import HttpEmbedder
from appliance.rag.models import Document
from appliance.rag.schemas import UploadedFile
from appliance.rag.service import KnowledgeService

DOC = "# 车辆管理规定\n\n公务用车须提前一天在OA系统中申请，由行政部统一调度。\n".encode()


async def test_deleted_document_leaves_results_immediately(
    knowledge: KnowledgeService, person
) -> None:  # type: ignore[no-untyped-def]
    editor = person("li.na", "/dept/admin", roles=("staff", "kb-editor"))
    kb = await knowledge.create_kb(editor, "行政制度", "/dept/admin")
    [result] = await knowledge.ingest_files(editor, kb.id, [UploadedFile(name="cars.md", data=DOC)])
    assert result.id is not None
    hits = await knowledge.search(editor, "公务用车怎么申请", [kb.id], 5)
    own = [h.chunk_id for h in hits if h.document_id == result.id]
    assert own

    await knowledge.delete_document(editor, kb.id, result.id)

    hits = await knowledge.search(editor, "公务用车怎么申请", [kb.id], 5)
    assert all(h.document_id != result.id for h in hits)
    assert await knowledge.get_chunks(editor, own) == []
    assert [d for d in await knowledge.list_documents(editor, kb.id) if d.id == result.id] == []


async def test_deleting_a_knowledge_base_removes_its_chunks(
    knowledge: KnowledgeService, person
) -> None:  # type: ignore[no-untyped-def]
    editor = person("li.na", "/dept/fleet", roles=("staff", "kb-editor"))
    kb = await knowledge.create_kb(editor, "车队", "/dept/fleet")
    await knowledge.ingest_files(editor, kb.id, [UploadedFile(name="cars.md", data=DOC)])
    await knowledge.delete_kb(editor, kb.id)
    hits = await knowledge.search(editor, "公务用车怎么申请", top_k=50)
    assert all(h.kb_id != kb.id for h in hits)
    try:
        await knowledge.list_documents(editor, kb.id)
    except NotFound:
        return
    raise AssertionError("a deleted knowledge base is still listed")


async def test_reindex_keeps_the_document_searchable(knowledge: KnowledgeService, person) -> None:  # type: ignore[no-untyped-def]
    editor = person("li.na", "/dept/hr", roles=("staff", "kb-editor"))
    kb = await knowledge.create_kb(editor, "人事", "/dept/hr")
    [first] = await knowledge.ingest_files(editor, kb.id, [UploadedFile(name="cars.md", data=DOC)])
    assert first.id is not None
    again = await knowledge.reindex_document(editor, kb.id, first.id)
    assert again.status == "ready" and again.id == first.id
    hits = await knowledge.search(editor, "公务用车", [kb.id], 10)
    assert len([h for h in hits if h.document_id == first.id]) == again.chunks


async def test_a_document_that_is_not_ready_is_never_searchable(
    knowledge: KnowledgeService,
    sessions,
    person,  # type: ignore[no-untyped-def]
) -> None:
    editor = person("li.na", "/dept/ops", roles=("staff", "kb-editor"))
    kb = await knowledge.create_kb(editor, "运维", "/dept/ops")
    [doc] = await knowledge.ingest_files(editor, kb.id, [UploadedFile(name="cars.md", data=DOC)])
    for status in ("queued", "processing", "failed"):
        async with sessions.begin() as session:
            await session.execute(
                update(Document).where(Document.id == doc.id).values(status=status)
            )
        hits = await knowledge.search(editor, "公务用车怎么申请", [kb.id], 10)
        assert hits == [], status


async def test_embedding_service_down_fails_the_file_and_keeps_it_out_of_search(
    sessions,
    person,  # type: ignore[no-untyped-def]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = HttpEmbedder(EmbeddingSettings(url=f"http://127.0.0.1:{port}/v1", timeout_s=2))
    service = KnowledgeService(sessions, down)
    editor = person("li.na", "/dept/down", roles=("staff", "kb-editor"))
    kb = await service.create_kb(editor, "停机", "/dept/down")
    [result] = await service.ingest_files(editor, kb.id, [UploadedFile(name="cars.md", data=DOC)])
    assert (result.status, result.error_code) == ("failed", "embedding_unavailable")
    [listed] = await service.list_documents(editor, kb.id)
    assert listed.status == "failed" and listed.chunks == 0
    await down.aclose()
