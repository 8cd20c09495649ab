"""Knowledge bases (``/api/kb``) and embeddings (``/v1/embeddings``) over the RAG service.

``routes`` parses the knowledge-base requests and calls ``serving``, which audits each
operation as ``kb.action`` around :class:`~appliance.rag.service.KnowledgeService` (the
service decides who may do what); ``embeddings`` is the OpenAI-compatible embeddings
endpoint with its serving function.

May import: ``appliance.gateway.edge``, ``.deps``, ``.state``, and ``appliance.rag``,
``appliance.audit``, ``appliance.auth``. Retrieval and ingestion themselves belong in
``appliance.rag``; only their HTTP surface and auditing are here.
"""
