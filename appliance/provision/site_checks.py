"""The site's own checks, on the controller, before any node is touched.

``appliance preflight``, ``deploy``, ``upgrade`` and ``add-gpu-node`` run these first: a
vault still holding the example's placeholders, a weak password, a node name the controller
cannot resolve, or a ``vllm_model_key`` that is not the model in the bundle would otherwise
be found half-way through a run (or not at all: placeholder passwords install fine and
break chat). Every problem is one line naming the variable and the fix, and all of them are
reported at once, like the node checks of the preflight role.

Password rule: at least 16 characters, and one shorter than 24 must mix two kinds of
character (lower case, upper case, digits, others). ``openssl rand -hex 24`` (48 characters)
passes; so does any 24-character string.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from appliance.errors import InvalidRequest
from appliance.provision.bundle_model import BundleContents, read_contents
from appliance.provision.inventory_vars import Site, load_site
from appliance.sizing.catalog import model

# The secrets the roles need, with what each one is for (vault.yml.example's order).
SECRETS = (
    "vault_postgresql_owner_password",
    "vault_postgresql_gateway_password",
    "vault_postgresql_keycloak_password",
    "vault_keycloak_admin_password",
    "vault_keycloak_webui_client_secret",
    "vault_keycloak_accounts_client_secret",
    "vault_vllm_api_key",
)
# Generated like those, but a site installed before it existed may lack it (its API keys
# answer 503 until it is set): checked only when present.
OPTIONAL_SECRETS = ("vault_api_keys_pepper",)
# Set by the site's directory administrator, not generated: checked for placeholders only.
LDAP_SECRET = "vault_keycloak_ldap_bind_password"  # noqa: S105 - a variable name
MIN_LENGTH = 16
MIXED_BELOW = 24
# Words that mean "fill me in"; compared without case, "-" and "_".
_PLACEHOLDER_WORDS = frozenset({"changeme", "password", "secret", "todo", "xxx", "none"})
_CLASSES = (
    ("lower case", re.compile(r"[a-z]")),
    ("upper case", re.compile(r"[A-Z]")),
    ("digits", re.compile(r"[0-9]")),
    ("other characters", re.compile(r"[^a-zA-Z0-9]")),
)
_FIX = "put the output of `openssl rand -hex 24` in group_vars/all/vault.yml"
# Variables the checks read (the inventory loader renders only these).
NAMES = (
    *SECRETS,
    *OPTIONAL_SECRETS,
    LDAP_SECRET,
    "ansible_host",
    "keycloak_ldap_enabled",
    "appliance_offline",
    "appliance_bundle_archive",
    "appliance_bundle_public_key",
    "vllm_gpus",
    "vllm_model_key",
    "vllm_model_name",
    "vllm_quantization",
)

Resolver = Callable[[str], object]


def _resolve(name: str) -> object:
    return socket.getaddrinfo(name, None)


def is_placeholder(value: str) -> bool:
    """The example's ``<...>`` text, ``changeme``/``CHANGE_ME`` and the like."""
    text = value.strip()
    folded = re.sub(r"[-_\s]", "", text.lower())
    return (text.startswith("<") and text.endswith(">")) or folded in _PLACEHOLDER_WORDS


def weakness(value: str) -> str | None:
    """Why a generated secret is too weak, or None (the rule is in the module docstring)."""
    if len(value) < MIN_LENGTH:
        return f"has {len(value)} characters, needs at least {MIN_LENGTH}"
    kinds = [name for name, pattern in _CLASSES if pattern.search(value)]
    if len(value) < MIXED_BELOW and len(kinds) < 2:
        return (
            f"has {len(value)} characters of {kinds[0]} only; "
            f"mix two kinds of character or use at least {MIXED_BELOW}"
        )
    return None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "yes", "1", "on"}
    return bool(value)


def secret_problems(hostvars: dict[str, Any]) -> list[str]:
    """Missing, empty, placeholder and weak secrets, one line each."""
    problems = []
    for name in (*SECRETS, *OPTIONAL_SECRETS):
        if name not in hostvars:
            if name in SECRETS:
                problems.append(
                    f"{name} is not set - copy group_vars/all/vault.yml.example to vault.yml, "
                    f"{_FIX}, and encrypt it with ansible-vault"
                )
            continue
        value = str(hostvars[name] or "")
        if not value.strip():
            problems.append(f"{name} is empty - {_FIX}")
        elif is_placeholder(value):
            problems.append(f"{name} still holds the placeholder {value.strip()!r} - {_FIX}")
        elif reason := weakness(value):
            problems.append(f"{name} is too weak ({reason}) - {_FIX}")
    if _truthy(hostvars.get("keycloak_ldap_enabled", False)):
        value = str(hostvars.get(LDAP_SECRET) or "")
        if not value.strip() or is_placeholder(value):
            problems.append(
                f"{LDAP_SECRET} is empty or a placeholder while keycloak_ldap_enabled is true "
                "- put the directory's bind password in group_vars/all/vault.yml"
            )
    return problems


def resolve_problems(site: Site, resolve: Resolver = _resolve) -> list[str]:
    """Every node's ``ansible_host`` (or name) must resolve here: Ansible connects to it."""
    problems = []
    for host, hostvars in site.hosts.items():
        address = str(hostvars.get("ansible_host") or host)
        try:
            resolve(address)
        except (OSError, UnicodeError):
            via = f" (ansible_host {address})" if address != host else ""
            problems.append(
                f"cannot resolve {host}{via} from the controller - add it to DNS or "
                f"/etc/hosts, or set ansible_host to its address in hosts.yml"
            )
    return problems


def bundle_problems(hostvars: dict[str, Any]) -> tuple[list[str], BundleContents | None]:
    """The offline bundle and its public key must exist on the controller, the bundle
    readable as one (the nodes check its signature and files before installing)."""
    if not _truthy(hostvars.get("appliance_offline", False)):
        return [], None
    archive = str(hostvars.get("appliance_bundle_archive") or "")
    if not archive:
        return [
            "appliance_offline is true but appliance_bundle_archive is empty - build a bundle "
            "with `appliance bundle build` and set its path in group_vars/all/main.yml"
        ], None
    public_key = str(hostvars.get("appliance_bundle_public_key") or "")
    if not public_key or not Path(public_key).expanduser().is_file():
        return [
            f"appliance_bundle_public_key {public_key or '(empty)'} is not a file on the "
            "controller - set it to the bundle-signing .pub that came with the bundle; each "
            "node checks the bundle against it before installing"
        ], None
    path = Path(archive).expanduser()
    if not path.exists():
        return [
            f"appliance_bundle_archive {archive} does not exist on the controller - "
            "copy the bundle there or correct the path"
        ], None
    try:
        return [], read_contents(path)
    except (OSError, ValueError) as exc:
        return [
            f"appliance_bundle_archive {archive} is not a readable bundle ({exc}) - "
            "check it with `appliance bundle verify`"
        ], None


def model_problems(hostvars: dict[str, Any], bundle: BundleContents) -> list[str]:
    """``vllm_model_name`` must be in the bundle; ``vllm_model_key`` must be its model."""
    name = str(hostvars.get("vllm_model_name") or "model")
    if name not in bundle.models:
        held = ", ".join(bundle.models) or "no model"
        return [
            f"vllm_model_name {name!r} is not in the bundle (it holds {held}) - "
            "set vllm_model_name to the bundle's model directory"
        ]
    shipped = bundle.models[name]
    if shipped.arch is None:
        return []  # a model outside the catalogue: the planner is not asked about it
    key = str(hostvars.get("vllm_model_key") or "").strip()
    gpus = str(hostvars.get("vllm_gpus") or "").strip()
    problems = []
    if key:
        try:
            wanted = model(key)
        except InvalidRequest as exc:
            return [f"vllm_model_key: {exc.message} - set vllm_model_key: {shipped.arch.key}"]
        if wanted.key != shipped.arch.key:
            problems.append(
                f"vllm_model_key {key!r} ({wanted.name}) is not the bundle's model "
                f"{shipped.describe()} - set vllm_model_key: {shipped.arch.key}"
            )
    elif gpus:
        problems.append(
            f"vllm_model_key is empty, so the planner would choose a model for {gpus} "
            f"instead of the bundle's {shipped.describe()} - set vllm_model_key: "
            f"{shipped.arch.key}"
        )
    quant = str(hostvars.get("vllm_quantization") or "").strip().lower()
    if quant and quant != shipped.quantization.value:
        problems.append(
            f"vllm_quantization {quant!r} is not the bundle's weight format "
            f"({shipped.quantization.value}) - set vllm_quantization: "
            f"{shipped.quantization.value} or leave it empty"
        )
    return problems


def _unique(lines: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(lines))


def check_site(site: Site, resolve: Resolver = _resolve) -> list[str]:
    """Every controller-side problem of the site, each once; empty when it may proceed."""
    problems: list[str] = []
    control = site.members("control")
    for host in control or list(site.hosts):
        problems += secret_problems(site.hosts[host])
    problems += resolve_problems(site, resolve)
    bundles: dict[str, BundleContents | None] = {}
    by_model_problem: dict[str, list[str]] = {}
    for host in sorted(site.hosts):
        hostvars = site.hosts[host]
        archive = str(hostvars.get("appliance_bundle_archive") or "")
        if archive not in bundles:
            found, bundles[archive] = bundle_problems(hostvars)
            problems += found
        contents = bundles[archive]
        if contents is not None and host in site.members("vllm"):
            for line in model_problems(hostvars, contents):
                by_model_problem.setdefault(line, []).append(host)
    problems += [f"{', '.join(hosts)}: {line}" for line, hosts in by_model_problem.items()]
    return _unique(problems)


def check_inventory(
    inventory: Path,
    vault_password_file: Path | None = None,
    extravars: Mapping[str, Any] | None = None,
    resolve: Resolver = _resolve,
) -> list[str]:
    """Load the inventory as Ansible will (vault decrypted, ``-e`` on top) and check it."""
    return check_site(load_site(inventory, vault_password_file, extravars, names=NAMES), resolve)
