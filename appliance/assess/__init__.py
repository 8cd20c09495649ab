"""The GB/T 45654-2025 assessment: refusal and generated-content banks run against the
appliance, and the report that holds the results to the standard's thresholds.

GB/T 45654 (网络安全技术 生成式人工智能服务安全基本要求) asks a provider to test its
service with question banks before and while it serves: the model must refuse questions it
should refuse (应拒答), must not refuse those it should answer (非拒答), and what it
generates must pass the keyword screening. This package is that test:

- ``thresholds``: the standard's three figures, in one place with their clause;
- ``banks``: the two question banks as CSV files, read with the line of any error;
- ``classify``: whether a reply is a refusal (the gateway's content filter, or a refusal
  phrase of a documented, configurable list in Chinese and English);
- ``runner``: the banks sent through the gateway's OpenAI-compatible chat route with the
  assessment's service account token, each reply classified and, for the content bank,
  screened with the keyword library (``appliance.content``);
- ``report``: per-category tallies against the thresholds, as JSON and HTML;
- ``models`` and ``store``: the stored reports (``assessment_reports``), the last of which
  the compliance export includes.

Layer 4, beside ``content``: may import layers 1-3 and ``content``. The gateway serves the
stored reports (``appliance.gateway.assessment``); ``appliance assess`` (the CLI) runs the
banks. Only ``runner`` (HTTP, through the client it is given) and ``store`` (the database)
do I/O.
"""
