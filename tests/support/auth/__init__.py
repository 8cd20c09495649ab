"""Tokens signed with local keys and a local identity provider, for tests and benchmarks
that verify tokens without Keycloak: ``mint`` (claims, signing, and verifying with the
settings they are minted for), ``local_idp`` (a JWKS and discovery endpoint on a free port).
May import ``appliance.auth``; nothing of a suite."""
