"""Benchmarks and report generators: they measure the appliance or draw the figures that
``ops/`` quotes, and are run by hand or by ``make``, never collected by pytest.

``reliability/`` writes ``ops/reliability/REPORT.md`` from the chaos suite's recorded
figures; ``perf/`` measures the gateway's overhead and RAG retrieval and ingestion on this
machine (``ops/benchmarks/``); ``gpu/`` holds the scripts copied to a GPU machine and run
there by path (``ops/benchmarks/gpu-h200.md``); ``screenshots`` regenerates
``ops/screenshots/``. Run the Python ones as modules from the checkout's root
(``.venv/bin/python -m bench.perf.gateway_overhead``). Each page of ``ops/`` that quotes
measured figures has its raw results committed beside it, and ``docs`` regenerates every
such page from them alone (``python -m bench.docs``; a unit test checks nobody edited one).

May import ``appliance``, ``webui`` and ``tests.support`` (the helpers the tests use too:
stub backend, scratch databases, results recorder); never a test suite. A new benchmark
goes in the folder of what it measures, and its rerun command in the ops document that
quotes its figures.
"""
