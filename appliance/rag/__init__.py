"""Retrieval over department knowledge bases: parse, chunk, embed, store, search.

The gateway builds one ``KnowledgeService`` (``appliance.rag.service``) at start-up from the
session factory, an embedder (``appliance.rag.embeddings.build_embedder``) and
``settings.rag``, and calls it from the knowledge-base routes and RAG-in-chat. Every method
takes the caller's ``Principal`` and enforces the access rules itself; chunk queries carry
the group ACL and the data grade within the caller's clearance inside their SQL
(``appliance.rag.retrieve``; the grade scale in ``grades``, a grade's change in ``grading``).

May import ``errors``, ``db`` and ``auth`` (for ``Principal``); never ``gateway``, which
calls in. ``config`` holds its settings models, which ``appliance.settings`` embeds, so it
imports nothing of the appliance. A new file format goes in ``parsers``; chunk sizes and
overlap in ``chunking``; ranking in ``retrieve``; who may read or manage what in ``acl``
and ``service``; an API key's knowledge-base scope in ``key_scope``; what a knowledge base
does with personal information in ``personal``
(the detection is handed in by the gateway); a new table or column in ``models`` with a migration in
``appliance/db/migrations/versions``.
"""
