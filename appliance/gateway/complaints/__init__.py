"""Complaints about answers (``/api/complaints``): the reporting channel GB/T 45654 and
GB 45438 require, and its handling.

Staff flag an answer of their own conversation (a message of anyone else's answers 404, as
an unknown one) and list their own complaints with their states. The security
administrator alone reads the queue and closes a complaint as handled or dismissed with a
note (三员分立: the sysadmin and the auditor get 403; the auditor reads each step in the
audit log). Filing and closing commit their intent to the audit log first (503
``audit_unavailable`` and nothing stored when they cannot); reading the queue is audited
too, as ``complaint.action``.

``serving`` holds the operations, ``routes`` the thin HTTP layer; the table and queries are
``appliance.complaints``'s.

May import: ``appliance.gateway.edge``, ``.deps``, ``.state``, ``appliance.audit`` and
``appliance.complaints``.
"""
