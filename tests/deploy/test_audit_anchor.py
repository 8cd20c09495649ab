"""Audit checkpoints anchored outside the database, on the deployed site.

The GPU node is also the site's ``audit_anchor`` node: its rsyslog (the audit_anchor role,
TLS with a certificate from the site CA) receives every checkpoint the control node's
gateway signs and appends it to a file that only its ``auditor`` user owns, append-only.
The auditor's cross-check from ops/runbooks/audit-verification.md passes; then a superuser
on the control node cuts the tail of the log and its checkpoints, which the database alone
no longer shows (the chain it keeps verifies), and the cross-check names the cut.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from appliance.audit.anchor import ANCHOR_TYPE, parse_anchor
from tests.support.deploy import deployed, nodes
from tests.support.deploy.deployed import Site

pytestmark = pytest.mark.timeout(900)

ANCHOR_FILE = "/var/log/appliance-audit/anchors.log"
# Where the auditor puts the fetched file on the control node (the runbook's anchors.log).
FETCHED = "/root/anchors.log"
VERIFY = (
    "APPLIANCE_SETTINGS_FILE=/etc/appliance/appliance.env "
    f"/opt/appliance/venv/bin/appliance audit verify --anchors {FETCHED}"
)


def _anchored_seqs(cluster: nodes.Cluster, key: Path) -> tuple[str, list[int]]:
    """The anchor file as its owner reads it, and the checkpoint seqs it holds."""
    read = cluster.gpu.ssh(f"runuser -u auditor -- cat {ANCHOR_FILE}", key)
    assert read.returncode == 0, read.stderr
    seqs = [parse_anchor(line).seq for line in read.stdout.splitlines() if ANCHOR_TYPE in line]
    return read.stdout, seqs


def _head(cluster: nodes.Cluster, key: Path) -> int:
    return int(deployed.psql(cluster.control, key, "SELECT max(seq) FROM audit_events")[0])


def _fetch_to_control(cluster: nodes.Cluster, text: str) -> None:
    """The runbook's ``ssh anchor1 'sudo -u auditor cat …' > anchors.log``, landing on the
    control node where the auditor runs the check."""
    (cluster.control.rootfs / FETCHED.lstrip("/")).write_text(text, encoding="utf-8")


def test_checkpoints_reach_the_anchor_node_and_expose_a_cut_tail(
    site: Site, cluster: nodes.Cluster, ssh_key: Path
) -> None:
    inventory, _, _ = site
    # Rows to checkpoint: forged tokens through nginx, each refusal audited.
    with httpx.Client(
        base_url=f"https://{cluster.control.address}", verify=deployed.ca(inventory)
    ) as client:
        for _ in range(3):
            refused = client.get("/v1/models", headers={"Authorization": "Bearer forged.token.x"})
            assert refused.status_code == 401, refused.text
    head = _head(cluster, ssh_key)
    deadline = time.monotonic() + 120
    text, seqs = _anchored_seqs(cluster, ssh_key)
    while (not seqs or max(seqs) < head) and time.monotonic() < deadline:
        time.sleep(3)
        text, seqs = _anchored_seqs(cluster, ssh_key)
    assert seqs and max(seqs) >= head, f"no anchor reached seq {head} (anchored: {seqs[-5:]})"

    attributes = cluster.gpu.ssh(f"lsattr {ANCHOR_FILE}; stat -c %U:%a {ANCHOR_FILE}", ssh_key)
    flags, owner = attributes.stdout.split()[0], attributes.stdout.split()[-1]
    assert "a" in flags, attributes.stdout
    assert owner.startswith("auditor:"), attributes.stdout
    # Not even root on the anchor node rewrites what was received.
    rewrite = cluster.gpu.ssh(f": > {ANCHOR_FILE}", ssh_key)
    assert rewrite.returncode != 0

    _fetch_to_control(cluster, text)
    intact = cluster.control.ssh(VERIFY, ssh_key)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "anchors cross-checked" in intact.stdout, intact.stdout

    # A superuser cuts the tail from the last anchored checkpoint on, its checkpoints with it.
    cut = max(seqs)
    deployed.psql(
        cluster.control,
        ssh_key,
        "BEGIN; ALTER TABLE audit_events DISABLE TRIGGER ALL; "
        "ALTER TABLE audit_checkpoints DISABLE TRIGGER ALL; "
        f"DELETE FROM audit_checkpoints WHERE seq >= {cut}; "
        f"DELETE FROM audit_events WHERE seq >= {cut}; "
        "ALTER TABLE audit_events ENABLE TRIGGER ALL; "
        "ALTER TABLE audit_checkpoints ENABLE TRIGGER ALL; COMMIT;",
    )
    cut_verify = cluster.control.ssh(VERIFY, ssh_key)
    assert cut_verify.returncode == 1, cut_verify.stdout + cut_verify.stderr
    assert "BROKEN at seq" in cut_verify.stderr, cut_verify.stdout + cut_verify.stderr
