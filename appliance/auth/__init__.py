"""Authentication: Keycloak access tokens verified offline against cached signing keys.

``verifier`` checks one token (pinned algorithms, required ``iss``/``aud``/``exp``) and
turns it into a ``principal.Principal`` (subject, roles, department groups); ``jwks``
fetches and caches Keycloak's signing keys, so verifying needs no network per request;
``authenticator`` puts the two together for the gateway's dependencies; ``password_grant``
is the token request the CLI and the local runtime sign a user in with.

May import ``errors`` and ``settings`` only: the audit log, the gateway and the knowledge
bases depend on a ``Principal``, never the other way round. A new role or claim goes in
``principal`` (and the realm in ``appliance/runtime/realm`` and ``playbooks/roles/keycloak``);
a change to what a valid token is goes in ``verifier``.
"""
