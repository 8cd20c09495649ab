"""The reliability report, ``ops/reliability/REPORT.md``, drawn from the figures the chaos
suite records (``tests.support.record``): ``figures`` reads and formats them, ``plots``
draws them, ``sections`` writes one section per known scenario, ``report`` puts the page
together (``python -m bench.reliability.report``; ``make chaos`` runs it)."""
