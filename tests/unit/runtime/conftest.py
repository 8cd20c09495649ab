"""A runtime rooted in a temporary directory: tests write ``var/`` there, never in the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.runtime.paths import RuntimePaths


@pytest.fixture
def paths(tmp_path: Path) -> RuntimePaths:
    return RuntimePaths(tmp_path)
