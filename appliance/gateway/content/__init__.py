"""The security administrator's keyword library (``/api/content/keywords``).

三员分立: only the ``secadmin`` role may read or change the library; the sysadmin and the
auditor get 403 like anyone else. An import is shown first as a before-and-after diff
(``dry_run``), then applied: its intent is committed to the audit log before the new
version is stored (503 ``audit_unavailable`` and nothing stored when it cannot be), and the
worker that imported rebuilds its filter at once, the others within ``content.reload_ttl_s``.
Reads (the listing, the versions, the export) are audited as ``content.action`` too.

``serving`` holds the operations, ``routes`` the thin HTTP layer. The storage and the
matching are ``appliance.content``'s.

May import: ``appliance.gateway.edge``, ``.deps``, ``.state``, ``appliance.audit`` and
``appliance.content``.
"""
