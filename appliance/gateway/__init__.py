"""The API gateway: the one place that enforces policy and writes the audit log.

``app.create_app`` builds it and includes each area's router. The layers, top to bottom
(a module imports only from its own layer's package or from below):

- ``app``: the app factory and lifespan (builds the long-lived objects, includes routers).
- The routes, one package per concern, each a thin route module over its serving code:
  ``chat`` (``/v1/models``, ``/v1/chat/completions``: admission, retrieval for ``rag``,
  relay to vLLM), ``knowledge`` (``/api/kb`` and ``/v1/embeddings``), ``conversations``
  (each user's own ``/api/conversations``, where the web UI keeps its chats), ``admin``
  (the sysadmin's ``/api/admin``, accounts included, on ``appliance.identity``),
  ``auditor`` (the auditor's ``/api/audit``), ``content`` (the secadmin's keyword library,
  ``/api/content/keywords``), ``complaints`` (``/api/complaints``: staff report answers,
  the secadmin handles them), ``assessment`` (the GB/T 45654 assessment reports,
  ``/api/assessment/reports``), ``compliance`` (the 等保 evidence ZIP for the secadmin
  and the auditor, ``/api/compliance/export``, on ``appliance.identity`` for the accounts),
  ``keys`` (each user's personal API keys, ``/api/keys``, and signing in with one, on
  ``appliance.identity`` to re-read a key owner's account; ``deps`` sends a bearer with the
  key marker to it through ``state``),
  and the modules ``health`` (``/healthz``,
  ``/readyz``, ``/metrics``, ``/openapi.json``) and ``me`` (``/api/me``). ``chat`` may
  import ``knowledge`` (a ``rag`` chat checks knowledge-base access the same way); no
  other route package imports another.
- ``deps`` (who may call: ``CurrentPrincipal``, ``StaffPrincipal``, ...) and ``state`` (the
  process's long-lived objects on ``app.state.gateway``). Serving code never reads
  ``app.state``: a dependency builds it a small typed context (``ChatContext``, ...).
- At the bottom, importing no other gateway package: ``edge`` (middleware, load shedding,
  the error translation, request body reading and validation, OpenAPI helpers, metrics),
  ``replicas`` (the pool of vLLM replicas, called backends in the settings and the API) and
  ``quota`` (per-user concurrency and daily token limits).

Where a change goes: a new endpoint in its concern's ``routes`` module with its logic in
that package's serving module; a new error status in ``appliance.errors`` (rendered by
``edge.errors``); a new limit in ``quota`` or ``edge.shedding``; anything that reads the
audit table in ``appliance.audit``, never here.
"""
