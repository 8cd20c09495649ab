"""The whole appliance from the offline bundle on booted nodes cut off from everything but
each other: `appliance deploy`, an authenticated chat through nginx/TLS with the official
`openai` client, the exchange in the audit log, the audit archive's timer and a run of it,
the web UI, the gateway and the archive run each as its own user, a second run that changes
nothing,
`appliance status`, the GPU node's replica refusing anyone without the gateway's key (over
HTTPS from the site CA), `appliance add-gpu-node` with a second GPU node, and a rolling
`appliance upgrade` of the running site while users chat."""

from __future__ import annotations

import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from tests.support.deploy import bundle, deployed, nodes, runbook
from tests.support.deploy.deployed import Site

# Installing both nodes from nothing takes 10-25 minutes on a shared 2-core machine.
pytestmark = pytest.mark.timeout(3600)


def _sign_in(site: Site, cluster: nodes.Cluster) -> OpenAI:
    """li.na signed in through nginx/TLS, as the official client."""
    inventory, vault, _ = site
    base = f"https://{cluster.control.address}"
    ctx = deployed.ca(inventory)
    token = deployed.token(base, ctx, vault["vault_keycloak_webui_client_secret"])
    return OpenAI(base_url=f"{base}/v1", api_key=token, http_client=httpx.Client(verify=ctx))


def _ask(client: OpenAI, question: str) -> str:
    answer = client.chat.completions.create(
        model=bundle.MODEL_NAME,
        messages=[{"role": "user", "content": question}],
        max_tokens=24,
        temperature=0,
    )
    message = answer.choices[0].message
    # Through vLLM's deepseek_r1 parser the small demo model's whole answer may land in the
    # reasoning field (it never closes a think block without the runtime's logits processor).
    return (message.content or "") + str(getattr(message, "reasoning_content", "") or "")


def _chat(site: Site, cluster: nodes.Cluster, question: str) -> str:
    """One question as li.na, freshly signed in; the answer."""
    return _ask(_sign_in(site, cluster), question)


def test_chat_through_nginx_is_audited(site: Site, cluster: nodes.Cluster, ssh_key: Path) -> None:
    inventory, _, _ = site
    base = f"https://{cluster.control.address}"
    tag = secrets.token_hex(4)
    assert "Paris" in _chat(site, cluster, f"What is the capital of France? ({tag})")
    headers = httpx.get(f"{base}/healthz", verify=deployed.ca(inventory)).headers
    assert headers["strict-transport-security"].startswith("max-age=")

    rows = deployed.psql(
        cluster.control,
        ssh_key,
        "SELECT event_type, actor_username, outcome FROM audit_events WHERE request_id IN "
        f"(SELECT request_id FROM audit_events WHERE prompt LIKE '%{tag}%') ORDER BY seq",
    )
    assert len(rows) >= 2 and all(f"|{deployed.USER}|" in row for row in rows), rows


def test_the_audit_archive_runs_on_its_timer(
    site: Site, cluster: nodes.Cluster, ssh_key: Path
) -> None:
    """The control node schedules `appliance audit archive` monthly, catching up a run missed
    while it was off; a run started now, as its own user (never the gateway's, which could
    read the migrations' login from its environment), finds nothing old enough on a new
    site, succeeds (it read the settings, the checkpoint key and its directory), and says so
    in the journal."""
    control = cluster.control
    timers = control.ssh(
        "systemctl list-timers --all --no-legend appliance-audit-archive.timer", ssh_key, check=True
    ).stdout
    assert "appliance-audit-archive.timer" in timers, timers
    assert "appliance-audit-archive.service" in timers, timers
    timer = control.ssh(
        "systemctl show -p Persistent -p TimersCalendar -p UnitFileState "
        "appliance-audit-archive.timer",
        ssh_key,
        check=True,
    ).stdout
    assert "Persistent=yes" in timer and "*-*-01 00:00:00" in timer, timer
    assert "UnitFileState=enabled" in timer, timer
    started = control.ssh("systemctl start appliance-audit-archive.service", ssh_key)
    assert started.returncode == 0, started.stdout + started.stderr
    ran = control.ssh(
        "systemctl show -p Result -p User appliance-audit-archive.service", ssh_key, check=True
    ).stdout
    assert {"Result=success", "User=appliance-archive"} <= set(ran.split()), ran
    journal = control.ssh(
        "journalctl -u appliance-audit-archive.service --no-pager -o cat", ssh_key, check=True
    ).stdout
    assert "nothing older than 365 days up to a checkpoint" in journal, journal
    failed = control.ssh("systemctl --failed --no-legend --plain", ssh_key, check=True).stdout
    assert "appliance-audit-archive" not in failed, failed


def test_the_web_ui_and_the_gateway_cannot_read_each_others_secrets(
    site: Site, cluster: nodes.Cluster, ssh_key: Path
) -> None:
    """Each runs as its own user: the web UI's user cannot read the running gateway's
    process environment (nor so ptrace it for its database password), the gateway's user
    cannot read the web UI's settings or client secret, and neither can open the audit
    archives. A few seconds of shell on the control node."""
    control = cluster.control

    def shell(command: str) -> str:
        return control.ssh(command, ssh_key, check=True).stdout.strip()

    webui = shell("systemctl show -p MainPID --value appliance-webui")
    gateway = shell("systemctl show -p MainPID --value appliance-gateway")
    assert shell(f"ps -o user:32= -p {webui}; ps -o user:32= -p {gateway}").split() == [
        "appliance-webui",
        "appliance",
    ]
    environ = f"/proc/{gateway}/environ"
    # There to be refused: root reads it.
    assert "APPLIANCE_SETTINGS_FILE=/etc/appliance/appliance.env" in shell(f"cat {environ}")
    probes = [
        ("appliance-webui", f"cat {environ}"),
        ("appliance", "cat /etc/appliance/webui.env"),
        ("appliance", "cat /etc/appliance/webui-client-secret"),
        ("appliance", "ls /var/lib/appliance-audit-archive"),
        ("appliance-webui", "ls /var/lib/appliance-audit-archive"),
    ]
    for user, command in probes:
        tried = control.ssh(f"runuser -u {user} -- {command}", ssh_key)
        assert tried.returncode != 0 and "Permission denied" in tried.stderr, (
            user, command, tried.stdout, tried.stderr,
        )  # fmt: skip


# Where the control node keeps the site CA that GPU nodes' replica certificates come from.
SITE_CA = "/etc/appliance/tls/ca.crt"


def _replica_status(cluster: nodes.Cluster, path: str, key: str | None = None) -> str:
    """The HTTP status the GPU node's replica gives a request made from a control-node shell,
    over TLS verified against the site CA (the way the gateway reaches it)."""
    headers = f"{{'Authorization': 'Bearer {key}'}}" if key else "{}"
    script = (
        "import ssl, http.client as h; "
        f"c = h.HTTPSConnection('{cluster.gpu.address}', 8011, "
        f"context=ssl.create_default_context(cafile='{SITE_CA}')); "
        f"c.request('GET', '{path}', headers={headers}); print(c.getresponse().status)"
    )
    return cluster.control.ssh(f'python3 -c "{script}"', cluster.key, check=True).stdout.strip()


def test_the_replica_answers_only_the_gateways_key(
    site: Site, cluster: nodes.Cluster, ssh_key: Path
) -> None:
    """The gateway is the only way to the model: straight from the control node, the GPU
    node's replica speaks HTTPS with a certificate of the site CA, and refuses a request
    without the vault's key (401); the key is in no process's command line."""
    _, vault, _ = site
    key = vault["vault_vllm_api_key"]
    assert _replica_status(cluster, "/v1/models") == "401"
    assert _replica_status(cluster, "/v1/models", key="not-the-key") == "401"
    assert _replica_status(cluster, "/v1/models", key=key) == "200"
    processes = cluster.gpu.ssh("ps -eo args", ssh_key, check=True).stdout
    assert "--ssl-certfile" in processes and key not in processes
    env = cluster.gpu.ssh("stat -c '%U:%G %a' /etc/vllm/vllm-0.env", ssh_key, check=True)
    assert env.stdout.split() == ["root:vllm", "640"]


def test_second_run_changes_nothing(site: Site, vault_password: Path) -> None:
    inventory, _, _ = site
    again = deployed.deploy(inventory, vault_password)
    assert again.returncode == 0, again.stderr[-3000:]
    recap = deployed.summary(again)
    assert set(recap) == {"control1", "gpu1"}
    assert all("changed=0 " in line for line in recap.values()), "\n".join(recap.values())


def test_status_reports_every_service(site: Site, vault_password: Path) -> None:
    inventory, _, _ = site
    result = deployed.appliance(
        "status", "-i", str(inventory), f"--vault-password-file={vault_password}"
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "status: done" in result.stderr
    rows = {tuple(line.split()[:2]): line.split() for line in result.stdout.splitlines()}
    for service in ("postgresql", "keycloak", "gateway", "webui", "nginx", "audit-archive"):
        assert rows[("control1", service)][2:4] == ["active", "healthy"], result.stdout
    assert rows[("gpu1", "vllm-0")][2:4] == ["active", "healthy"], result.stdout
    assert rows[("gpu1", "vllm-0")][-1] == bundle.MODEL_NAME, result.stdout
    assert "7 of 7 services healthy on 2 nodes" in result.stdout


def _served(node: nodes.Node, cluster: nodes.Cluster) -> float:
    """Requests a GPU node's replica has answered (vLLM's own counter, read from the control
    node: the replica's port is open to it alone)."""
    url = f"https://{node.address}:8011/metrics"
    script = (
        "import ssl, urllib.request as u; "
        f"ctx = ssl.create_default_context(cafile='{SITE_CA}'); "
        f"print(u.urlopen('{url}', context=ctx).read().decode())"
    )
    metrics = cluster.control.ssh(f'python3 -c "{script}"', cluster.key, check=True).stdout
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("vllm:request_success_total{")
    )


def test_added_gpu_node_joins_the_gateway(
    site: Site, cluster: nodes.Cluster, ssh_key: Path, vault_password: Path
) -> None:
    """`appliance add-gpu-node`: a second GPU node (the bundle delivered on its disk) is
    brought up and health-checked, the serving one keeps its replica running, and the
    gateway spreads chats over both."""
    inventory, _, _ = site
    serving = _restarts(cluster.gpu, ssh_key)
    new = cluster.add_gpu(nodes.Node("gpu2", 3))
    bundle.place(bundle.BUNDLE, new.rootfs, deployed.BUNDLE_DIR)
    # The runbook's step: the new node under vllm in hosts.yml, the other groups as they are.
    runbook.edit_site(inventory, {"vllm": [cluster.gpu, new]}, {})
    result = deployed.appliance(
        "add-gpu-node", "-i", str(inventory), f"--vault-password-file={vault_password}",
        timeout=1800,
    )  # fmt: skip
    deployed.require_ok(result, cluster, ssh_key)
    recap = deployed.summary(result)
    assert set(recap) == {"control1", "gpu1", "gpu2"}
    # The serving node only lets the new one reach its multi-node engine ports; its replica
    # keeps running.
    assert _restarts(cluster.gpu, ssh_key) == serving
    env = "grep ^APPLIANCE_BACKENDS= /etc/appliance/appliance.env"
    settings = cluster.control.ssh(env, ssh_key)
    for node in (cluster.gpu, new):
        assert f"https://{node.address}:8011" in settings.stdout, settings.stdout

    before = {node.name: _served(node, cluster) for node in (cluster.gpu, new)}
    client = _sign_in(site, cluster)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda i: _ask(client, f"What is {i} + {i}?"), range(8)))
    assert len(answers) == 8
    after = {node.name: _served(node, cluster) for node in (cluster.gpu, new)}
    assert all(after[name] > before[name] for name in before), (before, after)


def _restarts(node: nodes.Node, key: Path) -> tuple[int, int]:
    """When the node's replica last stopped and last started (Unix seconds)."""
    shown = node.ssh(
        "systemctl show --timestamp=unix -P InactiveEnterTimestamp vllm-0 && "
        "systemctl show --timestamp=unix -P ActiveEnterTimestamp vllm-0",
        key,
        check=True,
    ).stdout.split()
    return int(shown[0].lstrip("@") or 0), int(shown[1].lstrip("@"))


def _realm_without_stored_sign_ins(site: Site, cluster: nodes.Cluster) -> None:
    """Make the realm as one imported before it stored sign-ins: no LOGIN events, and the
    accounts client without view-events (the keycloak role's upgrade puts both back)."""
    deployed.kcadm(
        cluster.control, cluster.key, site[1]["vault_keycloak_admin_password"],
        "update events/config -r appliance -s eventsEnabled=false -s 'enabledEventTypes=[]'",
        "remove-roles -r appliance --uusername service-account-appliance-accounts "
        "--cclientid realm-management --rolename view-events",
    )  # fmt: skip


def _assert_realm_stores_sign_ins(site: Site, cluster: nodes.Cluster) -> None:
    """The realm stores LOGIN and LOGIN_ERROR for at least 180 days, and the accounts client
    may read them (what the compliance export's last sign-in needs)."""
    admin = site[1]["vault_keycloak_admin_password"]
    events = json.loads(
        deployed.kcadm(cluster.control, cluster.key, admin, "get events/config -r appliance")
    )
    assert events["eventsEnabled"] is True, events
    assert {"LOGIN", "LOGIN_ERROR"} <= set(events["enabledEventTypes"]), events
    assert events["eventsExpiration"] >= 180 * 86_400, events
    roles = deployed.kcadm(
        cluster.control, cluster.key, admin,
        "get-roles -r appliance --uusername service-account-appliance-accounts "
        "--cclientid realm-management",
    )  # fmt: skip
    assert "view-events" in {role["name"] for role in json.loads(roles)}, roles


def test_upgrade_backs_up_first_and_keeps_serving(
    site: Site, cluster: nodes.Cluster, ssh_key: Path, vault_password: Path
) -> None:
    """`appliance upgrade` with a changed vLLM setting: a backup first, then one GPU node at
    a time (each replica restarts only once the other is back), and users chatting all the
    way through are all answered."""
    inventory, _, _ = site
    backups = inventory / "artifacts" / "backups"
    before = set(backups.iterdir()) if backups.exists() else set()
    runbook.edit_variables(inventory, {"vllm_context": 2048})
    _realm_without_stored_sign_ins(site, cluster)
    started = time.time()

    outcomes: list[str] = []
    done = threading.Event()

    def keep_chatting() -> None:
        client, signed_in = None, 0.0
        while not done.is_set():
            try:
                if client is None or time.monotonic() - signed_in > 120:  # tokens live longer
                    client, signed_in = _sign_in(site, cluster), time.monotonic()
                _ask(client, "What is the capital of France?")
                outcomes.append("ok")
            except Exception as exc:  # every failure is what the test counts
                outcomes.append(f"{type(exc).__name__}: {exc}")
            # A staff member reads the answer before the next question. Unbroken, the chats
            # kept the serving replica on both host cores while the other one restarted.
            done.wait(2)

    chatter = threading.Thread(target=keep_chatting)
    chatter.start()
    try:
        result = deployed.appliance(
            "upgrade", "-i", str(inventory), f"--vault-password-file={vault_password}",
            timeout=1800,
        )  # fmt: skip
    finally:
        done.set()
        chatter.join()
    assert result.returncode == 0, result.stderr[-3000:]
    _assert_realm_stores_sign_ins(site, cluster)
    assert len(set(backups.iterdir()) - before) == 1
    assert set(deployed.summary(result)) == {"control1", "gpu1", "gpu2"}
    first, second = _restarts(cluster.gpu, ssh_key), _restarts(cluster.added[0], ssh_key)
    assert first[1] > started and second[1] > started, "both replicas restarted"
    assert second[0] >= first[1], "the second node stopped only after the first was back"
    failures = [o for o in outcomes if o != "ok"]
    (nodes.WORK / "upgrade-chats.txt").write_text(
        f"chats during the upgrade: {len(outcomes)}, failed: {len(failures)}; "
        f"upgrade {time.time() - started:.0f} s; gpu1 restarted at +{first[1] - started:.0f} s, "
        f"gpu2 stopped at +{second[0] - started:.0f} s\n"
    )
    assert len(outcomes) >= 10 and not failures, (len(outcomes), failures[:5])
    assert "Paris" in _chat(site, cluster, "What is the capital of France?")


def test_nodes_never_reached_outside(cluster: nodes.Cluster, ssh_key: Path) -> None:
    """Air gap: the nodes have no route beyond the test bridge."""
    for node in cluster:
        route = node.ssh("ip route get 1.1.1.1", ssh_key)
        assert route.returncode != 0
        assert "unreachable" in route.stderr
