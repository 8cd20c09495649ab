"""Benchmarks on this machine against the local runtime: the gateway's added latency
(``gateway_overhead``, with ``overhead_load`` and ``overhead_report``), what a concurrency
slot in PostgreSQL costs (``admission_slots``), what load shedding refuses under bursts,
closed loops and overload, the former rule beside the current one (``admission``), and RAG
retrieval quality, latency and ingestion (``rag_*``). Each writes or quotes a page of
``ops/benchmarks/``; run them as ``python -m bench.perf.<name>``."""
