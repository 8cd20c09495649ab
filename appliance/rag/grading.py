"""Changing a data grade: the knowledge base's or a document's, and the chunks' copies.

A chunk carries its effective grade so that retrieval filters on the rows the indexes return
(``appliance.rag.retrieve``). Each change here rewrites those copies in the transaction
that changes the grade, so no reader ever sees a chunk under a grade its document no longer
has. Indexing reads the grades under a share lock of the knowledge base's row
(``effective_level``), which a change of the knowledge base's grade waits for, and the other
way round: chunks written while a grade changes end up with the new grade either way.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from appliance.rag.models import Chunk, Document, KnowledgeBase


async def regrade_kb(session: AsyncSession, kb: KnowledgeBase, level: int) -> None:
    """Set the knowledge base's grade; its documents without a grade of their own follow."""
    kb.grade = level
    await session.flush()
    ungraded = select(Document.id).where(Document.kb_id == kb.id, Document.grade.is_(None))
    await session.execute(update(Chunk).where(Chunk.document_id.in_(ungraded)).values(grade=level))


async def regrade_document(
    session: AsyncSession, kb: KnowledgeBase, doc: Document, level: int | None
) -> None:
    """Set a document's own grade, or clear it (None) so the knowledge base's applies."""
    doc.grade = level
    await session.flush()
    kb_level = await session.scalar(
        select(KnowledgeBase.grade).where(KnowledgeBase.id == kb.id).with_for_update(read=True)
    )
    effective = level if level is not None else kb_level
    await session.execute(update(Chunk).where(Chunk.document_id == doc.id).values(grade=effective))


async def effective_level(session: AsyncSession, kb_id: uuid.UUID, own: int | None) -> int:
    """The grade a document's chunks get: its own, else its knowledge base's (read under a
    share lock, so a concurrent change of the knowledge base's grade waits for the chunks)."""
    kb_level = await session.scalar(
        select(KnowledgeBase.grade).where(KnowledgeBase.id == kb_id).with_for_update(read=True)
    )
    if own is not None:
        return own
    return kb_level if kb_level is not None else 1
