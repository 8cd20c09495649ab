"""The realm file as the keycloak role renders it for a site (with Ansible's own templating),
for the tests that hold the deployed realm to what the local runtime and the role's realm
module expect."""

from __future__ import annotations

import json
from typing import Any

from ansible.parsing.dataloader import DataLoader  # type: ignore[import-untyped]
from ansible.plugins.loader import init_plugin_loader  # type: ignore[import-untyped]
from ansible.template import Templar  # type: ignore[import-untyped]

from tests.support.paths import REPO

TEMPLATE = (
    REPO / "playbooks/roles/keycloak/templates/opt/keycloak/data/import/appliance-realm.json.j2"
)
VARIABLES = {
    "keycloak_realm_source": str(REPO / "appliance/runtime/realm/appliance-realm.json"),
    "appliance_public_hostname": "llm.example.cn",
    "keycloak_excluded_clients": ["appliance-dev"],
    "keycloak_webui_client_secret": "webui-secret",
    "keycloak_accounts_client_secret": "accounts-secret",
    "keycloak_ldap_enabled": False,
}


def rendered_site_realm() -> dict[str, Any]:
    """The realm file a site's Keycloak imports, as a dict."""
    init_plugin_loader()
    rendered = Templar(loader=DataLoader(), variables=VARIABLES).template(TEMPLATE.read_text())
    loaded: dict[str, Any] = json.loads(str(rendered))
    return loaded
