"""The data-grade clearance in the local Keycloak: the user attribute, its token claim, and
the demo users' clearances.

The realm file declares ``clearance`` in the user profile (only administrators see or
change it: a user who could edit it would grant themselves any grade) and maps it into the
access tokens of the clients people sign in with. Keycloak imports the realm file only once,
so every ``appliance up`` adds what an older import lacks: the attribute, the mapper on each
client (the local ``appliance-dev`` one too), and each demo user's clearance.
"""

from __future__ import annotations

import json
from typing import Any

from keycloak import KeycloakAdmin

from appliance.runtime.demo_users import DEMO_USERS

ATTRIBUTE = "clearance"
_PROFILE_COMPONENT = "org.keycloak.userprofile.UserProfileProvider"


def profile_attributes(realm: dict[str, Any]) -> list[dict[str, Any]]:
    """The user-profile attributes the realm file declares."""
    components = realm.get("components", {}).get(_PROFILE_COMPONENT, [])
    attributes: list[dict[str, Any]] = []
    for component in components:
        for config in component.get("config", {}).get("kc.user.profile.config", []):
            attributes += json.loads(config).get("attributes", [])
    return attributes


def ensure_profile(admin: KeycloakAdmin, realm: dict[str, Any]) -> None:
    """Add the realm file's user-profile attributes that the live realm lacks."""
    profile: dict[str, Any] = admin.get_realm_users_profile()
    have = {attribute["name"] for attribute in profile.get("attributes", [])}
    missing = [a for a in profile_attributes(realm) if a["name"] not in have]
    if missing:
        profile["attributes"] = [*profile.get("attributes", []), *missing]
        admin.update_realm_users_profile(profile)


def ensure_mappers(admin: KeycloakAdmin, clients: list[dict[str, Any]]) -> None:
    """Give each existing client the protocol mappers of its definition that it lacks."""
    for client in clients:
        uuid = admin.get_client_id(client["clientId"])
        if uuid is None:
            continue
        have = {mapper["name"] for mapper in admin.get_mappers_from_client(uuid)}
        for mapper in client.get("protocolMappers", []):
            if mapper["name"] not in have:
                admin.add_mapper_to_client(uuid, mapper)


def ensure_demo_clearances(admin: KeycloakAdmin) -> None:
    """Set each demo user's clearance where it differs (a user without one reads the lowest
    grade only)."""
    for demo in DEMO_USERS:
        user_id = admin.get_user_id(demo.username)
        if user_id is None or not demo.clearance:
            continue
        user: dict[str, Any] = admin.get_user(user_id)
        attributes: dict[str, list[str]] = user.get("attributes") or {}
        if attributes.get(ATTRIBUTE) != [demo.clearance]:
            user["attributes"] = {**attributes, ATTRIBUTE: [demo.clearance]}
            admin.update_user(user_id, user)
