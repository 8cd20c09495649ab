"""Where the checkout and the local runtime's files are, for every helper and fixture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
# Written by ``appliance up``: URLs of the running services, demo users, database roles.
ENDPOINTS_FILE = REPO / "var" / "endpoints.json"
# The local runtime's settings file; gateways the tests start read it too when it exists.
SETTINGS_FILE = REPO / "var" / "appliance.env"


def load_endpoints() -> dict[str, Any]:
    """var/endpoints.json, or an empty dict before ``appliance up`` wrote it."""
    return dict(json.loads(ENDPOINTS_FILE.read_text())) if ENDPOINTS_FILE.exists() else {}
