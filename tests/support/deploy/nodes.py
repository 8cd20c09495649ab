"""Booted Debian 12 test nodes: debootstrap once per run, systemd-nspawn per node.

Each node boots with systemd as PID 1 (``systemd-nspawn --boot --register=no --keep-unit``)
in a network namespace this module creates. The namespaces hang off a host-side bridge
with a private 10.231.0.0/24 network and no route anywhere else: the nodes reach each other
and the host (for Ansible over SSH), never the internet. Everything lives under
``var/deploy/`` and is removed when the run ends, except the base root filesystem, which
is built once per run (every node copies it) and left for inspection; a developer may set
``APPLIANCE_DEPLOY_REUSE=1`` to reuse one younger than a day instead of building it again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.paths import REPO

ROOT = REPO
WORK = ROOT / "var" / "deploy"
BASE = WORK / "rootfs-base"
BRIDGE = "aplbr0"
SUBNET = "10.231.0"
HOST_ADDRESS = f"{SUBNET}.1"
PACKAGES = "systemd,systemd-sysv,dbus,openssh-server,python3,iproute2,sudo,ca-certificates,procps"
MIRROR = "http://deb.debian.org/debian"
MAX_BASE_AGE_S = 24 * 3600
# Set when the run starts: what was built before it is stale unless APPLIANCE_DEPLOY_REUSE=1.
RUN_STARTED = time.time()


def fresh(marker: Path, max_age_s: float) -> bool:
    """Whether ``marker`` was made by this run (or, when reuse is asked for, recently)."""
    if not marker.exists():
        return False
    made = marker.stat().st_mtime
    if os.environ.get("APPLIANCE_DEPLOY_REUSE") == "1":
        return time.time() - made < max_age_s
    return made >= RUN_STARTED


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def ensure_base() -> Path:
    """The Debian 12 root filesystem every node copies (built once per run, ~3 minutes)."""
    marker = BASE / ".complete"
    if fresh(marker, MAX_BASE_AGE_S):
        return BASE
    tmp = WORK / "rootfs-base.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(BASE, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    sh("debootstrap", "--variant=minbase", f"--include={PACKAGES}", "bookworm", str(tmp), MIRROR)
    tmp.rename(BASE)
    marker.touch()
    return BASE


def ssh_key() -> Path:
    key = WORK / "ssh" / "id_ed25519"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    return key


def ensure_bridge() -> None:
    if sh("ip", "link", "show", BRIDGE, check=False).returncode == 0:
        return
    sh("ip", "link", "add", BRIDGE, "type", "bridge")
    sh("ip", "addr", "add", f"{HOST_ADDRESS}/24", "dev", BRIDGE)
    sh("ip", "link", "set", BRIDGE, "up")


def remove_bridge() -> None:
    sh("ip", "link", "del", BRIDGE, check=False)


def attach_netns(ns: str, veth: str, address: str) -> None:
    """A fresh network namespace ``ns`` whose eth0 (``address``/24) hangs off the bridge."""
    veth = veth[:15]
    sh("ip", "netns", "del", ns, check=False)
    sh("ip", "link", "del", veth, check=False)
    sh("ip", "netns", "add", ns)
    sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
    sh("ip", "link", "set", veth, "master", BRIDGE, "up")
    sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    sh("ip", "-n", ns, "link", "set", "lo", "up")


@dataclass
class Node:
    name: str
    index: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{SUBNET}.{10 + self.index}"

    @property
    def netns(self) -> str:
        return f"apl-{self.name}"

    @property
    def rootfs(self) -> Path:
        return WORK / "nodes" / self.name

    def remove_rootfs(self) -> None:
        """Delete the node's files, append-only ones included (the audit anchor file is
        ``chattr +a``, which not even root may delete until the attribute is cleared)."""
        shutil.rmtree(self.rootfs, ignore_errors=True)
        if self.rootfs.exists():
            sh("chattr", "-R", "-a", str(self.rootfs), check=False)
            shutil.rmtree(self.rootfs)

    def _prepare_rootfs(self, key: Path) -> None:
        self.remove_rootfs()
        self.rootfs.parent.mkdir(parents=True, exist_ok=True)
        sh("cp", "-a", "--reflink=auto", str(ensure_base()), str(self.rootfs))
        (self.rootfs / "etc" / "hostname").write_text(self.name + "\n")
        # What Debian's installer writes; debootstrap writes no /etc/hosts. Without it
        # "localhost" goes to DNS, which a node cannot reach, and PostgreSQL's first start
        # (by its package, listening on localhost) fails; under load its unit then hung in
        # "activating" and the install with it.
        (self.rootfs / "etc" / "hosts").write_text(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        )
        ssh_dir = self.rootfs / "root" / ".ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        shutil.copy(key.with_suffix(".pub"), ssh_dir / "authorized_keys")
        (ssh_dir / "authorized_keys").chmod(0o600)
        # A fresh machine id per node, made by systemd on first boot.
        (self.rootfs / "etc" / "machine-id").write_text("")

    def boot(self, key: Path, hosts: str) -> None:
        self._prepare_rootfs(key)
        with (self.rootfs / "etc" / "hosts").open("a") as handle:
            handle.write(hosts)
        attach_netns(self.netns, f"vh-{self.name}", self.address)
        log = (WORK / f"{self.name}.console.log").open("wb")
        self.process = subprocess.Popen(
            [
                "systemd-nspawn", "--boot", "--register=no", "--keep-unit", "--quiet",
                "-D", str(self.rootfs), "-M", self.name,
                f"--network-namespace-path=/run/netns/{self.netns}",
                # The node's own firewall (nftables) acts on its own namespace only.
                "--capability=CAP_NET_ADMIN",
            ],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def ssh(self, command: str, key: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=3",
             "-o", "LogLevel=ERROR", f"root@{self.address}", command],
            check=check, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    def wait_ssh(self, key: Path, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see var/deploy/{self.name}.console.log")
            if self.ssh("true", key).returncode == 0:
                return
            time.sleep(1)
        raise TimeoutError(f"{self.name}: no SSH after {timeout_s:.0f}s")

    def stop(self) -> None:
        """Ask the node to power off (nspawn asks the container's systemd); don't wait."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def shutdown(self) -> None:
        self.stop()
        if self.process is not None and self.process.poll() is None:
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        sh("ip", "netns", "del", self.netns, check=False)
        self.remove_rootfs()


@dataclass
class Cluster:
    """The booted nodes of a run: one control node, one GPU node, and the GPU nodes a test
    adds later (``add_gpu``). A test may replace the control node by a fresh machine at the
    same name and address (``replace_control``)."""

    key: Path
    control: Node
    gpu: Node
    added: list[Node] = field(default_factory=list)

    def __iter__(self) -> Iterator[Node]:
        return iter((self.control, self.gpu, *self.added))

    def add_gpu(self, node: Node) -> Node:
        """Boot another GPU node; every node's /etc/hosts learns its name, as DNS would."""
        self.added.append(node)
        node.boot(self.key, self.hosts())
        node.wait_ssh(self.key)
        for other in self:
            if other is not node:
                other.ssh(f"echo '{node.address} {node.name}' >> /etc/hosts", self.key, check=True)
        return node

    def hosts(self) -> str:
        return "".join(f"{n.address} {n.name}\n" for n in self)

    def boot(self) -> None:
        for node in self:
            node.boot(self.key, self.hosts())
        for node in self:
            node.wait_ssh(self.key)

    def replace_control(self) -> Node:
        """Power the control node off, throw its disk away, boot a new one from the base."""
        self.control.shutdown()
        self.control = Node(self.control.name, self.control.index)
        self.control.boot(self.key, self.hosts())
        self.control.wait_ssh(self.key)
        return self.control

    def shutdown(self) -> None:
        for node in self:
            node.stop()  # both power off at once
        for node in self:
            node.shutdown()


def write_inventory(
    path: Path, control: list[Node], gpu: list[Node], key: Path, extra: dict[str, object]
) -> Path:
    """A YAML inventory for the nodes, plus the vault (encrypted with a generated password)."""
    import yaml  # noqa: PLC0415

    write_hosts(path, control, gpu)
    group_vars = path / "group_vars" / "all"
    group_vars.mkdir(parents=True, exist_ok=True)
    settings = {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        "appliance_offline": False,
        "appliance_bundle_archive": "",
        "appliance_bundle_dir": "/opt/appliance-bundle/bundle",
        "appliance_public_hostname": "ai.test.internal",
        "appliance_node_address": "{{ ansible_host }}",
        "appliance_control_address": "{{ hostvars[groups['control'][0]].ansible_host }}",
        "appliance_artifacts_dir": str(path / "artifacts"),
        "appliance_min_memory_gb": 2,
        "appliance_min_disk_gb": 5,
        "vllm_gpus": "",
        **extra,
    }
    (group_vars / "main.yml").write_text(yaml.safe_dump(settings))
    return path


def write_hosts(path: Path, control: list[Node], gpu: list[Node]) -> None:
    """The inventory's hosts.yml: which nodes are control nodes and which run vLLM."""
    import yaml  # noqa: PLC0415

    def hosts(nodes: list[Node]) -> dict[str, object]:
        return {n.name: {"ansible_host": n.address} for n in nodes}

    path.mkdir(parents=True, exist_ok=True)
    inventory = {"all": {"children": {"control": {"hosts": hosts(control)},
                                      "vllm": {"hosts": hosts(gpu)}}}}  # fmt: skip
    (path / "hosts.yml").write_text(yaml.safe_dump(inventory))


def write_vault(
    inventory: Path, password_file: Path, extra: dict[str, str] | None = None
) -> dict[str, str]:
    import secrets  # noqa: PLC0415

    import yaml  # noqa: PLC0415

    if not password_file.exists():
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(secrets.token_hex(24) + "\n")
        password_file.chmod(0o600)
    names = ["postgresql_owner_password", "postgresql_gateway_password",
             "postgresql_keycloak_password", "keycloak_admin_password",
             "keycloak_webui_client_secret", "keycloak_accounts_client_secret",
             "vllm_api_key"]  # fmt: skip
    vault = inventory / "group_vars" / "all" / "vault.yml"
    values = {f"vault_{n}": secrets.token_hex(20) for n in names} | (extra or {})
    vault.write_text(yaml.safe_dump(values))
    ansible_vault = ROOT / ".venv" / "bin" / "ansible-vault"
    sh(str(ansible_vault), "encrypt", f"--vault-password-file={password_file}", str(vault))
    return values
