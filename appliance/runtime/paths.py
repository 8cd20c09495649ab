"""Where the local runtime keeps its state: everything lives under ``var/`` in the repo root.

One place names every file, so the services, the CLI and the tests agree on them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

KEYCLOAK_VERSION = "26.7.3"
DEMO_MODEL_NAME = "smollm2-135m-instruct"


def _default_root() -> Path:
    """The repository root: ``APPLIANCE_ROOT`` if set, else the checkout holding this package
    (the package is installed editable, so that is where ``var/`` and ``.venv`` are)."""
    override = os.environ.get("APPLIANCE_ROOT")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class RuntimePaths:
    """Every path the local runtime reads or writes."""

    root: Path

    @classmethod
    def default(cls) -> RuntimePaths:
        return cls(_default_root())

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def log_dir(self) -> Path:
        return self.var / "log"

    @property
    def run_dir(self) -> Path:
        return self.var / "run"

    @property
    def secrets_dir(self) -> Path:
        return self.var / "secrets"

    @property
    def pg_data(self) -> Path:
        return self.var / "pg" / "data"

    @property
    def pg_socket_dir(self) -> Path:
        return self.var / "pg" / "run"

    @property
    def keycloak_home(self) -> Path:
        return self.var / "keycloak" / f"keycloak-{KEYCLOAK_VERSION}"

    @property
    def vllm_python(self) -> Path:
        return self.var / "vllm-venv" / "bin" / "python"

    @property
    def model_dir(self) -> Path:
        return self.var / "models" / DEMO_MODEL_NAME

    @property
    def project_bin(self) -> Path:
        return self.root / ".venv" / "bin"

    @property
    def settings_file(self) -> Path:
        return self.var / "appliance.env"

    @property
    def endpoints_file(self) -> Path:
        return self.var / "endpoints.json"

    def log(self, service: str) -> Path:
        return self.log_dir / f"{service}.log"

    def pid(self, service: str) -> Path:
        return self.run_dir / f"{service}.pid"

    def secret(self, name: str) -> Path:
        return self.secrets_dir / name

    def ensure_dirs(self) -> None:
        """Create the state directories; secrets are readable by their owner only."""
        for directory in (self.log_dir, self.run_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.secrets_dir.mkdir(parents=True, exist_ok=True)
        self.secrets_dir.chmod(0o700)
