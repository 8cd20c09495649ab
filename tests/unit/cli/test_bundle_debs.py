"""``appliance bundle build``'s Debian packages: a CUDA site's bundle can carry the driver
that the nvidia role installs from it, under the same names the role asks apt for."""

from __future__ import annotations

from pathlib import Path

import yaml

from appliance.cli.bundle_cmds import DEFAULT_DEBS, NVIDIA_DEBS, bundle_debs

ROLE_DEFAULTS = Path(__file__).resolve().parents[3] / "playbooks/roles/nvidia/defaults/main.yml"


def test_the_driver_is_added_only_when_asked() -> None:
    assert bundle_debs(None, no_debs=False, nvidia_driver=False) == DEFAULT_DEBS
    with_driver = bundle_debs(None, no_debs=False, nvidia_driver=True)
    assert with_driver == DEFAULT_DEBS + NVIDIA_DEBS
    assert bundle_debs(["nginx"], no_debs=False, nvidia_driver=True) == ("nginx", *NVIDIA_DEBS)
    assert bundle_debs(None, no_debs=True, nvidia_driver=True) == ()


def test_the_driver_packages_are_the_nvidia_roles() -> None:
    defaults = yaml.safe_load(ROLE_DEFAULTS.read_text())
    assert tuple(defaults["nvidia_driver_packages"]) == NVIDIA_DEBS
