"""API keys: static bearer keys for OpenAI-compatible clients (Cherry Studio, ChatBox, Dify,
LangChain) that cannot refresh a five-minute Keycloak token; personal keys stand for their
owner, service keys (made by a sysadmin) for an integration, ``svc:<name>``.

``keys`` makes and reads the key string (``sk-appl-`` and 43 random URL-safe characters)
and its peppered HMAC-SHA256, so a stolen table yields nothing usable without the gateway's
pepper; ``policy`` holds the per-key limits (model scope, CIDR allow-list, expiry);
``models`` the table; ``store`` its queries (one create, list and revoke for both kinds);
``limiter`` the per-worker counter of failed key attempts per source address; ``schemas``
the wire shapes; ``leaks`` finds keys in files (``appliance keys find-leaked``) and reports
only their prefixes.

May import ``appliance.db``, ``appliance.errors``, ``appliance.settings`` and
``appliance.auth`` (a key stands for a :class:`~appliance.auth.principal.Principal`). Who
may manage keys, the audit events and the Keycloak re-check of a key's owner are the
gateway's (``appliance.gateway.keys``).
"""
