"""On-premise DeepSeek-R1 appliance: gateway, audit log, retrieval, sizing, provisioning.

The packages form layers; a package imports only from its own layer's lower entries or
from layers below it, never upwards:

1. ``errors`` (domain errors) and ``settings`` (the one settings object). ``settings``
   embeds ``rag.config``'s plain settings models and nothing else of the packages above.
2. ``db`` (engine, sessions, declarative base, migrations), then ``auth`` (access tokens)
   and ``audit`` (the tamper-evident log, on ``db``).
3. ``rag`` (knowledge bases and retrieval), ``conversations`` (each user's saved chats, on
   ``db``) and ``sizing`` (GPU sizing, vLLM launch
   profiles, the load benchmark); ``provision`` (Ansible runs, the offline bundle, what a
   node launches) builds on ``sizing``; ``identity`` (accounts in Keycloak: the 三员分立
   rules and the admin API calls) builds on ``auth``; ``apikeys`` (personal API keys: their
   format, peppered hash, limits and table) on ``db`` and ``auth``.
4. ``gateway``: the FastAPI service, the one place that enforces policy and audits; it
   uses layers 1 to 3, ``rag``, ``conversations``, ``apikeys`` and (its ``admin``,
   ``compliance`` and ``keys`` packages) ``identity``.
5. ``runtime`` (the local all-in-one stack) and ``cli`` (the ``appliance`` command) on top.
   They start the gateway and the web UI as processes and never import their code.

Two deliberate exceptions: ``db.migrations`` imports every package's models so that Alembic
sees every table, and the web UI (``webui``, beside this package) imports only ``audit``'s
event types; everything else, its users' conversations included, it gets through the
gateway's HTTP API, so it holds no database credentials.

Where a change goes: a setting in ``settings.py`` (and the template Ansible renders it
from, in ``playbooks/roles/gateway``); a table as a model in its package plus a migration in
``db/migrations/versions``; an HTTP endpoint in ``gateway``; a command in ``cli``; a GPU or
model in ``sizing``.
"""

__version__ = "0.1.0"
