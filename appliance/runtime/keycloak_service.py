"""Keycloak for the local runtime: ``kc.sh start-dev`` on 127.0.0.1:8180, realm imported from
``realm/appliance-realm.json`` (the same file deployments import).

Dev mode keeps its own H2 store under ``var/keycloak``, which is fine for a single-machine
demo. What exists only locally (the ``appliance-dev`` direct-grant client and the demo users)
is added through the admin API after start, so the realm file never carries it. The data
grade clearance (user attribute, token mapper, the demo users' values) is brought up to date
by ``keycloak_clearance``.

Keycloak imports the realm file only when the realm does not exist yet, so a client added
to the file later (``appliance-cli``, ``appliance-accounts``, ``svc-assessment``) would never
reach an existing install: every ``appliance up`` creates the realm file's clients that are
missing, and gives their service accounts the roles the file's ``users`` entries name (the
accounts client its realm-management roles, ``view-events`` among them, the assessment
client ``staff``), and turns on the user events the file enables (LOGIN, LOGIN_ERROR, which
the compliance export reads for each account's last sign-in) with at least its expiry.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from keycloak import KeycloakAdmin

from appliance.runtime import keycloak_clearance, process
from appliance.runtime.demo_users import DEMO_USERS, DemoUser
from appliance.runtime.endpoints import (
    ACCOUNTS_CLIENT_ID,
    DEV_CLIENT_ID,
    ISSUER,
    KEYCLOAK_URL,
    REALM,
    WEBUI_CLIENT_ID,
)
from appliance.runtime.paths import RuntimePaths
from appliance.runtime.secrets import (
    json_secrets,
    new_password,
    password,
    save_json_secrets,
    write_private,
)

SERVICE = "keycloak"
ADMIN_USER = "admin"
START_TIMEOUT_S = 240.0
REALM_FILE = "appliance-realm.json"
DEV_CLIENT_FILE = "local-dev-client.json"
# The name of the file under var/secrets/, read by gateway_service.render_settings.
ACCOUNTS_SECRET_FILE = "keycloak_accounts_client_secret"  # noqa: S105
# The assessment's service account (``appliance assess`` reads it on the local runtime).
ASSESSMENT_CLIENT_ID = "svc-assessment"
ASSESSMENT_SECRET_FILE = "keycloak_assessment_client_secret"  # noqa: S105


def _realm_resource(name: str) -> str:
    return (resources.files("appliance.runtime") / "realm" / name).read_text(encoding="utf-8")


def is_ready() -> bool:
    """The realm's discovery document answers: Keycloak is up and the realm imported."""
    return process.answers(f"{ISSUER}/.well-known/openid-configuration")


def start(paths: RuntimePaths) -> bool:
    """Start Keycloak unless it already answers; returns whether it was started now."""
    if is_ready():
        return False
    home = paths.keycloak_home
    kc_sh = home / "bin" / "kc.sh"
    if not kc_sh.exists():
        raise process.ServiceError(f"Keycloak is not installed at {home}: run `make bootstrap`")
    import_dir = home / "data" / "import"
    import_dir.mkdir(parents=True, exist_ok=True)
    (import_dir / REALM_FILE).write_text(_realm_resource(REALM_FILE), encoding="utf-8")
    env = {
        "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USER,
        "KC_BOOTSTRAP_ADMIN_PASSWORD": password(paths.secret("keycloak_admin_password")),
        # Keep the JVM modest: vLLM shares this machine.
        "JAVA_OPTS_KC_HEAP": "-Xms64m -Xmx768m",
    }
    argv = [
        str(kc_sh),
        "start-dev",
        "--import-realm",
        "--http-host=127.0.0.1",
        "--http-port=8180",
        "--http-management-host=127.0.0.1",
        "--http-management-port=9000",
        "--health-enabled=true",
        "--hostname-strict=false",
    ]
    process.launch(
        paths,
        SERVICE,
        argv,
        what="Keycloak",
        ready=is_ready,
        timeout_s=START_TIMEOUT_S,
        env=env,
    )
    return True


def stop(paths: RuntimePaths) -> bool:
    return process.stop_pid_file(paths.pid(SERVICE), timeout_s=30.0)


def _admin(paths: RuntimePaths) -> KeycloakAdmin:
    return KeycloakAdmin(
        server_url=KEYCLOAK_URL,
        username=ADMIN_USER,
        password=password(paths.secret("keycloak_admin_password")),
        realm_name=REALM,
        user_realm_name="master",
        timeout=10,
    )


def configure_local(paths: RuntimePaths) -> None:
    """Add the dev client and the demo users if missing; save the web UI's client secret."""
    admin = _admin(paths)
    if admin.get_client_id(DEV_CLIENT_ID) is None:
        admin.create_client(json.loads(_realm_resource(DEV_CLIENT_FILE)), skip_exists=True)
    webui_uuid = admin.get_client_id(WEBUI_CLIENT_ID)
    if webui_uuid is None:
        raise process.ServiceError(f"realm {REALM} has no client {WEBUI_CLIENT_ID}")
    secret: dict[str, Any] = admin.get_client_secrets(webui_uuid)
    write_private(paths.secret("keycloak_webui_client_secret"), str(secret["value"]) + "\n")
    ensure_realm_clients(paths, admin)
    ensure_events(admin)
    _ensure_clearance(admin)
    _ensure_users(paths, admin)
    keycloak_clearance.ensure_demo_clearances(admin)


def _ensure_clearance(admin: KeycloakAdmin) -> None:
    """The clearance attribute and its token mapper on an older import (``keycloak_clearance``)."""
    realm: dict[str, Any] = json.loads(_realm_resource(REALM_FILE))
    keycloak_clearance.ensure_profile(admin, realm)
    dev_client = json.loads(_realm_resource(DEV_CLIENT_FILE))
    keycloak_clearance.ensure_mappers(admin, [*realm.get("clients", []), dev_client])


def events_config(live: dict[str, Any], realm: dict[str, Any]) -> dict[str, Any] | None:
    """The events configuration ``live`` needs to store the realm file's event types for at
    least the file's ``eventsExpiration``, None when it already does. Types a realm that
    stores events added are kept and a longer expiry is never shortened; none set (0, which
    Keycloak reads as for ever) becomes the file's, so the local store does not grow without
    end. A realm that stores no events gets the file's types alone: Keycloak lists every
    event type for it, and keeping that list would store them all."""
    wanted = list(realm.get("enabledEventTypes", []))
    have = list(live.get("enabledEventTypes") or []) if live.get("eventsEnabled") else []
    types = have + [name for name in wanted if name not in have]
    keep = int(realm.get("eventsExpiration") or 0)
    live_keep = int(live.get("eventsExpiration") or 0)
    expiration = max(live_keep, keep)
    if live.get("eventsEnabled") and types == have and expiration == live_keep:
        return None
    fields = ("eventsListeners", "adminEventsEnabled", "adminEventsDetailsEnabled")
    return {
        **{name: live[name] for name in fields if name in live},
        "eventsEnabled": True,
        "enabledEventTypes": types,
        "eventsExpiration": expiration,
    }


def ensure_events(admin: KeycloakAdmin) -> None:
    """Turn on the realm file's user events (LOGIN, LOGIN_ERROR) and their expiry in a realm
    imported before the file had them; a realm that has them is left alone."""
    realm: dict[str, Any] = json.loads(_realm_resource(REALM_FILE))
    wanted = events_config(admin.get_realm(REALM), realm)
    if wanted is not None:
        admin.set_events(wanted)


def ensure_realm_clients(paths: RuntimePaths, admin: KeycloakAdmin) -> None:
    """Create the realm file's clients that an older import lacks; give the service
    accounts their roles (as the file's ``users`` entries do on a fresh import); save the
    accounts client's secret for the gateway's settings and the assessment client's for
    ``appliance assess``."""
    realm: dict[str, Any] = json.loads(_realm_resource(REALM_FILE))
    for client in realm.get("clients", []):
        if admin.get_client_id(client["clientId"]) is None:
            admin.create_client(client, skip_exists=True)
    accounts_uuid = admin.get_client_id(ACCOUNTS_CLIENT_ID)
    if accounts_uuid is None:
        raise process.ServiceError(f"realm {REALM} has no client {ACCOUNTS_CLIENT_ID}")
    management = admin.get_client_id("realm-management")
    if management is None:
        raise process.ServiceError(f"realm {REALM} has no realm-management client")
    account = admin.get_client_service_account_user(accounts_uuid)
    for user in realm.get("users", []):
        if user.get("serviceAccountClientId") != ACCOUNTS_CLIENT_ID:
            continue
        wanted = user["clientRoles"]["realm-management"]
        roles = [admin.get_client_role(management, name) for name in wanted]
        admin.assign_client_role(account["id"], management, roles)
    secret: dict[str, Any] = admin.get_client_secrets(accounts_uuid)
    write_private(paths.secret(ACCOUNTS_SECRET_FILE), str(secret["value"]) + "\n")
    _ensure_assessment_client(paths, admin, realm)


def _ensure_assessment_client(
    paths: RuntimePaths, admin: KeycloakAdmin, realm: dict[str, Any]
) -> None:
    uuid = admin.get_client_id(ASSESSMENT_CLIENT_ID)
    if uuid is None:
        raise process.ServiceError(f"realm {REALM} has no client {ASSESSMENT_CLIENT_ID}")
    account = admin.get_client_service_account_user(uuid)
    for user in realm.get("users", []):
        if user.get("serviceAccountClientId") == ASSESSMENT_CLIENT_ID:
            roles = [admin.get_realm_role(name) for name in user["realmRoles"]]
            admin.assign_realm_roles(account["id"], roles)
    secret: dict[str, Any] = admin.get_client_secrets(uuid)
    write_private(paths.secret(ASSESSMENT_SECRET_FILE), str(secret["value"]) + "\n")


def _ensure_users(paths: RuntimePaths, admin: KeycloakAdmin) -> None:
    secrets_file = paths.secret("demo_users.json")
    passwords = json_secrets(secrets_file)
    for user in DEMO_USERS:
        user_id = admin.get_user_id(user.username)
        if user_id is not None and user.username in passwords:
            continue
        passwords[user.username] = passwords.get(user.username) or new_password()
        if user_id is None:
            user_id = _create_user(admin, user)
        admin.set_user_password(user_id, passwords[user.username], temporary=False)
        save_json_secrets(secrets_file, passwords)


def renew_demo_user(paths: RuntimePaths, username: str) -> str:
    """Delete a demo user and create it again with the same password, roles and groups;
    returns its new id. The new account is a new token subject, so nothing the old one used
    today counts against its daily token quota (which is summed per subject from audit
    rows, and those are never deleted): the tests start from unspent quotas this way."""
    user = next(demo for demo in DEMO_USERS if demo.username == username)
    admin = _admin(paths)
    old_id = admin.get_user_id(username)
    if old_id is not None:
        admin.delete_user(old_id)
    user_id = _create_user(admin, user)
    passwords = json_secrets(paths.secret("demo_users.json"))
    admin.set_user_password(user_id, passwords[username], temporary=False)
    return user_id


def demo_user_id(paths: RuntimePaths, username: str) -> str | None:
    """The Keycloak id (the tokens' ``sub``) of a demo user, None when it does not exist."""
    user_id: str | None = _admin(paths).get_user_id(username)
    return user_id


def _create_user(admin: KeycloakAdmin, user: DemoUser) -> str:
    user_id: str = admin.create_user(
        {
            "username": user.username,
            "email": user.email,
            "emailVerified": True,
            "firstName": user.first_name,
            "lastName": user.last_name,
            "enabled": True,
            "attributes": {keycloak_clearance.ATTRIBUTE: [user.clearance]}
            if user.clearance
            else {},
        },
        exist_ok=False,
    )
    if user.roles:
        admin.assign_realm_roles(user_id, [admin.get_realm_role(role) for role in user.roles])
    for path in user.groups:
        admin.group_user_add(user_id, admin.get_group_by_path(path)["id"])
    return user_id
