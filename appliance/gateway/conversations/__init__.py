"""Each user's saved conversations (``/api/conversations``), served for the web UI.

The web UI holds no database credentials: it lists, opens, renames and deletes a user's
conversations, and files each question and answer, through these routes with that user's
own token. ``routes`` parses the requests and calls ``serving``, which audits every change
as ``conversation.action`` around :class:`~appliance.conversations.service.
ConversationService` (the queries, each filtered by the caller's token subject).

May import: ``appliance.gateway.edge``, ``.deps``, ``.state``, and ``appliance.conversations``,
``appliance.audit``, ``appliance.auth``, ``appliance.db``, ``appliance.labels``. The
tables and queries belong in ``appliance.conversations``; only their HTTP surface and
auditing are here, and ``export``, which writes a conversation as a Markdown, DOCX, PDF or
JSON file carrying the GB 45438 labels.
"""
