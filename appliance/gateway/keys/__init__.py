"""API keys as the gateway serves them: a user's personal keys, ``/api/keys`` (``routes``,
``serving``); the sysadmin's service keys for integrations, ``/api/service-keys``
(``service_routes``, ``service``); the secadmin's key policy (``policy_routes``,
``policy``); and signing in with a key (``auth``), whose owner's Keycloak account is
re-read at most every ``api_keys.account_recheck_s`` (``accounts``; a service key has none).

May import the domain packages, ``appliance.identity`` (the accounts client) and the
gateway's wiring (``deps``, ``state``, ``edge``). ``deps`` reaches the key authenticator
through ``state``'s protocol, never this package.
"""
