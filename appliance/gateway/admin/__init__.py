"""The sysadmin's API (``/api/admin``): replica health, the usage report, and accounts.

Every call is audited as ``admin.action``. The usage report shows counts and token sums
only, read through :mod:`appliance.audit.usage_query` (三员分立: a sysadmin may not read
what anyone asked; that is the auditor's, in ``appliance.gateway.auditor``).

Account management (``accounts``: users, departments, roles, API clients) is audited
before each change and fail-closed; ``appliance.identity`` holds its 三员分立 rules and its
Keycloak calls (``accounts_context`` the audit order, ``accounts_serving`` the operations).

May import: ``appliance.gateway.edge``, ``.quota``, ``.deps``, ``.state``,
``appliance.audit`` and ``appliance.identity``. A new operator view goes here; its SQL goes
in ``appliance.audit``, a new Keycloak call in ``appliance.identity``.
"""
