"""The realm stores the login events the compliance export reads, for at least the audit
log's minimum retention, and its accounts client may read them and nothing more; an older
local import gets both on the next ``appliance up``, once."""

from __future__ import annotations

import json
from typing import Any

from appliance.runtime import keycloak_service
from appliance.runtime.keycloak_service import ensure_events, events_config
from appliance.settings import MIN_RETENTION_DAYS, AuditSettings
from tests.support.site_realm import rendered_site_realm

REALM: dict[str, Any] = json.loads(keycloak_service._realm_resource(keycloak_service.REALM_FILE))
DAY_S = 86_400
# What Keycloak 26.7 answers for a realm imported from a file without the events settings.
OLDER_IMPORT: dict[str, Any] = {
    "realm": "appliance",
    "eventsEnabled": True,
    "eventsListeners": ["jboss-logging"],
    "enabledEventTypes": [],
    "adminEventsEnabled": True,
    "adminEventsDetailsEnabled": False,
}


def _accounts_roles() -> list[str]:
    user = next(
        u for u in REALM["users"] if u.get("serviceAccountClientId") == "appliance-accounts"
    )
    roles: list[str] = user["clientRoles"]["realm-management"]
    return roles


def test_the_realm_stores_login_events_at_least_as_long_as_the_audit_log_must_keep_rows() -> None:
    assert REALM["eventsEnabled"] is True
    assert REALM["enabledEventTypes"] == ["LOGIN", "LOGIN_ERROR"]
    assert MIN_RETENTION_DAYS == 180
    assert REALM["eventsExpiration"] >= MIN_RETENTION_DAYS * DAY_S
    # As long as the audit rows stay in the database by default.
    assert REALM["eventsExpiration"] >= AuditSettings().retention_days * DAY_S


def test_the_accounts_client_may_view_events_but_not_manage_them() -> None:
    roles = _accounts_roles()
    assert "view-events" in roles
    assert not {"manage-events", "manage-realm", "realm-admin"} & set(roles)
    # The assessment's client reads no events.
    assessment = next(
        u for u in REALM["users"] if u.get("serviceAccountClientId") == "svc-assessment"
    )
    assert "clientRoles" not in assessment


def test_the_deployed_realm_carries_the_events_and_view_events() -> None:
    """The keycloak role's template, rendered with Ansible's templating as a site gets it."""
    deployed = rendered_site_realm()
    assert deployed["eventsEnabled"] is True
    assert deployed["enabledEventTypes"] == ["LOGIN", "LOGIN_ERROR"]
    assert deployed["eventsExpiration"] == REALM["eventsExpiration"]
    accounts = next(
        u for u in deployed["users"] if u.get("serviceAccountClientId") == "appliance-accounts"
    )
    assert accounts["clientRoles"]["realm-management"] == _accounts_roles()


def test_an_older_import_gets_the_login_events_and_their_expiry() -> None:
    wanted = events_config(OLDER_IMPORT, REALM)
    assert wanted == {
        "eventsListeners": ["jboss-logging"],
        "adminEventsEnabled": True,
        "adminEventsDetailsEnabled": False,
        "eventsEnabled": True,
        "enabledEventTypes": ["LOGIN", "LOGIN_ERROR"],
        "eventsExpiration": REALM["eventsExpiration"],
    }
    # Applied, the next `appliance up` changes nothing.
    assert events_config({**OLDER_IMPORT, **wanted}, REALM) is None


def test_a_sites_own_event_types_and_longer_expiry_are_kept() -> None:
    site = {
        **OLDER_IMPORT,
        "eventsEnabled": True,
        "enabledEventTypes": ["LOGOUT", "LOGIN"],
        "eventsExpiration": 400 * DAY_S,
    }
    wanted = events_config(site, REALM)
    assert wanted is not None
    assert wanted["enabledEventTypes"] == ["LOGOUT", "LOGIN", "LOGIN_ERROR"]
    assert wanted["eventsExpiration"] == 400 * DAY_S


def test_events_turned_off_are_turned_on_with_the_files_types_alone() -> None:
    # Keycloak lists every event type for a realm that stores none.
    site = {
        **OLDER_IMPORT,
        "eventsEnabled": False,
        "enabledEventTypes": ["LOGOUT", "LOGIN", "CODE_TO_TOKEN", "REFRESH_TOKEN"],
        "eventsExpiration": 400 * DAY_S,
    }
    wanted = events_config(site, REALM)
    assert wanted is not None
    assert wanted["eventsEnabled"] is True
    assert wanted["enabledEventTypes"] == ["LOGIN", "LOGIN_ERROR"]
    assert wanted["eventsExpiration"] == 400 * DAY_S


def test_a_shorter_or_missing_expiry_becomes_the_files() -> None:
    enabled = {**OLDER_IMPORT, "enabledEventTypes": ["LOGIN", "LOGIN_ERROR"]}
    for live in (30 * DAY_S, 0):
        raised = events_config({**enabled, "eventsExpiration": live}, REALM)
        assert raised is not None and raised["eventsExpiration"] == REALM["eventsExpiration"]
    assert events_config({**enabled, "eventsExpiration": REALM["eventsExpiration"]}, REALM) is None


class EventsAdmin:
    """``get_realm`` and ``set_events`` over one realm's events configuration."""

    def __init__(self, live: dict[str, Any]) -> None:
        self.live = dict(live)
        self.put: list[dict[str, Any]] = []

    def get_realm(self, realm_name: str) -> dict[str, Any]:
        assert realm_name == "appliance"
        return dict(self.live)

    def set_events(self, payload: dict[str, Any]) -> None:
        self.put.append(payload)
        self.live |= payload


def test_ensure_events_puts_the_configuration_once() -> None:
    admin = EventsAdmin(OLDER_IMPORT)
    ensure_events(admin)  # type: ignore[arg-type]
    ensure_events(admin)  # type: ignore[arg-type]
    assert len(admin.put) == 1
    assert admin.live["enabledEventTypes"] == ["LOGIN", "LOGIN_ERROR"]
    assert admin.live["eventsExpiration"] == REALM["eventsExpiration"]
    assert admin.live["eventsListeners"] == ["jboss-logging"]
