"""From uploaded bytes to indexed chunks: parse, chunk, embed, and swap in atomically.

The CPU-bound steps (parsing, chunking, jieba) run in a worker thread and embedding runs in
the embedder's own worker, so ingestion never blocks the gateway's event loop. A document's
chunks are written and its status set to ``ready`` in one transaction: a search never sees
a half-indexed document, and a re-index replaces the old chunks in the same instant.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from appliance.rag import lexical
from appliance.rag.chunking import Chunk as TextChunk
from appliance.rag.chunking import ChunkingConfig, chunk_blocks
from appliance.rag.config import RagSettings
from appliance.rag.embeddings import Embedder, TextKind
from appliance.rag.grading import effective_level
from appliance.rag.models import Chunk, Document, DocumentStatus
from appliance.rag.parsers import ParsedDocument, parse_document
from appliance.rag.personal import Scrub, scrub_document

SECTION_SEPARATOR = " > "


@dataclass(frozen=True, slots=True)
class Prepared:
    """A parsed and chunked document, with what each index needs per chunk."""

    parsed: ParsedDocument
    chunks: list[TextChunk]
    embed_texts: list[str]
    lexical_terms: list[str]
    # The personal information ``scrub`` found (and masked), by kind.
    personal: dict[str, int]


def section_text(section: tuple[str, ...]) -> str | None:
    return SECTION_SEPARATOR.join(section) if section else None


def prepare(name: str, data: bytes, settings: RagSettings, scrub: Scrub | None = None) -> Prepared:
    """Parse and chunk one file (synchronous, CPU-bound; raises ``ParseError``), its personal
    information masked by ``scrub`` first when there is one (``appliance.rag.personal``).

    Each chunk is embedded and indexed together with its heading path: a chunk under
    "差旅费管理办法 > 住宿标准" that only says "每晚不超过六百元" is then found by a question
    about hotel costs, which its text alone does not mention.
    """
    parsed = parse_document(name, data, max_bytes=settings.max_file_bytes)
    personal: dict[str, int] = {}
    if scrub is not None:
        parsed, personal = scrub_document(parsed, scrub)
    config = ChunkingConfig(
        target_tokens=settings.chunk_target_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
    )
    chunks = chunk_blocks(parsed.blocks, config)
    contextual = [f"{section_text(c.section)}\n{c.text}" if c.section else c.text for c in chunks]
    terms = [lexical.document_terms(text) for text in contextual]
    return Prepared(parsed, chunks, contextual, terms, personal)


async def index_document(
    sessions: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    *,
    document_id: uuid.UUID,
    kb_id: uuid.UUID,
    owner_group: str | None,
    prepared: Prepared,
) -> bool:
    """Embed and store the chunks, replacing any old ones, and mark the document ready.

    The chunks get the document's data grade, read in the transaction that writes them
    (``grading.effective_level``). Returns False when the document was deleted meanwhile
    (nothing is written then).
    """
    vectors = await embedder.embed(prepared.embed_texts, kind=TextKind.PASSAGE)
    rows = [
        {
            "id": uuid.uuid4(),
            "document_id": document_id,
            "kb_id": kb_id,
            "owner_group": owner_group,
            "ord": chunk.ord,
            "text": chunk.text,
            "page": chunk.page,
            "section": section_text(chunk.section),
            "tokens": chunk.tokens,
            "embedding": vector,
            "terms": f"{terms} {lexical.acl_term(owner_group)}",
        }
        for chunk, vector, terms in zip(
            prepared.chunks, vectors, prepared.lexical_terms, strict=True
        )
    ]
    async with sessions.begin() as session:
        marked = await session.execute(
            update(Document)
            .where(Document.id == document_id)
            .values(
                status=DocumentStatus.READY.value,
                mime=prepared.parsed.mime,
                pages=prepared.parsed.pages,
                chunk_count=len(rows),
                error=None,
                error_code=None,
            )
            .returning(Document.grade)
        )
        row = marked.first()
        if row is None:
            return False
        level = await effective_level(session, kb_id, row.grade)
        for each in rows:
            each["grade"] = level
        await session.execute(delete(Chunk).where(Chunk.document_id == document_id))
        if rows:
            statement = insert(Chunk).values(lexical=func.to_tsvector("simple", bindparam("terms")))
            await session.execute(statement, rows)
    return True


async def prepare_in_thread(
    name: str, data: bytes, settings: RagSettings, scrub: Scrub | None = None
) -> Prepared:
    return await asyncio.to_thread(prepare, name, data, settings, scrub)
