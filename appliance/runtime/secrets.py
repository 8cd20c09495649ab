"""Secrets the local runtime generates on first start and reuses afterwards.

Each lives in its own file under ``var/secrets/`` with mode 0600; nothing is ever committed.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from appliance.runtime.paths import RuntimePaths


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only, created with that mode (never world-readable
    even for an instant)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(0o600)


def new_password() -> str:
    """A URL-safe password (no characters that need quoting in a database URL)."""
    return secrets.token_urlsafe(24)


def password(path: Path) -> str:
    """The password stored at ``path``, generating it on first use."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    value = new_password()
    write_private(path, value + "\n")
    return value


def vllm_api_key(paths: RuntimePaths) -> str:
    """The key the local vLLM requires and the gateway sends, generated on first use."""
    return password(paths.secret("vllm_api_key"))


def json_secrets(path: Path) -> dict[str, str]:
    """A name -> secret map kept as one JSON file (demo users' passwords)."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


def save_json_secrets(path: Path, values: dict[str, str]) -> None:
    write_private(path, json.dumps(values, indent=2, sort_keys=True) + "\n")
