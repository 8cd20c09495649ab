"""The keycloak role's node-side realm upgrade (playbooks/roles/keycloak/library/
appliance_keycloak_realm.py) against an in-memory Keycloak admin API: a realm imported
before the file had the accounts client, view-events, the stored LOGIN events and the
clearance attribute and mappers gets each of them once, and then reports no change; a
realm freshly imported from the same file reports none at all (so a second deploy stays
``changed=0``); what a site changed itself is kept."""

from __future__ import annotations

import copy
import importlib.util
import re
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from appliance.runtime.keycloak_service import events_config as runtime_events_config
from tests.support.site_realm import rendered_site_realm

ROOT = Path(__file__).resolve().parents[3]
MODULE = ROOT / "playbooks/roles/keycloak/library/appliance_keycloak_realm.py"
DAY_S = 86_400
# Realm-management's roles the service accounts may be given (a subset of Keycloak's).
MANAGEMENT_ROLES = (
    "manage-users", "view-users", "query-groups", "view-clients", "manage-clients",
    "view-realm", "view-events", "manage-events", "realm-admin",
)  # fmt: skip


@pytest.fixture(scope="module")
def node() -> ModuleType:
    spec = importlib.util.spec_from_file_location("appliance_keycloak_realm", MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def realm() -> dict[str, Any]:
    """The realm file as the keycloak role renders it for a site."""
    return rendered_site_realm()


class FakeKeycloak:
    """The admin API paths the module uses, over one realm held in memory; every write is
    recorded."""

    def __init__(self) -> None:
        self.clients: dict[str, dict[str, Any]] = {}
        self.client_roles: dict[str, set[str]] = {}
        self.service_accounts: dict[str, str] = {}  # client uuid -> user id
        self.mappings: dict[str, dict[str, set[str]]] = {}  # user id -> "realm"/uuid -> names
        self.realm_roles = {"staff", "kb-editor", "auditor", "sysadmin", "secadmin"}
        self.events: dict[str, Any] = {}
        self.profile: dict[str, Any] = {"attributes": [], "groups": []}
        self.writes: list[tuple[str, str]] = []

    def add_client(self, representation: dict[str, Any]) -> str:
        client_id = str(uuid.uuid4())
        self.clients[client_id] = copy.deepcopy(representation)
        self.clients[client_id].setdefault("protocolMappers", [])
        self.client_roles[client_id] = set()
        if representation.get("serviceAccountsEnabled"):
            user_id = str(uuid.uuid4())
            self.service_accounts[client_id] = user_id
            self.mappings[user_id] = {"realm": set()}
        return client_id

    def uuid_of(self, client_id: str) -> str:
        return next(k for k, v in self.clients.items() if v["clientId"] == client_id)

    def account_of(self, client_id: str) -> str:
        return self.service_accounts[self.uuid_of(client_id)]

    def _mapping(self, user: str, scope: str) -> set[str]:
        return self.mappings[user].setdefault(scope, set())

    def __call__(self, method: str, path: str, body: Any) -> Any:
        if method != "GET":
            self.writes.append((method, path))
        split = urlsplit(path)
        route, query = split.path, parse_qs(split.query)
        if (method, route) == ("GET", "/clients"):
            return [
                {"id": k, **v}
                for k, v in self.clients.items()
                if v["clientId"] in query["clientId"]
            ]
        if (method, route) == ("POST", "/clients"):
            self.add_client(body)
            return None
        if match := re.fullmatch(r"/clients/([^/]+)/service-account-user", route):
            return {"id": self.service_accounts[match[1]]}
        if match := re.fullmatch(r"/users/([^/]+)/role-mappings/(realm|clients/[^/]+)", route):
            scope = match[2].removeprefix("clients/")
            if method == "GET":
                return [{"name": n} for n in sorted(self._mapping(match[1], scope))]
            self._mapping(match[1], scope).update(role["name"] for role in body)
            return None
        if match := re.fullmatch(r"/roles/([^/]+)", route):
            name = unquote(match[1])
            assert name in self.realm_roles
            return {"name": name}
        if match := re.fullmatch(r"/clients/([^/]+)/roles/([^/]+)", route):
            name = unquote(match[2])
            assert name in self.client_roles[match[1]]
            return {"name": name, "clientRole": True}
        if route == "/events/config":
            if method == "GET":
                return dict(self.events)
            self.events = dict(body)
            return None
        if route == "/users/profile":
            if method == "GET":
                return copy.deepcopy(self.profile)
            self.profile = copy.deepcopy(body)
            return None
        if match := re.fullmatch(r"/clients/([^/]+)/protocol-mappers/models", route):
            if method == "GET":
                return copy.deepcopy(self.clients[match[1]]["protocolMappers"])
            self.clients[match[1]]["protocolMappers"].append(copy.deepcopy(body))
            return None
        raise AssertionError(f"unexpected call {method} {path}")


# Keycloak's own answer for a realm imported from a file without the events settings.
OLDER_EVENTS = {
    "eventsEnabled": True,
    "eventsListeners": ["jboss-logging"],
    "enabledEventTypes": [],
    "adminEventsEnabled": True,
    "adminEventsDetailsEnabled": False,
}


# Keycloak 26.7's answer for a realm that stores no events (imported from a file without
# the events settings): every event type is listed, which is how it shows an empty choice.
STORES_NONE = {
    "eventsEnabled": False,
    "eventsListeners": ["jboss-logging"],
    "enabledEventTypes": [
        "LOGIN", "LOGIN_ERROR", "REGISTER", "REGISTER_ERROR", "LOGOUT", "LOGOUT_ERROR",
        "CODE_TO_TOKEN", "CODE_TO_TOKEN_ERROR", "CLIENT_LOGIN", "CLIENT_LOGIN_ERROR",
    ],
    "adminEventsEnabled": False,
    "adminEventsDetailsEnabled": False,
}  # fmt: skip


def _imported(node: ModuleType, realm: dict[str, Any]) -> FakeKeycloak:
    """What a first start imports from ``realm``."""
    keycloak = FakeKeycloak()
    management = keycloak.add_client({"clientId": "realm-management"})
    keycloak.client_roles[management] = set(MANAGEMENT_ROLES)
    for client in realm["clients"]:
        keycloak.add_client(client)
    for user in realm["users"]:
        account = keycloak.account_of(user["serviceAccountClientId"])
        keycloak.mappings[account]["realm"] |= set(user.get("realmRoles", []))
        for name in user.get("clientRoles", {}).get("realm-management", []):
            keycloak.mappings[account].setdefault(management, set()).add(name)
    keycloak.events = {
        **OLDER_EVENTS,
        "enabledEventTypes": list(realm["enabledEventTypes"]),
        "eventsExpiration": realm["eventsExpiration"],
    }
    keycloak.profile["attributes"] = node.profile_attributes(realm)
    return keycloak


def _older(node: ModuleType, realm: dict[str, Any]) -> FakeKeycloak:
    """A site installed before the accounts client, the stored events and the clearance:
    no ``appliance-accounts``, the events Keycloak turns on by default, the profile and
    the clients without ``clearance``."""
    before = copy.deepcopy(realm)
    before["clients"] = [c for c in before["clients"] if c["clientId"] != "appliance-accounts"]
    before["users"] = [
        u for u in before["users"] if u["serviceAccountClientId"] != "appliance-accounts"
    ]
    for client in before["clients"]:
        client["protocolMappers"] = [
            m for m in client.get("protocolMappers", []) if m["name"] != "clearance"
        ]
    keycloak = _imported(node, before)
    keycloak.events = dict(STORES_NONE)
    keycloak.profile["attributes"] = [
        a for a in keycloak.profile["attributes"] if a["name"] != "clearance"
    ]
    return keycloak


def test_a_fresh_import_needs_nothing(node: ModuleType, realm: dict[str, Any]) -> None:
    keycloak = _imported(node, realm)
    assert node.reconcile(keycloak, realm, apply=True) == []
    assert keycloak.writes == []


def test_an_older_realm_is_brought_up_to_the_file_once(
    node: ModuleType, realm: dict[str, Any]
) -> None:
    keycloak = _older(node, realm)
    changes = node.reconcile(keycloak, realm, apply=True)
    assert changes == [
        "client appliance-accounts",
        "service-account-appliance-accounts: realm-management manage-users, view-users, "
        "query-groups, view-clients, manage-clients, view-realm, view-events",
        f"events LOGIN,LOGIN_ERROR for {realm['eventsExpiration']} s",
        "user profile attribute clearance",
        "appliance-webui mapper clearance",
        "appliance-cli mapper clearance",
    ]
    accounts = keycloak.clients[keycloak.uuid_of("appliance-accounts")]
    assert accounts["secret"] == "accounts-secret"
    management = keycloak.uuid_of("realm-management")
    granted = keycloak.mappings[keycloak.account_of("appliance-accounts")][management]
    assert "view-events" in granted and "manage-events" not in granted
    assert keycloak.events["eventsEnabled"] is True
    # Only the file's types: the other types Keycloak listed were never stored.
    assert keycloak.events["enabledEventTypes"] == ["LOGIN", "LOGIN_ERROR"]
    assert keycloak.events["eventsListeners"] == ["jboss-logging"]
    assert "clearance" in {a["name"] for a in keycloak.profile["attributes"]}
    webui = keycloak.clients[keycloak.uuid_of("appliance-webui")]
    assert "clearance" in {m["name"] for m in webui["protocolMappers"]}

    writes = len(keycloak.writes)
    assert node.reconcile(keycloak, realm, apply=True) == []
    assert len(keycloak.writes) == writes


def test_only_view_events_missing_is_the_one_change(
    node: ModuleType, realm: dict[str, Any]
) -> None:
    keycloak = _imported(node, realm)
    management = keycloak.uuid_of("realm-management")
    keycloak.mappings[keycloak.account_of("appliance-accounts")][management].discard("view-events")
    assert node.reconcile(keycloak, realm, apply=True) == [
        "service-account-appliance-accounts: realm-management view-events"
    ]
    assert keycloak.writes == [
        (
            "POST",
            f"/users/{keycloak.account_of('appliance-accounts')}/role-mappings/clients/{management}",
        )
    ]
    assert node.reconcile(keycloak, realm, apply=True) == []


def test_check_mode_reports_and_writes_nothing(node: ModuleType, realm: dict[str, Any]) -> None:
    keycloak = _older(node, realm)
    reported = node.reconcile(keycloak, realm, apply=False)
    assert "client appliance-accounts" in reported
    assert keycloak.writes == []


def test_a_sites_own_events_and_longer_expiry_are_kept(
    node: ModuleType, realm: dict[str, Any]
) -> None:
    keycloak = _imported(node, realm)
    keycloak.events = {
        **OLDER_EVENTS,
        "enabledEventTypes": ["LOGOUT", "LOGIN"],
        "eventsExpiration": 400 * DAY_S,
    }
    assert node.reconcile(keycloak, realm, apply=True) == [
        f"events LOGOUT,LOGIN,LOGIN_ERROR for {400 * DAY_S} s"
    ]
    assert keycloak.events["eventsEnabled"] is True
    assert keycloak.events["eventsExpiration"] == 400 * DAY_S
    keycloak.events["eventsExpiration"] = 30 * DAY_S
    node.reconcile(keycloak, realm, apply=True)
    assert keycloak.events["eventsExpiration"] == realm["eventsExpiration"]


@pytest.mark.parametrize(
    "live",
    [
        OLDER_EVENTS,
        {**OLDER_EVENTS, "enabledEventTypes": ["LOGIN"], "eventsExpiration": 0},
        {**OLDER_EVENTS, "enabledEventTypes": ["LOGIN_ERROR", "LOGIN"], "eventsExpiration": 10**9},
        STORES_NONE,
    ],
)
def test_the_node_and_the_local_runtime_agree_on_the_events(
    node: ModuleType, realm: dict[str, Any], live: dict[str, Any]
) -> None:
    """``appliance up`` (appliance/runtime/keycloak_service.py) and a deploy make the same
    configuration out of the same live one, for a realm that stores no events too."""
    ours, theirs = node.events_config(live, realm), runtime_events_config(live, realm)
    assert (ours is None) == (theirs is None)
    if ours is not None and theirs is not None:
        assert ours == {**live, **theirs}
