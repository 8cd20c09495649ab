"""Search latency at 10k and 100k chunks (p50/p95), with the ACL filter of a real caller.

Run after ``rag_cmrc.py`` (its cached e5 vectors make the base corpus quick to load):

    .venv/bin/python -m bench.perf.rag_latency --data cmrc2018_trial.json \
        [--sizes 10000,100000] [--queries 200]

The CMRC corpus is ingested for real (the quality run's chunks); the rest is synthesised in
SQL from it: each extra chunk copies the text and tsvector of a real chunk and gets a vector
mixed from two real e5 vectors (0.6/0.4) plus a little noise, so the HNSW graph sees a continuous,
e5-shaped distribution rather than duplicates. Extra chunks are spread at random over ten
department groups; the searching caller belongs to one, so both legs must filter 90% of
the candidates away inside the query. Copying real texts keeps Chinese term statistics, but
every text occurs ~130 times at 100k chunks, so lexical matches are denser than in a real
corpus of that size (a pessimistic case for the lexical leg). Each synthetic chunk gets the
owner-group lexeme of its own group (see ``appliance.rag.lexical.acl_term``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from appliance.auth.principal import Principal
from appliance.rag import lexical, retrieve
from appliance.rag.embeddings import LocalE5Embedder, TextKind
from appliance.rag.service import KnowledgeService
from bench.perf import rag_raw
from bench.perf.rag_cmrc import EDITOR, CachedEmbedder, load_corpus
from bench.perf.rag_scratch import database_versions, scratch_sessions

READER = Principal("reader", "reader", frozenset({"staff"}), frozenset({"/dept/d3"}))
# Every chunk is at the lowest data grade, so any clearance reads them all.
ACCESS = retrieve.Access(["/dept", "/dept/d3"], clearance=1)
DEPARTMENTS = 10
END_TO_END_QUERIES = 50
SYNTHESISE = """
INSERT INTO chunks (id, document_id, kb_id, owner_group, ord, text, page, section, tokens,
                    embedding, lexical)
SELECT gen_random_uuid(), a.document_id, a.kb_id, grp.name, g, a.text, NULL, a.section,
       a.tokens,
       l2_normalize(CAST(ARRAY(
           SELECT 0.6 * x + 0.4 * y + (random() - 0.5) * 0.02
           FROM unnest(a.embedding::real[], b.embedding::real[]) AS t(x, y)) AS vector)),
       ts_delete(a.lexical, 'acl' || md5('/dept/bench'))
           || to_tsvector('simple', 'acl' || md5(grp.name))
FROM generate_series(%(start)s, %(stop)s - 1) AS g
JOIN base a ON a.n = g %% %(base)s
JOIN base b ON b.n = (g * 7919) %% %(base)s
CROSS JOIN LATERAL (
    SELECT '/dept/d' || floor(random() * %(departments)s + g * 0)::int AS name) AS grp
"""


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = sorted(1000 * s for s in samples)
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
    }


async def _measure(
    sessions: Any, questions: list[str], vectors: list[list[float]]
) -> dict[str, Any]:
    legs: dict[str, list[float]] = {"vector": [], "lexical": [], "hybrid_sql": []}
    for question, vector in zip(questions, vectors, strict=True):
        terms = lexical.query_terms(question)
        async with sessions.begin() as session:
            began = time.perf_counter()
            await retrieve.vector_candidates(session, vector, ACCESS, None, 50)
            legs["vector"].append(time.perf_counter() - began)
        async with sessions.begin() as session:
            began = time.perf_counter()
            await retrieve.lexical_candidates(session, terms, ACCESS, None, 50)
            legs["lexical"].append(time.perf_counter() - began)
        began = time.perf_counter()
        pair = await retrieve.both_legs(
            sessions, vector, terms, access=ACCESS, kb_ids=None, limit=50
        )
        retrieve.fuse([(1.0, pair[0]), (1.5, pair[1])], top_k=5)
        legs["hybrid_sql"].append(time.perf_counter() - began)
    return {leg: _percentiles(samples) for leg, samples in legs.items()}


async def run(data_file: Path, sizes: list[int], queries: int) -> dict[str, Any]:
    # The same documents as the quality run (four paragraphs each), so its cached vectors
    # serve this one.
    files, qa = load_corpus(data_file, 4)
    questions = [q for q, _, _ in random.Random(7).sample(qa, queries)]
    embedder = CachedEmbedder(LocalE5Embedder())
    vectors = await embedder.embed(questions, kind=TextKind.QUERY)
    report: dict[str, Any] = {
        "queries": queries,
        "end_to_end_queries": min(queries, END_TO_END_QUERIES),
        "departments": DEPARTMENTS,
    }
    async with scratch_sessions("rag_latency") as scratch:
        report["database"] = database_versions(scratch.owner)
        service = KnowledgeService(scratch.sessions, embedder)
        kb = await service.create_kb(EDITOR, "CMRC", "/dept/bench")
        ingested = await service.ingest_files(EDITOR, kb.id, files)
        report["real_chunks"] = sum(r.chunks for r in ingested)
        owner = scratch.owner
        owner.execute(
            "CREATE TABLE base AS SELECT (row_number() OVER (ORDER BY id)) - 1 AS n, * FROM chunks"
        )
        loaded = report["real_chunks"]
        for size in sizes:
            began = time.perf_counter()
            owner.execute("SET maintenance_work_mem = '1GB'")
            owner.execute("DROP INDEX ix_chunks_embedding_hnsw")
            owner.execute(
                SYNTHESISE,
                {
                    "start": loaded,
                    "stop": size,
                    "base": report["real_chunks"],
                    "departments": DEPARTMENTS,
                },
            )
            owner.execute(
                "CREATE INDEX ix_chunks_embedding_hnsw ON chunks "
                "USING hnsw (embedding vector_cosine_ops)"
            )
            owner.execute("ANALYZE chunks")
            load_s = time.perf_counter() - began
            loaded = size
            live = KnowledgeService(scratch.sessions, LocalE5Embedder())
            end_to_end = []
            for question in questions[:END_TO_END_QUERIES]:
                started = time.perf_counter()
                await live.search(READER, question, top_k=5)
                end_to_end.append(time.perf_counter() - started)
            report[f"{size}_chunks"] = {
                "synthesise_and_index_s": round(load_s, 1),
                **await _measure(scratch.sessions, questions, vectors),
                "search_with_query_embedding": _percentiles(end_to_end),
            }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, required=True, help="CMRC 2018 trial split (SQuAD-style JSON)"
    )
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", type=Path, help="also write the raw results (bench.perf.rag_raw)")
    args = parser.parse_args()
    record = rag_raw.Record()
    report = asyncio.run(run(args.data, [int(s) for s in args.sizes.split(",")], args.queries))
    json.dump(report, sys.stdout, indent=2)
    print()
    if args.json:
        record.write(args.json, report)


if __name__ == "__main__":
    main()
