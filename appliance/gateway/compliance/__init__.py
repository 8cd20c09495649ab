"""The 等保 2.0 level-3 compliance export: one ZIP of the evidence an assessor asks for.

``GET /api/compliance/export`` (secadmin or auditor, audited as ``compliance.export`` before
any byte is sent; ``appliance compliance export`` downloads it) gathers, in ``serving``: the
accounts with their roles and last sign-in (Keycloak, through ``appliance.identity``), the
permission matrix of every route and role (``permissions``, read from the routes' own
guards, so it cannot drift from the code), the audit statistics and retention status
(``appliance.audit.stats``), the keyword library's version (``appliance.content.store``)
and the newest assessment report (the ``assessment_reports`` table). ``bundle`` writes each
as a JSON file with the GB 45438 labels (``appliance.labels``) and a manifest of their
SHA-256 and SM3 hashes.

A concern of the gateway like ``auditor`` and ``admin``: it may use ``appliance.identity``
(as ``admin`` does) besides the domain packages and the gateway's wiring.
"""
