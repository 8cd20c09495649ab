"""The appliance's web UI: a Gradio app behind Keycloak sign-in that talks only to the gateway.

It runs as its own process (``python -m webui``) on 127.0.0.1:7860 and holds each user's
tokens server-side; the browser only ever gets a signed, HttpOnly session cookie.

``app`` builds the FastAPI app around the Gradio Blocks (``ui`` and its tabs ``ui_chat``,
``ui_audit``, ``ui_knowledge``, ``ui_admin``, ``ui_keys`` (every user's own personal API
keys, with ``api_keys`` its pure rules: a key's row and state, the create form, a refusal in
the user's language), each a ``tab.Tab``, which gets a handler the signed-in user or the
error that says why not; and ``ui_secadmin``, the secadmin's tab of sub-tabs, each a
``ui_secadmin_screen.SecadminScreen`` such as ``ui_keywords``); ``auth``, ``oidc`` and
``sessions`` sign users in and keep their tokens; ``services`` holds what handlers share;
``gateway_client`` is the one way to the model, the audit log, the knowledge bases, the
conversations, the user's API keys and the admin data; ``chat`` streams an answer and files
it; ``answer_view`` renders every answer (reasoning block, answer, citations, the
AI-generated label), streamed or from history; ``history`` is what a conversation stores and
what the model is sent; ``conversations`` lists, opens and files a user's conversations
through the gateway; ``i18n`` holds every string in Chinese and English.

Of the ``appliance`` package it imports only ``audit``'s event types (for the audit
filters); everything else, its users' conversations included, goes through the gateway's
HTTP API with the user's own token, so policy, quotas and audit apply to the UI as to any
other client, and the UI holds no database credentials (only its OIDC client secret and
its session key). A new string goes in ``i18n``; a change to how an answer looks in
``answer_view``; a new gateway call in ``gateway_client``; a new tab in a ``ui_*`` module
(a ``Tab`` subclass) wired in ``ui``.
"""
