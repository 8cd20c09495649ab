"""An existing local install gets the realm file's new clients on the next ``appliance up``
(Keycloak imports the realm only once), and the gateway's settings get the accounts secret."""

from __future__ import annotations

import json
from typing import Any

from appliance.runtime import gateway_service, keycloak_service
from appliance.runtime.paths import RuntimePaths

REALM = json.loads(keycloak_service._realm_resource(keycloak_service.REALM_FILE))


class FakeAdmin:
    """The few admin calls ``ensure_realm_clients`` makes, over an in-memory realm that
    an older import left without the CLI and accounts clients."""

    def __init__(self, existing: set[str]) -> None:
        self.clients = {name: f"uuid-{name}" for name in existing | {"realm-management"}}
        self.created: list[str] = []
        self.assigned: list[tuple[str, str, list[str]]] = []
        self.realm_roles: list[tuple[str, list[str]]] = []

    def get_client_id(self, client_id: str) -> str | None:
        return self.clients.get(client_id)

    def create_client(self, payload: dict[str, Any], skip_exists: bool = False) -> str:
        self.created.append(payload["clientId"])
        self.clients[payload["clientId"]] = f"uuid-{payload['clientId']}"
        return self.clients[payload["clientId"]]

    def get_client_service_account_user(self, uuid: str) -> dict[str, str]:
        return {"id": f"sa-{uuid}"}

    def get_client_role(self, uuid: str, name: str) -> dict[str, str]:
        return {"name": name, "containerId": uuid}

    def assign_client_role(self, user_id: str, uuid: str, roles: list[dict[str, str]]) -> None:
        self.assigned.append((user_id, uuid, [role["name"] for role in roles]))

    def get_realm_role(self, name: str) -> dict[str, str]:
        return {"name": name}

    def assign_realm_roles(self, user_id: str, roles: list[dict[str, str]]) -> None:
        self.realm_roles.append((user_id, [role["name"] for role in roles]))

    def get_client_secrets(self, uuid: str) -> dict[str, str]:
        return {"value": f"secret-of-{uuid}"}


def test_missing_clients_are_created_and_the_service_account_gets_its_roles(
    paths: RuntimePaths,
) -> None:
    admin = FakeAdmin({"appliance-gateway", "appliance-webui"})
    keycloak_service.ensure_realm_clients(paths, admin)  # type: ignore[arg-type]
    assert admin.created == ["appliance-cli", "appliance-accounts", "svc-assessment"]
    wanted = REALM["users"][0]["clientRoles"]["realm-management"]
    assert {"manage-users", "view-users", "query-groups", "manage-clients"} <= set(wanted)
    # The compliance export reads the realm's login events with it.
    assert "view-events" in wanted
    assert admin.assigned == [("sa-uuid-appliance-accounts", "uuid-realm-management", wanted)]
    secret = paths.secret(keycloak_service.ACCOUNTS_SECRET_FILE)
    assert secret.read_text().strip() == "secret-of-uuid-appliance-accounts"
    assert secret.stat().st_mode & 0o777 == 0o600
    # The assessment's service account may chat and nothing else: staff, no department.
    assert admin.realm_roles == [("sa-uuid-svc-assessment", ["staff"])]
    assessment = paths.secret(keycloak_service.ASSESSMENT_SECRET_FILE)
    assert assessment.read_text().strip() == "secret-of-uuid-svc-assessment"
    assert assessment.stat().st_mode & 0o777 == 0o600

    again = FakeAdmin(set(admin.clients))
    keycloak_service.ensure_realm_clients(paths, again)  # type: ignore[arg-type]
    assert again.created == []  # a second `up` changes nothing but re-asserts the roles


def test_the_gateways_settings_carry_the_accounts_secret_once_saved(paths: RuntimePaths) -> None:
    assert "APPLIANCE_KEYCLOAK__ACCOUNTS_CLIENT_SECRET" not in gateway_service.render_settings(
        paths
    )
    keycloak_service.ensure_realm_clients(paths, FakeAdmin(set()))  # type: ignore[arg-type]
    values = gateway_service.render_settings(paths)
    assert values["APPLIANCE_KEYCLOAK__ACCOUNTS_CLIENT_SECRET"] == (
        "secret-of-uuid-appliance-accounts"
    )
