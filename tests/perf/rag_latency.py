"""Search latency at 10k and 100k chunks (p50/p95), with the ACL filter of a real caller.

Run after ``rag_cmrc.py`` (it reuses that run's cached e5 vectors as cluster centres):

    .venv/bin/python tests/perf/rag_latency.py [--sizes 10000,100000] [--queries 200]

Chunks are synthetic but shaped like the real thing: text made of CMRC sentences (so
jieba terms have Chinese frequencies) and vectors near real e5 passage vectors (real
vectors plus small noise, so the HNSW graph sees clustered data rather than uniform noise).
They are spread over ten department groups; the searching caller belongs to one, so both
legs must filter 90% of the candidates away inside the query. Reported: SQL time of a full
hybrid search (both legs) and, separately, end-to-end ``KnowledgeService.search`` including
embedding the query with the local model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
import uuid
from typing import Any

import numpy as np
from rag_cmrc import CACHE, DATA, load_corpus
from rag_scratch import scratch_sessions
from sqlalchemy import bindparam, func, insert

from appliance.auth.principal import Principal
from appliance.rag import lexical, retrieve
from appliance.rag.chunking import split_sentences
from appliance.rag.embeddings import LocalE5Embedder, TextKind
from appliance.rag.models import Chunk, Document, KnowledgeBase
from appliance.rag.service import KnowledgeService

GROUPS = [f"/dept/d{i}" for i in range(10)]
READER = Principal("reader", "reader", frozenset({"staff"}), frozenset({GROUPS[3]}))


def _cached_vectors() -> np.ndarray:
    rows = [json.loads(line)[1] for f in CACHE.glob("*.jsonl") for line in f.open()]
    if not rows:
        sys.exit("run tests/perf/rag_cmrc.py first (its vectors seed this benchmark)")
    return np.asarray(rows, dtype=np.float32)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = sorted(1000 * s for s in samples)
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
    }


async def _load(sessions: Any, start: int, stop: int, kbs: list[Any], docs: list[Any]) -> None:
    rng = random.Random(start)
    centres = _cached_vectors()
    sentences = [
        s
        for article in json.loads(DATA.read_text())["data"]
        for p in article["paragraphs"]
        for s in split_sentences(p["context"])
    ]
    statement = insert(Chunk).values(lexical=func.to_tsvector("simple", bindparam("terms")))
    for batch_start in range(start, stop, 2000):
        rows = []
        for i in range(batch_start, min(stop, batch_start + 2000)):
            text = "".join(rng.sample(sentences, 4))[:300]
            noise = np.random.default_rng(i).normal(0, 0.03, centres.shape[1])
            vector = centres[i % len(centres)] + noise
            g = i % len(GROUPS)
            rows.append({
                "id": uuid.uuid4(), "document_id": docs[g], "kb_id": kbs[g],
                "owner_group": GROUPS[g], "ord": i, "text": text, "page": None,
                "section": None, "tokens": len(text),
                "embedding": (vector / np.linalg.norm(vector)).tolist(),
                "terms": lexical.document_terms(text),
            })  # fmt: skip
        async with sessions.begin() as session:
            await session.execute(statement, rows)


async def _measure(
    sessions: Any, questions: list[str], embedder: LocalE5Embedder
) -> dict[str, Any]:
    vectors = await embedder.embed(questions, kind=TextKind.QUERY)
    paths = ["/dept", GROUPS[3]]
    sql: list[float] = []
    for question, vector in zip(questions, vectors, strict=True):
        began = time.perf_counter()
        async with sessions.begin() as session:
            by_vector = await retrieve.vector_candidates(session, vector, paths, None, 50)
            terms = lexical.query_terms(question)
            by_terms = await retrieve.lexical_candidates(session, terms, paths, None, 50)
        retrieve.fuse([(1.0, by_vector), (1.0, by_terms)], top_k=5)
        sql.append(time.perf_counter() - began)
    service = KnowledgeService(sessions, embedder)
    end_to_end: list[float] = []
    for question in questions[:50]:
        began = time.perf_counter()
        await service.search(READER, question + "？", top_k=5)
        end_to_end.append(time.perf_counter() - began)
    return {"sql_hybrid": _percentiles(sql), "end_to_end_with_embedding": _percentiles(end_to_end)}


async def run(sizes: list[int], queries: int) -> dict[str, Any]:
    _, qa = load_corpus(4)
    questions = [q for q, _, _ in random.Random(7).sample(qa, queries)]
    embedder = LocalE5Embedder()
    report: dict[str, Any] = {}
    async with scratch_sessions("rag_latency") as sessions:
        kbs, docs = [], []
        async with sessions.begin() as session:
            for group in GROUPS:
                kb = KnowledgeBase(name=group, owner_group=group, created_by="bench")
                session.add(kb)
                await session.flush()
                doc = Document(
                    kb_id=kb.id, name=f"{group}.txt", content_sha256="-", mime="text/plain",
                    size=0, status="ready", chunk_count=0, created_by="bench", content=b"",
                )  # fmt: skip
                session.add(doc)
                await session.flush()
                kbs.append(kb.id)
                docs.append(doc.id)
        loaded = 0
        for size in sizes:
            began = time.perf_counter()
            await _load(sessions, loaded, size, kbs, docs)
            load_s = time.perf_counter() - began
            report[f"{size}_chunks"] = {
                "insert_chunks_per_s": round((size - loaded) / load_s, 1),
                **await _measure(sessions, questions, embedder),
            }
            loaded = size
    await embedder.aclose()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    report = asyncio.run(run(sizes, args.queries))
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
