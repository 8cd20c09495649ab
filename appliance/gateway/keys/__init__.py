"""Personal API keys as the gateway serves them: ``/api/keys`` (``routes``, ``serving``) and
signing in with a key (``auth``), whose owner's Keycloak account is re-read at most every
``api_keys.account_recheck_s`` (``accounts``).

May import the domain packages, ``appliance.identity`` (the accounts client) and the
gateway's wiring (``deps``, ``state``, ``edge``). ``deps`` reaches the key authenticator
through ``state``'s protocol, never this package.
"""
