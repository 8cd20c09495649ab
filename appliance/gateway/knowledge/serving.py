"""Knowledge-base operations as the gateway serves them: each one audited as ``kb.action``.

:class:`~appliance.rag.service.KnowledgeService` decides who may do what (staff read their
groups' knowledge bases, a kb-editor manages their department's; an unreadable one is 404,
never 403). Every call here, allowed or refused, leaves a ``kb.action`` audit event naming
the knowledge base and the documents involved; a search records the chunk ids it returned
and is committed before the results leave, so nothing is disclosed without its audit record.

A change (create, delete, upload, delete a document, reindex) is fail-closed, in the order
chat and the account routes use: its intent (outcome ``pending``, ``phase: begin``) is
committed first, and if the audit store cannot take it the caller gets 503
``audit_unavailable`` and nothing changes; then the change; then its outcome
(``phase: end``, or ``failed`` when it was refused before it began). Setting a knowledge
base's personal-information policy (``kb.pii_policy``) is such a change, open to whoever may
manage it; an upload refused for personal information (422) is recorded with the error
``personal_information``, and one whose chunks were masked with the kinds and counts
(``pii_masked``), never the values. So is a data grade (``kb.grade``, ``document.grade``),
the event naming the grade before and after.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from appliance.audit.events import AuditEvent, EventType, Outcome
from appliance.auth.principal import Principal
from appliance.errors import ApplianceError
from appliance.gateway.deps import CurrentPrincipal, State
from appliance.gateway.edge.audited_change import AuditedChange
from appliance.gateway.edge.caller import Caller
from appliance.gateway.state import AuditSink
from appliance.rag.config import RagSettings
from appliance.rag.grades import level_of
from appliance.rag.personal import PiiPolicy
from appliance.rag.schemas import DocumentOut, IngestResult, KnowledgeBaseOut, SearchHit
from appliance.rag.schemas import UploadedFile as ServiceFile
from appliance.rag.service import KnowledgeService


@dataclass(frozen=True, slots=True)
class KnowledgeContext:
    caller: Caller
    principal: Principal
    knowledge: KnowledgeService
    audit: AuditSink
    rag: RagSettings


async def knowledge_context(
    request: Request, principal: CurrentPrincipal, state: State
) -> KnowledgeContext:
    return KnowledgeContext(
        caller=Caller.of(request, principal),
        principal=principal,
        knowledge=state.knowledge,
        audit=state.audit,
        rag=state.settings.rag,
    )


CurrentKnowledge = Annotated[KnowledgeContext, Depends(knowledge_context)]


async def check_readable(
    knowledge: KnowledgeService, principal: Principal, kb_ids: Sequence[uuid.UUID] | None
) -> None:
    """Raise NotFound for the first knowledge base the caller may not read."""
    for kb_id in dict.fromkeys(kb_ids or ()):
        await knowledge.get_kb(principal, kb_id)


@asynccontextmanager
async def _audited(
    ctx: KnowledgeContext, action: str, *, kb_id: uuid.UUID | None = None, status: int = 200
) -> AsyncIterator[AuditEvent]:
    """Yield the ``kb.action`` event for the operation to fill in; commit it on success, or
    record the refusal or failure and re-raise."""
    detail: dict[str, object] = {"action": action}
    if kb_id is not None:
        detail["kb_id"] = str(kb_id)
    event = ctx.caller.event(EventType.KB_ACTION, Outcome.OK, http_status=status)
    event.detail = detail
    try:
        yield event
    except ApplianceError as exc:
        event.outcome = Outcome.DENIED if exc.status_code in (403, 404) else Outcome.ERROR
        event.http_status = exc.status_code
        detail["error"] = exc.code
        ctx.audit.submit(event)
        raise
    except Exception:
        event.outcome, event.http_status = Outcome.ERROR, 500
        ctx.audit.submit(event)
        raise
    await ctx.audit.commit(event)


@asynccontextmanager
async def _changed(
    ctx: KnowledgeContext, action: str, *, kb_id: uuid.UUID | None = None, status: int = 200
) -> AsyncIterator[AuditedChange]:
    """Audit one change: the operation calls ``begin()`` right before it changes anything;
    the outcome (ok, denied or error) is recorded after it, or after a refusal."""
    change = AuditedChange.of(ctx.caller, ctx.audit, EventType.KB_ACTION, action, status=status)
    if kb_id is not None:
        change.detail["kb_id"] = str(kb_id)
    async with change.recording(must_begin=True):
        yield change


async def create_kb(
    ctx: KnowledgeContext,
    name: str,
    group: str | None,
    description: str,
    pii_policy: PiiPolicy = PiiPolicy.ALLOW,
    *,
    grade: str | None = None,
) -> KnowledgeBaseOut:
    async with _changed(ctx, "kb.create", status=201) as change:
        change.event.detail |= {"name": name, "group": group, "pii_policy": str(pii_policy)}
        change.event.detail["grade"] = grade
        if grade is not None:
            level_of(grade, ctx.rag.grades)
        await change.begin()
        kb = await ctx.knowledge.create_kb(
            ctx.principal, name, group, description, pii_policy, grade=grade
        )
        change.event.detail["grade"] = kb.grade
        change.event.detail["kb_id"] = str(kb.id)
    return kb


async def set_pii_policy(
    ctx: KnowledgeContext, kb_id: uuid.UUID, policy: PiiPolicy
) -> KnowledgeBaseOut:
    """Whoever may manage the knowledge base sets what its uploads do with personal
    information, as an audited change (``kb.pii_policy``, its intent committed first)."""
    async with _changed(ctx, "kb.pii_policy", kb_id=kb_id) as change:
        change.event.detail["pii_policy"] = str(policy)
        await ctx.knowledge.get_kb(ctx.principal, kb_id)
        await change.begin()
        return await ctx.knowledge.set_pii_policy(ctx.principal, kb_id, policy)


async def set_kb_grade(ctx: KnowledgeContext, kb_id: uuid.UUID, grade: str) -> KnowledgeBaseOut:
    """Whoever may manage the knowledge base grades it, as an audited change (``kb.grade``,
    its intent committed first, naming the grade it had)."""
    async with _changed(ctx, "kb.grade", kb_id=kb_id) as change:
        change.event.detail["grade"] = grade
        level_of(grade, ctx.rag.grades)
        before = await ctx.knowledge.get_kb(ctx.principal, kb_id)
        change.event.detail["previous_grade"] = before.grade
        await change.begin()
        return await ctx.knowledge.set_kb_grade(ctx.principal, kb_id, grade)


async def set_document_grade(
    ctx: KnowledgeContext, kb_id: uuid.UUID, document_id: uuid.UUID, grade: str | None
) -> DocumentOut:
    """A document's own grade (None: its knowledge base's), audited as ``document.grade``."""
    async with _changed(ctx, "document.grade", kb_id=kb_id) as change:
        change.event.document_ids = [str(document_id)]
        change.event.detail["grade"] = grade
        if grade is not None:
            level_of(grade, ctx.rag.grades)
        documents = await ctx.knowledge.list_documents(ctx.principal, kb_id)
        before = next((doc for doc in documents if doc.id == document_id), None)
        if before is not None:
            change.event.detail["previous_grade"] = before.own_grade
        await change.begin()
        return await ctx.knowledge.set_document_grade(ctx.principal, kb_id, document_id, grade)


async def list_kbs(ctx: KnowledgeContext) -> list[KnowledgeBaseOut]:
    async with _audited(ctx, "kb.list") as event:
        kbs = await ctx.knowledge.list_kbs(ctx.principal)
        event.detail["count"] = len(kbs)
    return kbs


async def search(
    ctx: KnowledgeContext, query: str, kb_ids: list[uuid.UUID] | None, top_k: int | None
) -> list[SearchHit]:
    async with _audited(ctx, "kb.search") as event:
        event.prompt = query  # stored according to the audit capture mode
        if kb_ids:
            event.detail["kb_ids"] = [str(kb_id) for kb_id in kb_ids]
        await check_readable(ctx.knowledge, ctx.principal, kb_ids)
        hits = await ctx.knowledge.search(ctx.principal, query, kb_ids, top_k)
        event.chunk_ids = [str(hit.chunk_id) for hit in hits]
        event.document_ids = list(dict.fromkeys(str(hit.document_id) for hit in hits))
    return hits


async def get_kb(ctx: KnowledgeContext, kb_id: uuid.UUID) -> KnowledgeBaseOut:
    async with _audited(ctx, "kb.get", kb_id=kb_id):
        return await ctx.knowledge.get_kb(ctx.principal, kb_id)


async def delete_kb(ctx: KnowledgeContext, kb_id: uuid.UUID) -> None:
    async with _changed(ctx, "kb.delete", kb_id=kb_id, status=204) as change:
        documents = await ctx.knowledge.list_documents(ctx.principal, kb_id)
        change.event.document_ids = [str(doc.id) for doc in documents]
        await change.begin()
        await ctx.knowledge.delete_kb(ctx.principal, kb_id)


async def upload_documents(
    ctx: KnowledgeContext,
    kb_id: uuid.UUID,
    read_files: Callable[[], Awaitable[list[ServiceFile]]],
    *,
    grade: str | None = None,
) -> list[IngestResult]:
    """Index each file; ``read_files`` is called only once the caller may manage the
    knowledge base, so a large body is not read for a refusal. ``grade`` is the new
    documents' own data grade (None: the knowledge base's)."""
    async with _changed(ctx, "documents.upload", kb_id=kb_id) as change:
        if grade is not None:
            change.event.detail["grade"] = grade
        # An empty upload only checks that the caller manages this knowledge base.
        await ctx.knowledge.ingest_files(ctx.principal, kb_id, [], grade)
        files = await read_files()
        change.event.detail["names"] = [file.name for file in files]
        await change.begin()
        results = await ctx.knowledge.ingest_files(ctx.principal, kb_id, files, grade)
        change.event.document_ids = [str(r.id) for r in results if r.id is not None]
        outcome: dict[str, Any] = {"files": len(results)}
        masked: Counter[str] = Counter()
        for result in results:
            key = "duplicate" if result.duplicate else result.status
            outcome[key] = int(outcome.get(key, 0)) + 1
            masked.update(result.pii_masked)
        if masked:
            outcome["pii_masked"] = dict(sorted(masked.items()))
        change.event.detail |= outcome
    return results


async def list_documents(ctx: KnowledgeContext, kb_id: uuid.UUID) -> list[DocumentOut]:
    async with _audited(ctx, "documents.list", kb_id=kb_id) as event:
        documents = await ctx.knowledge.list_documents(ctx.principal, kb_id)
        event.detail["count"] = len(documents)
    return documents


async def delete_document(ctx: KnowledgeContext, kb_id: uuid.UUID, document_id: uuid.UUID) -> None:
    async with _changed(ctx, "document.delete", kb_id=kb_id, status=204) as change:
        change.event.document_ids = [str(document_id)]
        await change.begin()
        await ctx.knowledge.delete_document(ctx.principal, kb_id, document_id)


async def reindex_document(
    ctx: KnowledgeContext, kb_id: uuid.UUID, document_id: uuid.UUID
) -> IngestResult:
    async with _changed(ctx, "document.reindex", kb_id=kb_id) as change:
        change.event.document_ids = [str(document_id)]
        await change.begin()
        result = await ctx.knowledge.reindex_document(ctx.principal, kb_id, document_id)
        change.event.detail["status"] = result.status
    return result
