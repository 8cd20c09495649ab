"""Ansible module: bring the live realm up to the realm file the keycloak role rendered.

Keycloak imports the realm file only on its first start, so a site installed before the
file gained something never gets it from the import: the clients added later
(``appliance-cli``, ``appliance-accounts``, ``svc-assessment``), their service accounts'
roles (the accounts client's realm-management roles, ``view-events`` among them, which the
compliance export needs to read sign-ins), the stored user events (``LOGIN``,
``LOGIN_ERROR``) and their expiry, the ``clearance`` user-profile attribute and the
protocol mappers that put it into the tokens. This module adds what the live realm lacks,
through Keycloak's admin REST API on loopback, as the master realm's administrator.

It only adds: a client, role, attribute or mapper that exists is left as the site has it,
event types the site chose while it stored events stay, and a longer event expiry is never
shortened. Existence is judged by name, so a realm that has everything reports no change
(a second deploy changes nothing). Nodes need nothing beyond Python's standard library.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]

DOCUMENTATION = r"""
module: appliance_keycloak_realm
short_description: Add to the live Keycloak realm what its realm file has and it lacks
options:
  url:
    description: Keycloak's base URL on loopback, with its path prefix (http://127.0.0.1:8180/auth).
    type: str
    required: true
  realm:
    description: The realm's name.
    type: str
    required: true
  realm_file:
    description: The rendered realm file on the node (the one Keycloak imports).
    type: path
    required: true
  admin_user:
    description: An administrator of the master realm.
    type: str
    required: true
  admin_password:
    description: Its password.
    type: str
    required: true
"""

# method, path under /admin/realms/<realm>, JSON body or None -> the decoded answer or None.
Call = Callable[[str, str, Any], Any]

_PROFILE_COMPONENT = "org.keycloak.userprofile.UserProfileProvider"
_TIMEOUT_S = 30


def client_uuid(call: Call, client_id: str) -> str | None:
    """The internal id of the client named ``client_id``, None when the realm has none."""
    query = urllib.parse.urlencode({"clientId": client_id})
    found = call("GET", f"/clients?{query}", None) or []
    return next((str(c["id"]) for c in found if c.get("clientId") == client_id), None)


def ensure_clients(call: Call, realm: dict[str, Any], apply: bool) -> list[str]:
    """Create the file's clients the realm lacks, as the file defines them (secrets too)."""
    changes = []
    for client in realm.get("clients", []):
        if client_uuid(call, client["clientId"]) is None:
            changes.append(f"client {client['clientId']}")
            if apply:
                call("POST", "/clients", client)
    return changes


def _missing_roles(have: list[dict[str, Any]], wanted: list[str]) -> list[str]:
    names = {role["name"] for role in have}
    return [name for name in wanted if name not in names]


def ensure_service_roles(call: Call, realm: dict[str, Any], apply: bool) -> list[str]:
    """Give each service account the realm and client roles the file's ``users`` entry
    names (what a fresh import grants), where it lacks them."""
    changes = []
    for user in realm.get("users", []):
        owner = user.get("serviceAccountClientId")
        uuid = client_uuid(call, owner) if owner else None
        if uuid is None:
            continue
        account = call("GET", f"/clients/{uuid}/service-account-user", None)
        mappings = f"/users/{account['id']}/role-mappings"
        missing = _missing_roles(
            call("GET", f"{mappings}/realm", None) or [], user.get("realmRoles", [])
        )
        if missing:
            changes.append(f"{user['username']}: {', '.join(missing)}")
            if apply:
                roles = [call("GET", f"/roles/{urllib.parse.quote(n)}", None) for n in missing]
                call("POST", f"{mappings}/realm", roles)
        for role_client, wanted in user.get("clientRoles", {}).items():
            target = client_uuid(call, role_client)
            if target is None:
                continue
            path = f"{mappings}/clients/{target}"
            missing = _missing_roles(call("GET", path, None) or [], wanted)
            if missing:
                changes.append(f"{user['username']}: {role_client} {', '.join(missing)}")
                if apply:
                    roles = [
                        call("GET", f"/clients/{target}/roles/{urllib.parse.quote(n)}", None)
                        for n in missing
                    ]
                    call("POST", path, roles)
    return changes


def events_config(live: dict[str, Any], realm: dict[str, Any]) -> dict[str, Any] | None:
    """The events configuration ``live`` needs to store the file's event types for at least
    the file's ``eventsExpiration``, None when it already does. Where the realm stores
    events, the types the site chose are kept and the file's added; where it stores none,
    the file's types are taken as they are (Keycloak lists every type for an empty choice,
    which would otherwise all be stored). A longer expiry is never shortened; none set (0,
    for ever) becomes the file's."""
    wanted = list(realm.get("enabledEventTypes", []))
    if not realm.get("eventsEnabled") and not wanted:
        return None
    enabled = bool(live.get("eventsEnabled"))
    have = list(live.get("enabledEventTypes") or [])
    kept = have if enabled else []
    types = kept + [name for name in wanted if name not in kept]
    live_keep = int(live.get("eventsExpiration") or 0)
    expiration = max(live_keep, int(realm.get("eventsExpiration") or 0))
    if enabled and types == have and expiration == live_keep:
        return None
    return {
        **live,
        "eventsEnabled": True,
        "enabledEventTypes": types,
        "eventsExpiration": expiration,
    }


def ensure_events(call: Call, realm: dict[str, Any], apply: bool) -> list[str]:
    """Store the file's user events (LOGIN, LOGIN_ERROR) for at least its expiry."""
    wanted = events_config(call("GET", "/events/config", None) or {}, realm)
    if wanted is None:
        return []
    if apply:
        call("PUT", "/events/config", wanted)
    return [f"events {','.join(wanted['enabledEventTypes'])} for {wanted['eventsExpiration']} s"]


def profile_attributes(realm: dict[str, Any]) -> list[dict[str, Any]]:
    """The user-profile attributes the file declares."""
    attributes: list[dict[str, Any]] = []
    for component in realm.get("components", {}).get(_PROFILE_COMPONENT, []):
        for config in component.get("config", {}).get("kc.user.profile.config", []):
            attributes += json.loads(config).get("attributes", [])
    return attributes


def ensure_profile(call: Call, realm: dict[str, Any], apply: bool) -> list[str]:
    """Add the file's user-profile attributes (``clearance``) the live profile lacks."""
    declared = profile_attributes(realm)
    if not declared:
        return []
    profile = call("GET", "/users/profile", None) or {}
    have = {attribute["name"] for attribute in profile.get("attributes", [])}
    missing = [attribute for attribute in declared if attribute["name"] not in have]
    if not missing:
        return []
    if apply:
        call(
            "PUT",
            "/users/profile",
            {**profile, "attributes": [*profile.get("attributes", []), *missing]},
        )
    return [f"user profile attribute {attribute['name']}" for attribute in missing]


def ensure_mappers(call: Call, realm: dict[str, Any], apply: bool) -> list[str]:
    """Give each existing client the file's protocol mappers it lacks (``clearance``)."""
    changes = []
    for client in realm.get("clients", []):
        mappers = client.get("protocolMappers", [])
        uuid = client_uuid(call, client["clientId"]) if mappers else None
        if uuid is None:
            continue
        path = f"/clients/{uuid}/protocol-mappers/models"
        have = {mapper["name"] for mapper in call("GET", path, None) or []}
        for mapper in mappers:
            if mapper["name"] not in have:
                changes.append(f"{client['clientId']} mapper {mapper['name']}")
                if apply:
                    call("POST", path, mapper)
    return changes


def reconcile(call: Call, realm: dict[str, Any], apply: bool) -> list[str]:
    """Every addition the live realm needs, made when ``apply``; clients first, so the
    service accounts and mappers of a client created now are looked at as they are."""
    steps = (ensure_clients, ensure_service_roles, ensure_events, ensure_profile, ensure_mappers)
    return [change for step in steps for change in step(call, realm, apply)]


def _request(url: str, method: str, token: str | None, body: bytes | None, kind: str) -> Any:
    headers = {"Accept": "application/json", "Content-Type": kind}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    # Always the role's http://127.0.0.1 URL, never a file: or other scheme.
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as answer:  # noqa: S310
        data = answer.read()
    return json.loads(data) if data else None


def admin_api(url: str, realm: str, user: str, password: str) -> Call:
    """A ``Call`` on the realm's admin API with a token of the master realm's ``admin-cli``."""
    form = urllib.parse.urlencode(
        {"grant_type": "password", "client_id": "admin-cli", "username": user, "password": password}
    ).encode()
    signed_in = _request(
        f"{url}/realms/master/protocol/openid-connect/token",
        "POST",
        None,
        form,
        "application/x-www-form-urlencoded",
    )
    token = str(signed_in["access_token"])
    base = f"{url}/admin/realms/{urllib.parse.quote(realm)}"

    def call(method: str, path: str, body: Any) -> Any:
        data = None if body is None else json.dumps(body).encode()
        return _request(base + path, method, token, data, "application/json")

    return call


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "required": True},
            "realm": {"type": "str", "required": True},
            "realm_file": {"type": "path", "required": True},
            "admin_user": {"type": "str", "required": True},
            "admin_password": {"type": "str", "required": True, "no_log": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        with open(params["realm_file"], encoding="utf-8") as file:
            realm = json.load(file)
        call = admin_api(
            params["url"], params["realm"], params["admin_user"], params["admin_password"]
        )
        changes = reconcile(call, realm, apply=not module.check_mode)
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        module.fail_json(
            msg=f"Keycloak answered {exc.code} to {exc.filename}: {detail} - check that "
            "vault_keycloak_admin_password is the master realm admin's password"
        )
    except (OSError, ValueError, KeyError) as exc:
        module.fail_json(msg=f"cannot bring realm {params['realm']} up to its file: {exc}")
    module.exit_json(changed=bool(changes), changes=changes)


if __name__ == "__main__":
    main()
