"""The realm file declares the clearance (admin-only, mapped into tokens), and an older
install gets it on the next ``appliance up``."""

from __future__ import annotations

import json
from typing import Any

from appliance.rag.config import RagSettings
from appliance.runtime import keycloak_clearance, keycloak_service
from appliance.runtime.demo_users import DEMO_USERS

REALM = json.loads(keycloak_service._realm_resource(keycloak_service.REALM_FILE))
DEV = json.loads(keycloak_service._realm_resource(keycloak_service.DEV_CLIENT_FILE))


def _clearance_mapper(client: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in client["protocolMappers"] if m["name"] == "clearance")


def test_people_sign_in_through_clients_that_map_the_clearance_into_access_tokens() -> None:
    clients = {c["clientId"]: c for c in REALM["clients"]}
    for client in (clients["appliance-webui"], clients["appliance-cli"], DEV):
        mapper = _clearance_mapper(client)
        assert mapper["protocolMapper"] == "oidc-usermodel-attribute-mapper"
        assert mapper["config"]["user.attribute"] == mapper["config"]["claim.name"] == "clearance"
        assert mapper["config"]["access.token.claim"] == "true"
        assert mapper["config"]["multivalued"] == "false"


def test_only_administrators_see_or_change_the_clearance_and_its_options_are_the_grades() -> None:
    (attribute,) = [
        a for a in keycloak_clearance.profile_attributes(REALM) if a["name"] == "clearance"
    ]
    assert attribute["permissions"] == {"view": ["admin"], "edit": ["admin"]}
    assert attribute["validations"]["options"]["options"] == RagSettings().grades
    names = {a["name"] for a in keycloak_clearance.profile_attributes(REALM)}
    assert {"username", "email", "firstName", "lastName"} <= names


def test_demo_users_hold_every_grade_and_one_has_none() -> None:
    clearances = {user.clearance for user in DEMO_USERS}
    assert set(RagSettings().grades) <= clearances
    assert "" in clearances


class FakeAdmin:
    """A live realm from before the clearance: default profile, clients without mappers."""

    def __init__(self) -> None:
        self.profile: dict[str, Any] = {"attributes": [{"name": "username"}], "groups": []}
        self.mappers: dict[str, list[dict[str, Any]]] = {"uuid-appliance-webui": []}
        self.updates = 0

    def get_realm_users_profile(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.profile))

    def update_realm_users_profile(self, payload: dict[str, Any]) -> None:
        self.profile = payload
        self.updates += 1

    def get_client_id(self, client_id: str) -> str | None:
        uuid = f"uuid-{client_id}"
        return uuid if uuid in self.mappers else None

    def get_mappers_from_client(self, uuid: str) -> list[dict[str, Any]]:
        return self.mappers[uuid]

    def add_mapper_to_client(self, uuid: str, mapper: dict[str, Any]) -> None:
        self.mappers[uuid].append(mapper)


def test_an_older_realm_gets_the_attribute_and_the_mapper_once() -> None:
    admin = FakeAdmin()
    for _ in range(2):
        keycloak_clearance.ensure_profile(admin, REALM)  # type: ignore[arg-type]
        keycloak_clearance.ensure_mappers(admin, REALM["clients"])  # type: ignore[arg-type]
    assert admin.updates == 1
    assert [a["name"] for a in admin.profile["attributes"]].count("clearance") == 1
    assert [m["name"] for m in admin.mappers["uuid-appliance-webui"]].count("clearance") == 1
