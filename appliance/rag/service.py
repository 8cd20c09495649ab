"""The knowledge-base service the gateway calls: knowledge bases, documents, search.

Authorization lives here, next to the data, so the HTTP routes, RAG-in-chat and the bulk
CLI all enforce the same rules. A knowledge base the caller may not read is reported as not
found, never as forbidden: nobody outside the owning department learns that it exists.
Whoever manages a knowledge base sets its data grade and its documents' (``grading``);
search returns only chunks within the caller's clearance (``acl.access``).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from appliance.auth.principal import Principal
from appliance.errors import (
    ApplianceError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
)
from appliance.rag import lexical, retrieve
from appliance.rag.acl import access, can_manage, normalise_group, readable_paths, require_reader
from appliance.rag.config import RagSettings
from appliance.rag.embeddings import Embedder, TextKind
from appliance.rag.filenames import safe_filename
from appliance.rag.grades import LOWEST, level_of, name_of
from appliance.rag.grading import regrade_document, regrade_kb
from appliance.rag.ingest import Prepared, index_document, prepare_in_thread
from appliance.rag.key_scope import in_key_scope, scoped_kb_ids
from appliance.rag.models import Chunk, Document, DocumentStatus, KnowledgeBase
from appliance.rag.parsers import ParseError
from appliance.rag.personal import PersonalInformationFound, PiiPolicy, Scrub
from appliance.rag.schemas import (
    DocumentOut,
    IngestResult,
    KnowledgeBaseOut,
    SearchHit,
    UploadedFile,
)
from appliance.rag.views import doc_out, kb_out


class KnowledgeService:
    """One per process: holds the session factory, the embedder, the RAG settings and the
    function that finds and masks personal information (``appliance.rag.personal``)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        embedder: Embedder,
        settings: RagSettings | None = None,
        scrub: Scrub | None = None,
    ) -> None:
        self._sessions = sessions
        self._embedder = embedder
        self._settings = settings or RagSettings()
        self._scrub = scrub

    async def warm_up(self) -> None:
        """Load jieba's dictionary and the embedding model now (at start-up), not on the
        first request, which would otherwise wait a second or two."""
        await asyncio.to_thread(lexical.tokens, "预热")
        await self._embedder.embed(["预热"], kind=TextKind.QUERY)

    # Knowledge bases

    async def create_kb(
        self,
        principal: Principal,
        name: str,
        group: str | None,
        description: str = "",
        pii_policy: PiiPolicy = PiiPolicy.ALLOW,
        *,
        grade: str | None = None,
    ) -> KnowledgeBaseOut:
        """A new knowledge base; its data grade is the lowest unless named."""
        level = LOWEST if grade is None else level_of(grade, self._settings.grades)
        if any("\x00" in text for text in (name, description, group or "")):
            raise InvalidRequest("Names, groups and descriptions may not contain NUL characters.")
        owner = normalise_group(group)
        if not name.strip():
            raise InvalidRequest("A knowledge base needs a name.")
        if not can_manage(principal, owner):
            raise Forbidden(
                "Creating a knowledge base needs the kb-editor role in the owning group."
            )
        kb = KnowledgeBase(
            name=name.strip(),
            owner_group=owner,
            description=description,
            created_by=principal.username or principal.subject,
            pii_policy=pii_policy.value,
            grade=level,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(kb)
                await session.flush()
                await session.refresh(kb)
        except IntegrityError as exc:
            raise Conflict(
                f"A knowledge base named {name.strip()!r} already exists for this group.",
                code="kb_exists",
            ) from exc
        return kb_out(kb, self._settings.grades)

    async def list_kbs(self, principal: Principal) -> list[KnowledgeBaseOut]:
        """The knowledge bases the caller may read (none without a reader role)."""
        require_reader(principal)
        paths = readable_paths(principal)
        async with self._sessions() as session:
            rows = await session.scalars(
                select(KnowledgeBase)
                .where(KnowledgeBase.owner_group.is_(None) | KnowledgeBase.owner_group.in_(paths))
                .order_by(KnowledgeBase.name)
            )
            return [kb_out(kb, self._settings.grades) for kb in rows]

    async def get_kb(self, principal: Principal, kb_id: uuid.UUID) -> KnowledgeBaseOut:
        async with self._sessions() as session:
            return kb_out(await self._readable_kb(session, principal, kb_id), self._settings.grades)

    async def set_pii_policy(
        self, principal: Principal, kb_id: uuid.UUID, policy: PiiPolicy
    ) -> KnowledgeBaseOut:
        """Change what later uploads do with personal information; whoever may manage the
        knowledge base may. Documents already indexed keep their chunks until reindexed."""
        async with self._sessions.begin() as session:
            kb = await self._managed_kb(session, principal, kb_id)
            kb.pii_policy = policy.value
        return kb_out(kb, self._settings.grades)

    async def set_kb_grade(
        self, principal: Principal, kb_id: uuid.UUID, grade: str
    ) -> KnowledgeBaseOut:
        """Whoever manages the knowledge base sets its data grade; its documents without a
        grade of their own, and their chunks, take it at once."""
        level = level_of(grade, self._settings.grades)
        async with self._sessions.begin() as session:
            kb = await self._managed_kb(session, principal, kb_id)
            await regrade_kb(session, kb, level)
        return kb_out(kb, self._settings.grades)

    async def set_document_grade(
        self, principal: Principal, kb_id: uuid.UUID, document_id: uuid.UUID, grade: str | None
    ) -> DocumentOut:
        """A document's own data grade, or None to take its knowledge base's again; its
        chunks change in the same transaction."""
        level = None if grade is None else level_of(grade, self._settings.grades)
        async with self._sessions.begin() as session:
            kb = await self._managed_kb(session, principal, kb_id)
            doc = await session.scalar(
                select(Document).where(Document.id == document_id, Document.kb_id == kb.id)
            )
            if doc is None:
                raise NotFound("No such document in this knowledge base.")
            await regrade_document(session, kb, doc, level)
            await session.refresh(kb)
            return doc_out(doc, kb, self._settings.grades)

    async def delete_kb(self, principal: Principal, kb_id: uuid.UUID) -> None:
        """Delete a knowledge base with all its documents and chunks."""
        async with self._sessions.begin() as session:
            kb = await self._managed_kb(session, principal, kb_id)
            await session.execute(delete(KnowledgeBase).where(KnowledgeBase.id == kb.id))

    # Documents

    async def list_documents(self, principal: Principal, kb_id: uuid.UUID) -> list[DocumentOut]:
        async with self._sessions() as session:
            kb = await self._readable_kb(session, principal, kb_id)
            docs = await session.scalars(
                select(Document).where(Document.kb_id == kb.id).order_by(Document.created_at)
            )
            return [doc_out(doc, kb, self._settings.grades) for doc in docs]

    async def delete_document(
        self, principal: Principal, kb_id: uuid.UUID, document_id: uuid.UUID
    ) -> None:
        """Delete a document; its chunks go in the same transaction (and leave search now)."""
        async with self._sessions.begin() as session:
            kb = await self._managed_kb(session, principal, kb_id)
            result = await session.execute(
                delete(Document)
                .where(Document.id == document_id, Document.kb_id == kb.id)
                .returning(Document.id)
            )
            if result.first() is None:
                raise NotFound("No such document in this knowledge base.")

    async def ingest_files(
        self,
        principal: Principal,
        kb_id: uuid.UUID,
        files: Sequence[UploadedFile],
        grade: str | None = None,
    ) -> list[IngestResult]:
        """Store, parse, chunk, embed and index each file; one result per file, in order.

        A file that cannot be parsed is recorded as ``failed`` with its reason and the rest of
        the upload goes on. A file already in the knowledge base under the same name with the
        same content is not indexed twice: its document is returned with ``duplicate`` set,
        which makes a re-run of an interrupted bulk upload cheap. For a knowledge base that
        rejects personal information every file is parsed and checked first, and if any has
        some the whole upload is refused (422) before anything is stored. ``grade`` is the
        new documents' own data grade (None: the knowledge base's); a duplicate keeps its own.
        """
        level = None if grade is None else level_of(grade, self._settings.grades)
        async with self._sessions() as session:
            kb = await self._managed_kb(session, principal, kb_id)
        owner = principal.username or principal.subject
        named = [file.model_copy(update={"name": safe_filename(file.name)}) for file in files]
        checked = await self._checked(kb, named)
        results: list[IngestResult] = []
        for file, prepared in zip(named, checked, strict=True):
            results.append(await self._ingest_one(kb, owner, file, prepared, level))
        return results

    def _scrub_for(self, kb: KnowledgeBase) -> Scrub | None:
        if kb.pii_policy == PiiPolicy.ALLOW:
            return None
        if self._scrub is None:
            raise ServiceUnavailable(
                "This knowledge base checks documents for personal information, and the"
                " check is not available.",
                code="personal_information_check_unavailable",
            )
        return self._scrub

    async def _checked(
        self, kb: KnowledgeBase, files: Sequence[UploadedFile]
    ) -> list[Prepared | None]:
        """For a knowledge base that rejects personal information: each file prepared, or
        None where it cannot be parsed (it fails below as before); raise if any has some."""
        if kb.pii_policy != PiiPolicy.REJECT:
            return [None] * len(files)
        scrub = self._scrub_for(kb)
        prepared: list[Prepared | None] = []
        found: dict[str, dict[str, int]] = {}
        for file in files:
            try:
                each = await prepare_in_thread(file.name, file.data, self._settings, scrub)
            except ParseError:
                prepared.append(None)
                continue
            prepared.append(each)
            if each.personal:
                found[file.name] = each.personal
        if found:
            raise PersonalInformationFound(found)
        return prepared

    async def reindex_document(
        self, principal: Principal, kb_id: uuid.UUID, document_id: uuid.UUID
    ) -> IngestResult:
        """Parse and index a stored document again; its old chunks stay searchable until then."""
        async with self._sessions() as session:
            kb = await self._managed_kb(session, principal, kb_id)
            doc = await session.scalar(
                select(Document).where(Document.id == document_id, Document.kb_id == kb.id)
            )
            if doc is None:
                raise NotFound("No such document in this knowledge base.")
            await session.refresh(doc, ["content"])
            name, data = doc.name, doc.content
        return await self._index(kb, document_id, name, data)

    # Search

    async def search(
        self,
        principal: Principal,
        query: str,
        kb_ids: Sequence[uuid.UUID] | None = None,
        top_k: int | None = None,
    ) -> list[SearchHit]:
        """Hybrid search over the knowledge bases the caller may read (optionally a subset)."""
        require_reader(principal)
        kb_ids = scoped_kb_ids(principal, kb_ids)
        # NUL means nothing in a question, and PostgreSQL cannot take it as a parameter.
        query = query.replace("\x00", "")
        if not query.strip():
            raise InvalidRequest("The search query is empty.")
        s = self._settings
        k = min(max(1, top_k or s.default_top_k), s.max_top_k)
        readable = access(principal, s.grades)
        vector = (await self._embedder.embed([query], kind=TextKind.QUERY))[0]
        terms = lexical.query_terms(query)
        n = max(s.candidates_per_leg, k)
        by_vector, by_terms = await retrieve.both_legs(
            self._sessions, vector, terms, access=readable, kb_ids=kb_ids, limit=n
        )
        fused = retrieve.fuse([(s.vector_weight, by_vector), (s.lexical_weight, by_terms)], top_k=k)
        return self._named(fused)

    async def get_chunks(
        self, principal: Principal, chunk_ids: Sequence[uuid.UUID]
    ) -> list[SearchHit]:
        """Chunks by id for citations and previews; ids the caller may not read are dropped."""
        require_reader(principal)
        async with self._sessions() as session:
            readable = access(principal, self._settings.grades)
            found = await retrieve.chunks_by_id(session, chunk_ids, readable)
        return self._named([hit for hit in found if in_key_scope(principal, hit.kb_id)])

    def _named(self, hits: list[SearchHit]) -> list[SearchHit]:
        names = self._settings.grades
        return [hit.model_copy(update={"grade": name_of(hit.grade_level, names)}) for hit in hits]

    # Internals

    async def _readable_kb(
        self, session: AsyncSession, principal: Principal, kb_id: uuid.UUID
    ) -> KnowledgeBase:
        require_reader(principal)
        kb = await session.get(KnowledgeBase, kb_id)
        if kb is None or (
            kb.owner_group is not None and kb.owner_group not in readable_paths(principal)
        ):
            raise NotFound("No such knowledge base.")
        return kb

    async def _managed_kb(
        self, session: AsyncSession, principal: Principal, kb_id: uuid.UUID
    ) -> KnowledgeBase:
        kb = await self._readable_kb(session, principal, kb_id)
        if not can_manage(principal, kb.owner_group):
            raise Forbidden("Managing this knowledge base needs the kb-editor role in its group.")
        return kb

    async def _ingest_one(
        self,
        kb: KnowledgeBase,
        owner: str,
        file: UploadedFile,
        prepared: Prepared | None,
        level: int | None,
    ) -> IngestResult:
        digest = hashlib.sha256(file.data).hexdigest()
        too_large = len(file.data) > self._settings.max_file_bytes
        async with self._sessions.begin() as session:
            existing = await session.scalar(
                select(Document).where(
                    Document.kb_id == kb.id,
                    Document.content_sha256 == digest,
                    Document.name == file.name,
                    Document.status == DocumentStatus.READY.value,
                )
            )
            if existing is not None:
                return IngestResult(
                    id=existing.id,
                    name=file.name,
                    status=existing.status,
                    chunks=existing.chunk_count,
                    duplicate=True,
                )
            doc = Document(
                kb_id=kb.id,
                name=file.name,
                content_sha256=digest,
                mime="",
                size=len(file.data),
                status=DocumentStatus.PROCESSING.value,
                chunk_count=0,
                created_by=owner,
                grade=level,
                # An oversized file is refused below; its bytes are not worth keeping.
                content=b"" if too_large else file.data,
            )
            session.add(doc)
        return await self._index(kb, doc.id, file.name, file.data, prepared)

    async def _index(
        self,
        kb: KnowledgeBase,
        document_id: uuid.UUID,
        name: str,
        data: bytes,
        prepared: Prepared | None = None,
    ) -> IngestResult:
        """Index one stored document; one that a ``reject`` knowledge base finds personal
        information in (when reindexed) fails with the reason, its chunks dropped."""
        try:
            if prepared is None:
                scrub = self._scrub_for(kb)
                prepared = await prepare_in_thread(name, data, self._settings, scrub)
            if kb.pii_policy == PiiPolicy.REJECT and prepared.personal:
                raise PersonalInformationFound({name: prepared.personal})
            stored = await index_document(
                self._sessions,
                self._embedder,
                document_id=document_id,
                kb_id=kb.id,
                owner_group=kb.owner_group,
                prepared=prepared,
            )
        except ApplianceError as exc:  # ParseError, or the embedding service failing
            await self._mark_failed(document_id, exc)
            return IngestResult(
                id=document_id, name=name, status="failed", error=exc.message, error_code=exc.code
            )
        if not stored:
            raise NotFound("The document was deleted while it was being indexed.")
        masked = prepared.personal if kb.pii_policy == PiiPolicy.MASK else {}
        return IngestResult(
            id=document_id,
            name=name,
            status="ready",
            chunks=len(prepared.chunks),
            pii_masked=masked,
        )

    async def _mark_failed(self, document_id: uuid.UUID, exc: ApplianceError) -> None:
        """Record why, and drop any chunks: only ready documents have chunks."""
        async with self._sessions.begin() as session:
            await session.execute(delete(Chunk).where(Chunk.document_id == document_id))
            await session.execute(
                update(Document)
                .where(Document.id == document_id)
                .values(status=DocumentStatus.FAILED.value, error=exc.message, error_code=exc.code)
            )
