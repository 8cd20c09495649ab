"""Rows as the service returns them, each data grade level named from ``rag.grades``."""

from __future__ import annotations

from collections.abc import Sequence

from appliance.rag.grades import name_of
from appliance.rag.models import Document, KnowledgeBase
from appliance.rag.schemas import DocumentOut, KnowledgeBaseOut


def kb_out(kb: KnowledgeBase, grades: Sequence[str]) -> KnowledgeBaseOut:
    return KnowledgeBaseOut(
        id=kb.id,
        name=kb.name,
        group=kb.owner_group,
        description=kb.description,
        created_by=kb.created_by,
        created_at=kb.created_at,
        pii_policy=kb.pii_policy,
        grade=name_of(kb.grade, grades),
    )


def doc_out(doc: Document, kb: KnowledgeBase, grades: Sequence[str]) -> DocumentOut:
    """``kb`` is the document's knowledge base, whose grade applies when it has none."""
    return DocumentOut(
        id=doc.id,
        kb_id=doc.kb_id,
        name=doc.name,
        mime=doc.mime,
        size=doc.size,
        content_sha256=doc.content_sha256,
        status=doc.status,
        error=doc.error,
        error_code=doc.error_code,
        pages=doc.pages,
        chunks=doc.chunk_count,
        created_by=doc.created_by,
        created_at=doc.created_at,
        own_grade=name_of(doc.grade, grades) if doc.grade is not None else None,
        grade=name_of(doc.grade if doc.grade is not None else kb.grade, grades),
    )
