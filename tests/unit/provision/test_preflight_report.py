"""The preflight role's report (playbooks/roles/preflight/templates/report.j2), rendered with
Ansible's own templating and recorded command output: the room the offline bundle needs on
each node (copied into ~/.ansible/tmp, then unpacked beside appliance_bundle_dir) next to the
existing /var/lib check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from ansible.parsing.dataloader import DataLoader  # type: ignore[import-untyped]
from ansible.template import Templar  # type: ignore[import-untyped]

ROLE = Path(__file__).resolve().parents[3] / "playbooks" / "roles" / "preflight"
GIB_MB = 1024


def _render(**more: Any) -> dict[str, Any]:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    variables: dict[str, Any] = {
        **defaults,
        "preflight_min_memory_gb": 4, "preflight_min_disk_gb": 10, "preflight_expected_gpus": "",
        "inventory_hostname": "gpu1",
        "appliance_bundle_dir": "/opt/appliance-bundle/bundle",
        "ansible_facts": {
            "os_family": "Debian", "distribution": "Debian", "distribution_version": "12.11",
            "distribution_major_version": "12", "processor_vcpus": 8, "memtotal_mb": 65536,
            "services": {},
        },
        "__preflight_df": {"stdout_lines": ["Avail", "200G"]},
        "__preflight_gpus": {"rc": 1, "stdout_lines": []},
        "__preflight_ss": {"stdout_lines": []},
        "__preflight_ntp": {"stdout": "yes"},
        "__preflight_dns": {"results": [{"rc": 0, "item": "gpu1"}]},
        "__preflight_bundle": {"skipped": True},
        "__preflight_bundle_df": {"skipped": True},
        **more,
    }  # fmt: skip
    templar = Templar(loader=DataLoader(), variables=variables)
    text = templar.template((ROLE / "templates" / "report.j2").read_text())
    report: dict[str, Any] = yaml.safe_load(text)
    return report


def _bundle(size_gib: int, df: list[str]) -> dict[str, Any]:
    return {
        "__preflight_bundle": {"stat": {"size": size_gib * 1024**3}},
        "__preflight_bundle_df": {"stdout_lines": df},
    }


def test_online_install_has_no_bundle_line() -> None:
    report = _render()
    assert report["problems"] == []
    assert not [line for line in report["lines"] if line.startswith("bundle")]


def test_bundle_on_the_root_disk_needs_twice_its_size_plus_margin() -> None:
    # 100 GiB bundle, copy and /opt on the same filesystem with 180 GiB free: 205 needed.
    report = _render(**_bundle(100, [f"/dev/sda1 {180 * GIB_MB}", f"/dev/sda1 {180 * GIB_MB}"]))
    assert report["problems"] == [
        "free disk for the bundle copy in ~/.ansible/tmp and /opt/appliance-bundle is 180.0 GiB, "
        "the 100.0 GiB bundle needs 205.0 GiB (copied, then unpacked, plus 5 GiB), 25.0 GiB "
        "short - free space on the root disk or set appliance_bundle_dir to a larger filesystem"
    ]
    enough = _render(**_bundle(100, [f"/dev/sda1 {300 * GIB_MB}", f"/dev/sda1 {300 * GIB_MB}"]))
    assert enough["problems"] == []
    assert "bundle    300.0 GiB free for the bundle copy" in " ".join(enough["lines"])


def test_bundle_on_two_filesystems_needs_its_size_on_each() -> None:
    report = _render(**_bundle(100, [f"/dev/sda1 {120 * GIB_MB}", f"/dev/sdb1 {90 * GIB_MB}"]))
    assert report["problems"] == [
        "free disk for /opt/appliance-bundle is 90.0 GiB, the 100.0 GiB bundle needs 105.0 GiB "
        "(copied, then unpacked, plus 5 GiB), 15.0 GiB short - free space on the root disk or "
        "set appliance_bundle_dir to a larger filesystem"
    ]
