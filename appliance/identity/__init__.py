"""Accounts in Keycloak: users, department groups, roles and integration clients.

``policy`` holds the rules of 三员分立 for account changes (only the sysadmin manages
accounts; the administrator roles are granted only by the secadmin; nobody changes their
own roles or disables themselves), as pure functions over a ``Principal``; ``directory``
performs the changes through Keycloak's admin API (python-keycloak) with the gateway's own
service-account client; ``schemas`` are the wire models of both; ``hr_csv`` reads an HR
export for ``appliance users import``.

May import ``errors``, ``settings`` and ``auth`` only: the gateway's admin routes call it
(``appliance.gateway.admin.accounts``), and the CLI reads CSV with it but reaches Keycloak
only through the gateway, which audits. A new rule goes in ``policy``; a new Keycloak call
in ``directory``.
"""
