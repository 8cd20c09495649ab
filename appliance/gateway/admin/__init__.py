"""The sysadmin's API (``/api/admin``): replica health and the usage report.

Every call is audited as ``admin.action``. The usage report shows counts and token sums
only, read through :mod:`appliance.audit.usage_query` (三员分立: a sysadmin may not read
what anyone asked; that is the auditor's, in ``appliance.gateway.auditor``).

May import: ``appliance.gateway.edge``, ``.quota``, ``.deps``, ``.state`` and
``appliance.audit``. A new operator view goes here; its SQL goes in ``appliance.audit``.
"""
