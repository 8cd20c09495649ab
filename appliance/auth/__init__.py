"""Authentication: Keycloak access tokens verified offline against cached signing keys."""
