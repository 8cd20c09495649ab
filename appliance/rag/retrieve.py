"""Hybrid retrieval: vector top-k and lexical top-k, each with the ACL in its SQL, then RRF.

Both legs filter on ``owner_group IS NULL OR owner_group = ANY(:paths)``, on the chunk's
data grade being within the caller's clearance (``grade <= :clearance``, levels of
``appliance.rag.grades``) and on the document being ``ready`` inside the query that fetches
candidates, so a chunk the caller may not read is never even loaded into the process. HNSW
with a filter would otherwise return fewer rows than asked when most neighbours are filtered
out; pgvector 0.8's iterative index scan keeps scanning until enough rows pass the filter.

Reciprocal-rank fusion scores a chunk ``sum(w / (k + rank))`` over the legs that found it
(k = 60, as in Cormack et al. 2009): it needs no score calibration between cosine distance
and ``ts_rank``, which live on unrelated scales. The legs are weighted (``RagSettings``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from appliance.rag import lexical
from appliance.rag.schemas import SearchHit

RRF_K = 60

# Every statement carries the same ACL predicate (department and grade), written out so
# each can be read alone.
# The legs rank chunks in a subquery on ``chunks`` alone and only then join ``documents``:
# that keeps the planner on the HNSW and GIN indexes instead of walking documents first.
# Chunks exist only for ready documents (ingestion writes them with the status flip, a
# failure deletes them), so the status filter after the LIMIT drops nothing in practice
# and still guarantees that nothing of a document that is not ready is returned.
_VECTOR_SQL = text(
    """
    SELECT c.id, c.document_id, d.name, c.kb_id, c.text, c.page, c.section, c.grade
    FROM (
        SELECT id, document_id, kb_id, text, page, section, grade,
               embedding <=> CAST(:vector AS vector) AS distance
        FROM chunks
        WHERE (owner_group IS NULL OR owner_group = ANY(CAST(:paths AS text[])))
          AND grade <= :clearance
          AND (CAST(:kb_ids AS uuid[]) IS NULL OR kb_id = ANY(CAST(:kb_ids AS uuid[])))
        ORDER BY embedding <=> CAST(:vector AS vector)
        LIMIT :limit
    ) AS c
    JOIN documents d ON d.id = c.document_id
    WHERE d.status = 'ready'
    ORDER BY c.distance
    """
)
_LEXICAL_SQL = text(
    """
    SELECT c.id, c.document_id, d.name, c.kb_id, c.text, c.page, c.section, c.grade
    FROM (
        SELECT id, document_id, kb_id, text, page, section, grade, ts_rank(lexical, q) AS rank
        FROM chunks, to_tsquery('simple', :terms) AS q, to_tsquery('simple', :acl) AS acl
        WHERE lexical @@ (q && acl)
          AND (owner_group IS NULL OR owner_group = ANY(CAST(:paths AS text[])))
          AND grade <= :clearance
          AND (CAST(:kb_ids AS uuid[]) IS NULL OR kb_id = ANY(CAST(:kb_ids AS uuid[])))
        ORDER BY rank DESC, id
        LIMIT :limit
    ) AS c
    JOIN documents d ON d.id = c.document_id
    WHERE d.status = 'ready'
    ORDER BY c.rank DESC, c.id
    """
)
_BY_ID_SQL = text(
    """
    SELECT c.id, c.document_id, d.name, c.kb_id, c.text, c.page, c.section, c.grade
    FROM chunks c JOIN documents d ON d.id = c.document_id
    WHERE c.id = ANY(CAST(:ids AS uuid[]))
      AND d.status = 'ready'
      AND (c.owner_group IS NULL OR c.owner_group = ANY(CAST(:paths AS text[])))
      AND c.grade <= :clearance
      AND (CAST(:kb_ids AS uuid[]) IS NULL OR c.kb_id = ANY(CAST(:kb_ids AS uuid[])))
    """
)


@dataclass(frozen=True, slots=True)
class Access:
    """What a caller may read: the owner groups (``acl.readable_paths``) and the highest
    data grade level (``grades.clearance_level``)."""

    paths: list[str]
    clearance: int


def _acl_params(access: Access, kb_ids: Sequence[uuid.UUID] | None) -> dict[str, object]:
    return {
        "paths": access.paths,
        "clearance": access.clearance,
        "kb_ids": list(kb_ids) if kb_ids is not None else None,
    }


def _hit(row: Row[tuple[object, ...]], score: float) -> SearchHit:
    m = row._mapping
    return SearchHit(
        chunk_id=m["id"],
        document_id=m["document_id"],
        document_name=m["name"],
        kb_id=m["kb_id"],
        text=m["text"],
        page=m["page"],
        section=m["section"],
        score=score,
        grade_level=m["grade"],
    )


async def vector_candidates(
    session: AsyncSession,
    vector: list[float],
    access: Access,
    kb_ids: Sequence[uuid.UUID] | None,
    limit: int,
) -> list[Row[tuple[object, ...]]]:
    """Nearest chunks by cosine distance among those the caller may read."""
    await session.execute(
        text(
            "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
            "set_config('hnsw.ef_search', :ef, true)"
        ),
        {"ef": str(max(40, 2 * limit))},
    )
    params = {**_acl_params(access, kb_ids), "vector": str(vector), "limit": limit}
    return list((await session.execute(_VECTOR_SQL, params)).all())


async def lexical_candidates(
    session: AsyncSession,
    terms: str | None,
    access: Access,
    kb_ids: Sequence[uuid.UUID] | None,
    limit: int,
) -> list[Row[tuple[object, ...]]]:
    """Best full-text matches (jieba terms, OR-ed) among the chunks the caller may read."""
    if terms is None:
        return []
    params = {
        **_acl_params(access, kb_ids),
        "terms": terms,
        "acl": lexical.acl_query(access.paths),
        "limit": limit,
    }
    return list((await session.execute(_LEXICAL_SQL, params)).all())


async def both_legs(
    sessions: async_sessionmaker[AsyncSession],
    vector: list[float],
    terms: str | None,
    *,
    access: Access,
    kb_ids: Sequence[uuid.UUID] | None,
    limit: int,
) -> tuple[list[Row[tuple[object, ...]]], list[Row[tuple[object, ...]]]]:
    """Run the vector and the lexical leg at the same time, on two connections."""

    async def by_vector() -> list[Row[tuple[object, ...]]]:
        async with sessions.begin() as session:
            return await vector_candidates(session, vector, access, kb_ids, limit)

    async def by_terms() -> list[Row[tuple[object, ...]]]:
        async with sessions.begin() as session:
            return await lexical_candidates(session, terms, access, kb_ids, limit)

    return await asyncio.gather(by_vector(), by_terms())


def fuse(
    legs: list[tuple[float, list[Row[tuple[object, ...]]]]], top_k: int, k: int = RRF_K
) -> list[SearchHit]:
    """Weighted reciprocal-rank fusion of ranked candidate lists."""
    scores: dict[object, float] = {}
    rows: dict[object, Row[tuple[object, ...]]] = {}
    for weight, ranked in legs:
        for rank, row in enumerate(ranked, start=1):
            key = row._mapping["id"]
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
            rows.setdefault(key, row)
    best = sorted(scores, key=lambda key: scores[key], reverse=True)[:top_k]
    return [_hit(rows[key], round(scores[key], 6)) for key in best]


async def chunks_by_id(
    session: AsyncSession,
    chunk_ids: Sequence[uuid.UUID],
    access: Access,
) -> list[SearchHit]:
    """Chunks by id (citations, previews), with the same ACL: unreadable ids just vanish."""
    params = {**_acl_params(access, None), "ids": list(chunk_ids)}
    rows = (await session.execute(_BY_ID_SQL, params)).all()
    return [_hit(row, 0.0) for row in rows]
