"""A web UI and a gateway of this working tree, for a browser test of code the running
appliance may not serve yet.

The gateway runs on a scratch database (migrated to head) with a stub model; the web UI on
a free port, signing users in through the real Keycloak with a client of its own: the
realm's web UI client under a new name, redirecting to that port, removed afterwards.
The browser tests share one (the e2e conftest's ``tree``), started once.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.runtime.gateway_service import local_allowed_clients
from tests.support.gateways import GatewayProcess
from tests.support.keycloak_admin import master_admin
from tests.support.paths import REPO
from tests.support.postgres import scratch
from tests.support.process import Process, answers, free_port, wait_until
from tests.support.stubs import Stub

REALM_FILE = REPO / "appliance" / "runtime" / "realm" / "appliance-realm.json"


@dataclass(frozen=True, slots=True)
class TreeWebUI:
    url: str
    gateway_url: str


def _client(client_id: str, url: str, secret: str) -> dict[str, Any]:
    """The realm's web UI client, under a name of its own, redirecting to ``url``."""
    realm = json.loads(REALM_FILE.read_text(encoding="utf-8"))
    client = next(c for c in realm["clients"] if c["clientId"] == "appliance-webui")
    return {
        **client,
        "clientId": client_id,
        "secret": secret,
        "rootUrl": url,
        "redirectUris": [f"{url}/*"],
        "attributes": {**client["attributes"], "post.logout.redirect.uris": f"{url}/*"},
    }


@contextmanager
def tree_webui(
    services: Mapping[str, Any], served_model: str, folder: Path, name: str
) -> Iterator[TreeWebUI]:
    """Start both (``name`` prefixes the scratch database), yield their URLs, stop them and
    remove the Keycloak client. ``folder`` keeps the web UI's secrets."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    client_id = f"t{secrets.token_hex(3)}-webui"
    secret = secrets.token_urlsafe(32)
    (folder / "client_secret").write_text(secret, encoding="utf-8")
    master = master_admin(services)
    master.create_client(_client(client_id, url, secret))
    started: list[Process] = []
    try:
        with scratch.temporary(services, name) as db:
            stub = Stub(served_model)
            started.append(stub)
            allowed = [*json.loads(local_allowed_clients()), client_id]
            # The gateway and the web UI start side by side: each spends seconds of CPU before
            # it answers, and the web UI asks nothing of the gateway until it is used.
            gateway = GatewayProcess(
                {
                    "APPLIANCE_DATABASE_URL": db.gateway_url,
                    "APPLIANCE_KEYCLOAK__ISSUER": services["keycloak"]["issuer"],
                    "APPLIANCE_KEYCLOAK__ALLOWED_CLIENTS": json.dumps(allowed),
                    "APPLIANCE_BACKENDS": stub.url,
                },
                name="gateway",
                wait=False,
            )
            started.append(gateway)
            ui = Process(
                f"webui-{port}",
                [sys.executable, "-m", "webui"],
                {
                    "APPLIANCE_WEBUI_PORT": str(port),
                    "APPLIANCE_WEBUI_PUBLIC_URL": url,
                    "APPLIANCE_WEBUI_GATEWAY_URL": gateway.url,
                    "APPLIANCE_WEBUI_ISSUER": services["keycloak"]["issuer"],
                    "APPLIANCE_WEBUI_CLIENT_ID": client_id,
                    "APPLIANCE_WEBUI_CLIENT_SECRET_FILE": str(folder / "client_secret"),
                    "APPLIANCE_WEBUI_SESSION_KEY_FILE": str(folder / "session_key"),
                    "APPLIANCE_WEBUI_MAX_TOKENS": "64",
                    "GRADIO_ANALYTICS_ENABLED": "False",
                    "HF_HUB_OFFLINE": "1",
                },
            )
            started.append(ui)
            gateway.wait_ready(120)
            wait_until(lambda: not ui.alive() or answers(f"{url}/healthz"), "web UI", 120)
            assert ui.alive(), f"the web UI exited, see {ui.log_path}"
            yield TreeWebUI(url, gateway.url)
    finally:
        for process in reversed(started):
            process.stop()
        if (internal := master.get_client_id(client_id)) is not None:
            master.delete_client(internal)
