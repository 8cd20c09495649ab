"""The auditor's API (``/api/audit``): list, export and verify the audit log.

Each call is itself audited and committed before any data is returned. The reads are in
:mod:`appliance.audit.query` and :mod:`appliance.audit.verify_db`; this package only
exposes them over HTTP to the ``auditor`` role.

May import: ``appliance.gateway.edge``, ``.deps``, ``.state`` and ``appliance.audit``.
"""
