"""Complaints about answers (举报/反馈): GB/T 45654 and GB 45438 ask that users can report
generated content and that the provider handles each report.

A user flags one of the answers in their own saved conversations with a category and a
reason; the security administrator works through the open complaints and closes each as
handled or dismissed, with a note. ``models`` holds the table, ``schemas`` the wire shapes,
``service`` the queries. A complaint keeps a copy of the flagged answer and the question
before it, so it still says what was reported after the user deletes the conversation.

May import ``appliance.db``, ``appliance.errors`` and ``appliance.conversations`` (whose
tables say which message is whose). Who may call what, and the audit events, are the
gateway's (``appliance.gateway.complaints``).
"""
