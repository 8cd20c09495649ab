"""Ingestion throughput without the database: parsing pages/s, chunking chunks/s, embedding.

Run: ``.venv/bin/python -m bench.perf.rag_ingest [--pages 200] [--embed 64]``

A PDF of ``--pages`` text pages (each about 1,800 characters, a dense A4 page) and a DOCX
of the same text are generated in memory, then parsed and chunked the way ingestion does
(``appliance.rag.ingest.prepare``: parse, chunk, jieba terms). Embedding is timed
separately on ``--embed`` of the resulting chunks with the local e5 model, since it
dominates ingestion on CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import time
from pathlib import Path

from docx import Document
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from appliance.rag.config import RagSettings
from appliance.rag.embeddings import LocalE5Embedder
from appliance.rag.ingest import prepare
from bench.perf import rag_raw

LINE = "The committee reviewed the budget, the audit findings and the plan for next year. "


def make_pdf(pages: int) -> bytes:
    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject({
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        })
    )  # fmt: skip
    for number in range(pages):
        page = writer.add_blank_page(width=595, height=842)
        lines = "".join(f"(Page {number} line {i}. {LINE}) Tj 0 -14 Td " for i in range(20))
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 9 Tf 40 800 Td {lines}ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(pages: int) -> bytes:
    document = Document()
    text = "公司各部门应当按照年度预算执行支出，严格审批程序。" * 6
    for number in range(pages):
        document.add_heading(f"第{number + 1}章", level=1)
        for _ in range(5):
            document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--embed", type=int, default=64)
    parser.add_argument("--json", type=Path, help="also write the raw results (bench.perf.rag_raw)")
    args = parser.parse_args()
    record = rag_raw.Record()
    report: dict[str, object] = {}
    chunk_texts: list[str] = []
    for label, data in (("pdf", make_pdf(args.pages)), ("docx", make_docx(args.pages))):
        began = time.perf_counter()
        prepared = prepare(f"bench.{label}", data, RagSettings())
        seconds = time.perf_counter() - began
        chunk_texts += prepared.embed_texts
        report[label] = {
            "pages": args.pages,
            "chunks": len(prepared.chunks),
            "pages_per_s": round(args.pages / seconds, 1),
            "chunks_per_s": round(len(prepared.chunks) / seconds, 1),
        }
    embedder = LocalE5Embedder()
    sample = chunk_texts[: args.embed]
    asyncio.run(embedder.embed(sample[:1]))
    began = time.perf_counter()
    asyncio.run(embedder.embed(sample))
    report["embedded_chunks"] = len(sample)
    report["embedding_chunks_per_s"] = round(len(sample) / (time.perf_counter() - began), 2)
    json.dump(report, sys.stdout, indent=2)
    print()
    if args.json:
        record.write(args.json, report)


if __name__ == "__main__":
    main()
