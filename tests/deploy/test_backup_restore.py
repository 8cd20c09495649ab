"""Backup and restore on booted nodes: what users made on the deployed site (a chat, a saved
conversation, a finance knowledge base with a document) is backed up with `appliance
backup`; the control node is then replaced by a fresh machine (same name and address, an
empty disk), `appliance deploy` installs it from nothing, and `appliance restore` brings the
conversations, the knowledge base (listable and searchable by the finance user), the signed
audit archives' directory and an audit log that still verifies back, live with the archives
and offline on the backup's dump."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.deploy import bundle, deployed, nodes
from tests.support.deploy.deployed import Site

pytestmark = pytest.mark.timeout(3600)

TAG = secrets.token_hex(4)
KB_NAME = f"财务制度 {TAG}"
PHRASE = f"Reimbursement code {TAG}: travel claims above 5000 yuan need the CFO's approval."
TITLE = f"Travel claims {TAG}"
# The gateway role's archive directory (shared role: gateway_audit_archive_dir). A new site
# has no row old enough to archive, so a file of the test's own stands for the archives;
# root's, as a file of another owner (an earlier release's archive user) would be.
ARCHIVE_DIR = "/var/lib/appliance-audit-archive"
ARCHIVE_MARK = f"{ARCHIVE_DIR}/restore-check-{TAG}.txt"


def _client(site: Site, cluster: nodes.Cluster) -> tuple[httpx.Client, str]:
    inventory, vault, _ = site
    base = f"https://{cluster.control.address}"
    ctx = deployed.ca(inventory)
    token = deployed.token(base, ctx, vault["vault_keycloak_webui_client_secret"])
    client = httpx.Client(
        base_url=base, verify=ctx, timeout=120, headers={"Authorization": f"Bearer {token}"}
    )
    return client, token


def _search(client: httpx.Client, kb_id: str) -> list[dict[str, object]]:
    found = client.post(
        "/api/kb/search", json={"query": f"reimbursement code {TAG}", "kb_ids": [kb_id]}
    )
    assert found.status_code == 200, found.text
    return list(found.json()["results"])


def _audit_verify_live(
    control: nodes.Node, key: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return control.ssh(
        "APPLIANCE_SETTINGS_FILE=/etc/appliance/appliance.env "
        "/opt/appliance/venv/bin/appliance audit verify " + " ".join(args),
        key,
    )


def test_backup_then_restore_on_a_fresh_control_node(
    site: Site,
    cluster: nodes.Cluster,
    built: Path,
    ssh_key: Path,
    vault_password: Path,
    tmp_path: Path,
) -> None:
    inventory, _, _ = site
    vault = f"--vault-password-file={vault_password}"

    # What users make: a finance knowledge base with a document, found by search, and a
    # conversation filed through the gateway as the web UI files it; each call leaves audit
    # rows.
    client, token = _client(site, cluster)
    owner = deployed.subject(token)
    made = client.post(
        "/api/kb", json={"name": KB_NAME, "group": deployed.FINANCE, "description": TAG}
    )
    assert made.status_code == 201, made.text
    kb_id = made.json()["id"]
    upload = client.post(
        f"/api/kb/{kb_id}/documents",
        files=[("files", ("travel-policy.txt", PHRASE.encode(), "text/plain"))],
    )
    assert upload.status_code in (200, 201), upload.text
    [document] = upload.json()["documents"]
    assert document["status"] not in ("failed", "rejected") and document["chunks"] >= 1, document
    assert any(TAG in str(hit["text"]) for hit in _search(client, kb_id))
    conversation = deployed.save_conversation(client, TITLE, "Who approves travel claims?", PHRASE)
    audit_before = deployed.psql(
        cluster.control, ssh_key, "SELECT count(*), max(seq) FROM audit_events"
    )
    [count_before, last_seq] = audit_before[0].split("|")
    assert int(count_before) > 0
    cluster.control.ssh(
        f"echo {TAG} > {ARCHIVE_MARK} && chown root:root {ARCHIVE_MARK}",
        ssh_key,
        check=True,
    )

    # Backup, checked offline: the dump's audit chain verifies against the backed-up key.
    backups = inventory / "artifacts" / "backups"
    earlier = set(backups.iterdir()) if backups.exists() else set()
    backed = deployed.appliance("backup", "-i", str(inventory), vault)
    assert backed.returncode == 0, backed.stderr[-2000:]
    [backup] = set(backups.iterdir()) - earlier
    assert {p.name for p in backup.iterdir()} == {
        "appliance.dump",
        "keycloak.dump",
        "config.tar.gz",
        "audit-archive.tar.gz",
    }
    packed = subprocess.run(
        ["tar", "-tzf", str(backup / "audit-archive.tar.gz")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert ARCHIVE_MARK.lstrip("/") in packed, packed
    # The backup held the archive timer off and let it run again.
    timer = cluster.control.ssh("systemctl is-active appliance-audit-archive.timer", ssh_key)
    assert timer.stdout.strip() == "active", timer.stdout + timer.stderr
    subprocess.run(["tar", "-xzf", str(backup / "config.tar.gz"), "-C", str(tmp_path)], check=True)
    plain = tmp_path / "appliance.sql"
    subprocess.run(["pg_restore", "-f", str(plain), str(backup / "appliance.dump")], check=True)
    offline = deployed.appliance(
        "audit", "verify", "--dump", str(plain),
        "--public-key", str(tmp_path / "etc" / "appliance" / "audit-checkpoint.pem.pub"),
    )  # fmt: skip
    assert offline.returncode == 0, offline.stdout + offline.stderr

    # A fresh control node: new machine, empty disk, same name and address.
    control = cluster.replace_control()
    assert control.ssh("test -e /etc/appliance", ssh_key).returncode == 1
    bundle.place(built, control.rootfs, deployed.BUNDLE_DIR)
    deployed.require_ok(deployed.deploy(inventory, vault_password), cluster, cluster.key)
    assert deployed.psql(
        control, ssh_key, f"SELECT count(*) FROM knowledge_bases WHERE name = '{KB_NAME}'"
    ) == ["0"]

    restored = deployed.appliance("restore", "-i", str(inventory), vault, "--archive", str(backup))
    deployed.require_ok(restored, cluster, cluster.key)

    # The same user signs in again (Keycloak came back with its users and keys) and finds
    # the knowledge base and its document, and the web UI's conversation.
    client, token = _client(site, cluster)
    assert deployed.subject(token) == owner
    listed = client.get("/api/kb")
    assert listed.status_code == 200, listed.text
    assert kb_id in {kb["id"] for kb in listed.json()["knowledge_bases"]}
    assert any(TAG in str(hit["text"]) for hit in _search(client, kb_id))
    saved = deployed.conversations(client)
    expected = [["user", "Who approves travel claims?"], ["assistant", PHRASE]]
    assert {"id": conversation, "title": TITLE, "messages": expected} in saved

    # The audit log: every row up to the backup came back, new rows (the search above)
    # extend the restored chain, and the whole of it verifies on the node.
    after = deployed.psql(
        control, ssh_key, f"SELECT count(*) FROM audit_events WHERE seq <= {last_seq}"
    )
    assert after == [count_before]
    grown = deployed.psql(
        control, ssh_key, f"SELECT count(*) FROM audit_events WHERE seq > {last_seq}"
    )
    assert int(grown[0]) > 0
    live = _audit_verify_live(control, ssh_key)
    assert live.returncode == 0, live.stdout + live.stderr

    # The archive directory came back with what the backup held, everything in it the
    # archive run's user's own, the chain verifies with it, and the timer runs again.
    mark = control.ssh(
        f"stat -c '%U:%G %a' {ARCHIVE_DIR} {ARCHIVE_MARK} && cat {ARCHIVE_MARK}",
        ssh_key,
        check=True,
    )
    archiver = "appliance-archive:appliance-archive"
    assert mark.stdout.split() == [archiver, "700", archiver, "644", TAG], mark.stdout
    live = _audit_verify_live(control, ssh_key, "--archive-dir", ARCHIVE_DIR)
    assert live.returncode == 0, live.stdout + live.stderr
    timer = control.ssh("systemctl is-active appliance-audit-archive.timer", ssh_key)
    assert timer.stdout.strip() == "active", timer.stdout + timer.stderr
