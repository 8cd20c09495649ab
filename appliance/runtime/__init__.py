"""The local all-in-one runtime behind ``make up``: every service on loopback, on one machine.

``stack`` starts and stops the services in dependency order; each has a module named
``<service>_service`` that knows how to start, check and stop it (``postgres_service``,
``keycloak_service``, ``vllm_service``, ``gateway_service``, ``webui_service``) on top of
``process`` (detached processes, pid files, readiness waits; ``process.launch`` is the
one start-up sequence of a service: stop a leftover, start, wait until ready). ``paths``
names every file under ``var/``, ``secrets`` generates and keeps passwords (mode 0600),
``endpoints`` writes ``var/endpoints.json`` for tests and scripts, and ``demo_users`` and
``demo_kb`` seed the demo accounts and knowledge base. ``realm/`` is the Keycloak realm
deployments import too.

A top layer: it may import the packages below (``audit`` for the checkpoint key, ``sizing``
for vLLM's launch profile), but never the gateway's or the web UI's code: it starts them
as processes (``python -m uvicorn ...``, ``python -m webui``). Nothing imports it except
``cli``. A new local service gets its own ``<service>_service`` module and a step in
``stack``; a new port or URL goes in ``endpoints``; a new file under ``var/`` in ``paths``;
a new demo user in ``demo_users``.
"""
