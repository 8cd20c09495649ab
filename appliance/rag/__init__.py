"""Retrieval over department knowledge bases: parse, chunk, embed, store, search.

The gateway builds one ``KnowledgeService`` (``appliance.rag.service``) at start-up from the
session factory, an embedder (``appliance.rag.embeddings.build_embedder``) and
``settings.rag``, and calls it from the knowledge-base routes and RAG-in-chat. Every method
takes the caller's ``Principal`` and enforces the access rules itself; chunk queries carry
the group ACL inside their SQL (``appliance.rag.retrieve``).
"""
