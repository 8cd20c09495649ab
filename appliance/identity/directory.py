"""Keycloak's admin API, as account management needs it (python-keycloak, synchronous).

The gateway connects with its own confidential client ``appliance-accounts`` (service
account with the realm-management roles ``manage-users``, ``view-users``, ``query-groups``,
``view-clients``, ``manage-clients``, ``view-realm`` to look roles up, and ``view-events`` to
read the realm's login events), never with the master realm's admin. The calls block, so
the gateway runs them in a worker thread.
Keycloak's errors become domain errors here: 404 ``NotFound``, 409 ``Conflict``, anything
else ``UpstreamError``.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError

from appliance.auth.principal import Role
from appliance.errors import Conflict, NotFound, ServiceUnavailable, UpstreamError
from appliance.identity.names import join_name, split_name
from appliance.identity.policy import KNOWN_ROLES
from appliance.identity.schemas import ClientOut, GroupOut, NewClient, NewUser, UserOut
from appliance.identity.sign_ins import LastSignIn, last_sign_ins
from appliance.settings import KeycloakSettings

DEPARTMENTS = "/dept"
GATEWAY_AUDIENCE_MAPPER = "audience-appliance-gateway"


def one_time_password() -> str:
    """24 URL-safe characters: meets the realm's policy (12+, not the username)."""
    return secrets.token_urlsafe(18)


@contextmanager
def keycloak_errors(what: str) -> Iterator[None]:
    """Keycloak's HTTP errors as the domain errors the gateway renders."""
    try:
        yield
    except KeycloakError as exc:
        status = exc.response_code
        if status == 404:
            raise NotFound(f"{what}: not found.") from exc
        if status == 409:
            raise Conflict(f"{what}: already exists.") from exc
        raise UpstreamError(f"{what}: Keycloak answered {status}.") from exc
    except OSError as exc:
        raise UpstreamError(f"{what}: Keycloak cannot be reached.") from exc


def _server_and_realm(settings: KeycloakSettings) -> tuple[str, str]:
    base, _, realm = settings.issuer.rstrip("/").rpartition("/realms/")
    return (settings.admin_url.rstrip("/") or base), realm


def _gateway_mappers(audience: str) -> list[dict[str, Any]]:
    """The mappers every client of the gateway carries: its audience and the groups."""
    claim = {"access.token.claim": "true", "id.token.claim": "false"}
    return [
        {
            "name": GATEWAY_AUDIENCE_MAPPER,
            "protocol": "openid-connect",
            "protocolMapper": "oidc-audience-mapper",
            "config": {"included.client.audience": audience, **claim},
        },
        {
            "name": "groups",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-group-membership-mapper",
            "config": {"claim.name": "groups", "full.path": "true", **claim},
        },
    ]


class Directory:
    """Users, department groups, roles and integration clients of the appliance realm."""

    def __init__(self, admin: KeycloakAdmin, settings: KeycloakSettings) -> None:
        self._admin = admin
        self._settings = settings

    @classmethod
    def connect(cls, settings: KeycloakSettings) -> Directory:
        """A directory signed in as the accounts client (client-credentials grant)."""
        secret = settings.accounts_client_secret.get_secret_value()
        if not secret:
            raise ServiceUnavailable(
                "Account management is not configured: the gateway has no secret for"
                f" Keycloak's {settings.accounts_client_id} client.",
                code="accounts_unconfigured",
            )
        server, realm = _server_and_realm(settings)
        admin = KeycloakAdmin(
            server_url=server + "/",
            realm_name=realm,
            user_realm_name=realm,
            client_id=settings.accounts_client_id,
            client_secret_key=secret,
            timeout=int(max(settings.http_timeout_s, 10)),
        )
        return cls(admin, settings)

    @property
    def token_url(self) -> str:
        return f"{self._settings.issuer.rstrip('/')}/protocol/openid-connect/token"

    # Users ----------------------------------------------------------------------------

    def user_id(self, username: str) -> str:
        with keycloak_errors(f"user {username}"):
            user_id = self._admin.get_user_id(username)
        if user_id is None:
            raise NotFound(f"There is no user {username!r}.", code="user_not_found")
        return str(user_id)

    def _roles_of(self, user_id: str) -> list[str]:
        roles = self._admin.get_realm_roles_of_user(user_id)
        return sorted(r["name"] for r in roles if r.get("name") in KNOWN_ROLES)

    def _groups_of(self, user_id: str) -> list[str]:
        return sorted(str(g.get("path", "")) for g in self._admin.get_user_groups(user_id))

    def _user_out(
        self, user: dict[str, Any], roles: list[str] | None = None, groups: list[str] | None = None
    ) -> UserOut:
        created = user.get("createdTimestamp")
        user_id = str(user["id"])
        return UserOut(
            id=user_id,
            username=str(user["username"]),
            name=join_name(str(user.get("firstName") or ""), str(user.get("lastName") or "")),
            email=str(user.get("email") or ""),
            enabled=bool(user.get("enabled")),
            roles=sorted(roles) if roles is not None else self._roles_of(user_id),
            departments=sorted(groups) if groups is not None else self._groups_of(user_id),
            created=datetime.fromtimestamp(created / 1000, UTC) if created else None,
        )

    def list_users(self) -> list[UserOut]:
        """People only (the service accounts of clients are left out).

        Roles and departments come from one call per role and per department rather than
        two per user, so a list of thousands stays a few dozen requests.
        """
        with keycloak_errors("users"):
            users = self._admin.get_users({"briefRepresentation": "true"})
            roles: dict[str, list[str]] = defaultdict(list)
            for role in sorted(KNOWN_ROLES):
                for member in self._admin.get_realm_role_members(
                    role, {"briefRepresentation": "true"}
                ):
                    roles[str(member["id"])].append(role)
            departments: dict[str, list[str]] = defaultdict(list)
            for path, members in self._departments():
                for member_id in members:
                    departments[member_id].append(path)
        return [
            self._user_out(user, roles[str(user["id"])], departments[str(user["id"])])
            for user in sorted(users, key=lambda u: str(u["username"]))
            if not str(user["username"]).startswith("service-account-")
        ]

    def last_sign_ins(self, user_ids: Sequence[str]) -> dict[str, LastSignIn]:
        """Each user's last sign-in from the realm's LOGIN events (``view-events``), else the
        newest open session (``sign_ins``); a user with neither is absent."""
        with keycloak_errors("sign-ins"):
            return last_sign_ins(self._admin, user_ids)

    def get_user(self, username: str) -> UserOut:
        user_id = self.user_id(username)
        with keycloak_errors(f"user {username}"):
            return self._user_out(self._admin.get_user(user_id))

    def add_user(self, new: NewUser) -> tuple[str, str]:
        """Create the account with a temporary password; returns its id and the password.

        The department must exist already (``groups add`` first), so a typo in a CSV file
        fails that row rather than creating a new department.
        """
        group_id = self.group_id(new.department) if new.department else None
        roles = [self._role(role) for role in sorted(set(new.roles))]
        first, last = split_name(new.name)
        payload: dict[str, Any] = {"username": new.username, "enabled": True}
        payload |= {"firstName": first, "lastName": last} if first else {}
        payload |= {"email": new.email, "emailVerified": True} if new.email else {}
        with keycloak_errors(f"user {new.username}"):
            user_id = str(self._admin.create_user(payload, exist_ok=False))
            try:
                password = one_time_password()
                self._admin.set_user_password(user_id, password, temporary=True)
                if roles:
                    self._admin.assign_realm_roles(user_id, roles)
                if group_id:
                    self._admin.group_user_add(user_id, group_id)
            except KeycloakError:
                # Half an account is worse than none: the row is reported failed, so undo.
                self._admin.delete_user(user_id)
                raise
        return user_id, password

    def set_enabled(self, user_id: str, enabled: bool) -> None:
        # The whole representation back: a partial one may clear profile attributes.
        with keycloak_errors("user"):
            user = self._admin.get_user(user_id)
            user["enabled"] = enabled
            self._admin.update_user(user_id, user)

    def reset_password(self, user_id: str) -> str:
        password = one_time_password()
        with keycloak_errors("user"):
            self._admin.set_user_password(user_id, password, temporary=True)
        return password

    def _role(self, name: str) -> dict[str, Any]:
        with keycloak_errors(f"role {name}"):
            return dict(self._admin.get_realm_role(name))

    def change_roles(self, user_id: str, grant: list[str], revoke: list[str]) -> list[str]:
        """Apply the change; returns the user's roles afterwards."""
        with keycloak_errors("roles"):
            if grant:
                self._admin.assign_realm_roles(user_id, [self._role(r) for r in grant])
            if revoke:
                self._admin.delete_realm_roles_of_user(user_id, [self._role(r) for r in revoke])
            return self._roles_of(user_id)

    # Department groups ----------------------------------------------------------------

    def group_id(self, path: str) -> str:
        with keycloak_errors(f"group {path}"):
            group = self._admin.get_group_by_path(path)
        if not isinstance(group, dict) or "id" not in group:
            raise NotFound(
                f"There is no department {path!r}; add it with `appliance groups add`.",
                code="group_not_found",
            )
        return str(group["id"])

    def _walk(self, group_id: str, path: str, found: list[tuple[str, list[str]]]) -> None:
        members = self._admin.get_group_members(group_id, {"briefRepresentation": "true"})
        found.append((path, [str(member["id"]) for member in members]))
        for child in self._admin.get_group_children(group_id, {"briefRepresentation": "true"}):
            self._walk(str(child["id"]), f"{path}/{child['name']}", found)

    def _departments(self) -> list[tuple[str, list[str]]]:
        """Every department under ``/dept`` with the ids of its direct members."""
        found: list[tuple[str, list[str]]] = []
        root = self.group_id(DEPARTMENTS)
        with keycloak_errors("groups"):
            for child in self._admin.get_group_children(root, {"briefRepresentation": "true"}):
                self._walk(str(child["id"]), f"{DEPARTMENTS}/{child['name']}", found)
        return sorted(found)

    def list_groups(self) -> list[GroupOut]:
        return [GroupOut(path=path, members=len(ids)) for path, ids in self._departments()]

    def add_group(self, path: str) -> str:
        parent, _, name = path.rpartition("/")
        parent_id = self.group_id(parent)
        with keycloak_errors(f"group {path}"):
            created = self._admin.create_group({"name": name}, parent=parent_id)
        if not created:
            raise Conflict(f"The department {path!r} already exists.")
        return str(created)

    def add_member(self, user_id: str, path: str) -> None:
        group_id = self.group_id(path)
        with keycloak_errors(f"group {path}"):
            self._admin.group_user_add(user_id, group_id)

    # Integration clients --------------------------------------------------------------

    def client_id_for(self, name: str) -> str:
        prefix = self._settings.service_client_prefix
        return name if name.startswith(prefix) else prefix + name

    def _client_uuid(self, client_id: str) -> str:
        prefix = self._settings.service_client_prefix
        with keycloak_errors(f"client {client_id}"):
            found = self._admin.get_client_id(client_id) if client_id.startswith(prefix) else None
        if found is None:
            raise NotFound(f"There is no API client {client_id!r}.", code="client_not_found")
        return str(found)

    def add_client(self, new: NewClient) -> tuple[str, str]:
        """A confidential client with service accounts only; returns its id and secret."""
        client_id = self.client_id_for(new.name)
        group_id = self.group_id(new.department) if new.department else None
        staff = self._role(Role.STAFF.value)
        payload = {
            "clientId": client_id,
            "name": new.description or new.name,
            "enabled": True,
            "publicClient": False,
            "clientAuthenticatorType": "client-secret",
            "standardFlowEnabled": False,
            "implicitFlowEnabled": False,
            "directAccessGrantsEnabled": False,
            "serviceAccountsEnabled": True,
            "attributes": {
                "oauth2.device.authorization.grant.enabled": "false",
                "oidc.ciba.grant.enabled": "false",
            },
            "protocolMappers": _gateway_mappers(self._settings.audience),
        }
        with keycloak_errors(f"client {client_id}"):
            uuid = str(self._admin.create_client(payload, skip_exists=False))
            try:
                account = self._admin.get_client_service_account_user(uuid)
                self._admin.assign_realm_roles(str(account["id"]), [staff])
                if group_id:
                    self._admin.group_user_add(str(account["id"]), group_id)
                secret = str(self._admin.get_client_secrets(uuid)["value"])
            except KeycloakError:
                self._admin.delete_client(uuid)
                raise
        return client_id, secret

    def list_clients(self) -> list[ClientOut]:
        prefix = self._settings.service_client_prefix
        found: list[ClientOut] = []
        with keycloak_errors("clients"):
            for client in self._admin.get_clients():
                client_id = str(client.get("clientId", ""))
                if not prefix or not client_id.startswith(prefix):
                    continue
                account = self._admin.get_client_service_account_user(str(client["id"]))
                found.append(
                    ClientOut(
                        client_id=client_id,
                        name=str(client.get("name") or ""),
                        enabled=bool(client.get("enabled")),
                        departments=self._groups_of(str(account["id"])),
                    )
                )
        return sorted(found, key=lambda c: c.client_id)

    def set_client_enabled(self, client_id: str, enabled: bool) -> None:
        uuid = self._client_uuid(client_id)
        with keycloak_errors(f"client {client_id}"):
            client = self._admin.get_client(uuid)
            client["enabled"] = enabled
            self._admin.update_client(uuid, client)
