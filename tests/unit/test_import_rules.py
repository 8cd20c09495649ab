"""The import rule of ARCHITECTURE.md, enforced: which package may import which.

Every ``import`` and ``from ... import`` in ``appliance/``, ``webui/``, ``tests/`` and
``bench/`` is read with :mod:`ast` (type-checking imports included: a layer that needs
another's types for its signatures depends on it). Each module belongs to the longest
*unit* in ``ALLOWED`` that contains it; an import is allowed when both ends are in the same
unit, or the target's unit is one the source's unit may import. A new package must be given
its row here, which is the point: where it sits in the layering is a decision, written down.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The shared foundation every layer may use.
_BASE = frozenset({"appliance", "appliance.errors", "appliance.settings", "appliance.labels"})
_DATA = _BASE | {"appliance.db"}
_DOMAIN = _DATA | {
    "appliance.auth",
    "appliance.audit",
    "appliance.rag",
    "appliance.rag.config",
    "appliance.conversations",
    "appliance.content",
    "appliance.complaints",
    "appliance.assess",
    "appliance.apikeys",
}

# Inside the gateway: edge, replicas and quota at the bottom; state and deps above them;
# one package per concern above those (chat may use knowledge's access checks); app on top.
_GATEWAY_BOTTOM = frozenset(
    {"appliance.gateway.edge", "appliance.gateway.replicas", "appliance.gateway.quota"}
)
_GATEWAY_WIRING = _GATEWAY_BOTTOM | {"appliance.gateway.state", "appliance.gateway.deps"}
_GATEWAY_CONCERNS = frozenset(
    {
        "appliance.gateway.chat",
        "appliance.gateway.knowledge",
        "appliance.gateway.conversations",
        "appliance.gateway.admin",
        "appliance.gateway.auditor",
        "appliance.gateway.content",
        "appliance.gateway.complaints",
        "appliance.gateway.assessment",
        "appliance.gateway.compliance",
        "appliance.gateway.health",
        "appliance.gateway.me",
        "appliance.gateway.keys",
    }
)
_GATEWAY_ALL = _GATEWAY_CONCERNS | _GATEWAY_WIRING | {"appliance.gateway", "appliance.gateway.app"}

ALLOWED: dict[str, frozenset[str]] = {
    "appliance": frozenset(),
    "appliance.errors": frozenset(),
    # settings embeds rag.config's plain settings models, and nothing else above it.
    "appliance.settings": frozenset({"appliance", "appliance.errors", "appliance.rag.config"}),
    "appliance.rag.config": frozenset(),
    # GB 45438 labels: bytes in, bytes out; every layer that writes a file may use them.
    "appliance.labels": frozenset(),
    "appliance.db": _BASE,
    # Alembic must see every table, so the migrations import every package's models.
    "appliance.db.migrations": _DOMAIN,
    "appliance.auth": _BASE,
    "appliance.audit": _DATA,
    "appliance.rag": _DATA | {"appliance.auth", "appliance.rag.config"},
    # Each user's saved conversations: tables and queries; the gateway serves them.
    "appliance.conversations": _DATA,
    "appliance.sizing": _BASE,
    # The keyword library and content filter: pure code over layers 1-3, and its storage.
    "appliance.content": _DATA | {"appliance.auth", "appliance.audit"},
    # Complaints about answers: their table and queries; a message is found through the
    # conversation tables, whose owner says whose it is.
    "appliance.complaints": _DATA | {"appliance.conversations"},
    # The GB/T 45654 assessment: banks, refusal classifier, report and its table, on content.
    "appliance.assess": _DATA | {"appliance.auth", "appliance.audit", "appliance.content"},
    # Keycloak accounts: the gateway's admin routes call it, the CLI reads CSV with it.
    "appliance.identity": _BASE | {"appliance.auth"},
    "appliance.provision": _BASE | {"appliance.sizing"},
    # Personal API keys: their table, hash and limits; a key stands for a Principal.
    "appliance.apikeys": _DATA | {"appliance.auth"},
    "appliance.gateway": _DOMAIN | _GATEWAY_ALL,
    "appliance.gateway.app": _DOMAIN | _GATEWAY_ALL,
    "appliance.gateway.chat": _DOMAIN | _GATEWAY_WIRING | {"appliance.gateway.knowledge"},
    "appliance.gateway.knowledge": _DOMAIN | _GATEWAY_WIRING,
    "appliance.gateway.conversations": _DOMAIN | _GATEWAY_WIRING,
    "appliance.gateway.admin": _DOMAIN | _GATEWAY_WIRING | {"appliance.identity"},
    "appliance.gateway.auditor": _DOMAIN | _GATEWAY_WIRING,
    # The secadmin's keyword library (三员分立: neither the sysadmin's admin nor the auditor's).
    "appliance.gateway.content": _DOMAIN | _GATEWAY_WIRING,
    # Complaints: filed by staff on their own answers, handled by the secadmin.
    "appliance.gateway.complaints": _DOMAIN | _GATEWAY_WIRING,
    # The assessment reports: handed in by its service account or the secadmin.
    "appliance.gateway.assessment": _DOMAIN | _GATEWAY_WIRING,
    # The 等保 compliance export: reads Keycloak's accounts as admin does.
    "appliance.gateway.compliance": _DOMAIN | _GATEWAY_WIRING | {"appliance.identity"},
    "appliance.gateway.health": _DOMAIN | _GATEWAY_WIRING,
    # Personal API keys: re-reads a key owner's Keycloak account as admin does.
    "appliance.gateway.keys": _DOMAIN | _GATEWAY_WIRING | {"appliance.identity"},
    "appliance.gateway.me": _DOMAIN | _GATEWAY_WIRING,
    "appliance.gateway.deps": _DOMAIN | _GATEWAY_BOTTOM | {"appliance.gateway.state"},
    "appliance.gateway.state": _DOMAIN | _GATEWAY_BOTTOM,
    "appliance.gateway.edge": _DOMAIN,
    "appliance.gateway.replicas": _DOMAIN,
    "appliance.gateway.quota": _DOMAIN,
    # The local stack starts the gateway and the web UI as processes, never imports them.
    "appliance.runtime": _DOMAIN | {"appliance.sizing"},
    "appliance.cli": _DOMAIN
    | {"appliance.sizing", "appliance.provision", "appliance.runtime", "appliance.identity"},
    # The web UI reaches everything else through the gateway's HTTP API.
    "webui": frozenset({"appliance.audit"}),
    # Tests and benchmarks may use the product; suites share helpers only through tests.support.
    "tests": frozenset({"appliance", "webui", "tests.support"}),
    "tests.support": frozenset({"appliance", "webui"}),
    "bench": frozenset({"appliance", "webui", "tests.support"}),
}
# Test suites: each may import the product, the shared helpers and nothing of another suite.
for _suite in ("tests.unit", "tests.integration", "tests.e2e", "tests.chaos", "tests.deploy"):
    ALLOWED[_suite] = frozenset({"appliance", "webui", "tests.support"})

FIRST_PARTY = ("appliance", "webui", "tests", "bench")
# Packages whose every subpackage is allowed by its parent's row (the product's code).
PRODUCT = ("appliance", "webui")


def unit_of(module: str) -> str | None:
    """The longest unit in ALLOWED that holds ``module`` (None for a third-party module)."""
    parts = module.split(".")
    if parts[0] not in FIRST_PARTY:
        return None
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in ALLOWED:
            return candidate
    return None


def may_import(source_unit: str, target_unit: str) -> bool:
    if source_unit == target_unit:
        return True
    allowed = ALLOWED[source_unit]
    if source_unit.startswith(PRODUCT) and target_unit.startswith(PRODUCT):
        return target_unit in allowed
    # Outside the product, a row names packages with all they contain.
    return any(target_unit == a or target_unit.startswith(a + ".") for a in allowed)


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(REPO).with_suffix("").parts)
    return name.removesuffix(".__init__")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every first-party import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # ``from pkg import sub`` imports pkg.sub when sub is a module.
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                if (REPO / Path(*candidate.split("."))).with_suffix(".py").exists() or (
                    REPO / Path(*candidate.split("."))
                ).is_dir():
                    found.append((node.lineno, candidate))
                else:
                    found.append((node.lineno, target))
    return [(line, name) for line, name in found if name.split(".")[0] in FIRST_PARTY]


def python_files() -> list[Path]:
    files: list[Path] = []
    for top in FIRST_PARTY:
        root = REPO / top
        if root.is_dir():
            files.extend(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    return sorted(files)


def violations() -> list[str]:
    found: list[str] = []
    for path in python_files():
        source = module_name(path)
        source_unit = unit_of(source)
        if source_unit is None:
            found.append(f"{path.relative_to(REPO)}: no row in ALLOWED for {source}")
            continue
        for line, target in imported_modules(path):
            target_unit = unit_of(target)
            if target_unit is None:
                found.append(f"{path.relative_to(REPO)}:{line}: {target} has no row in ALLOWED")
            elif not may_import(source_unit, target_unit):
                found.append(
                    f"{path.relative_to(REPO)}:{line}: {source_unit} may not import {target}"
                )
    return found


def test_every_import_follows_the_layering() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ("appliance.gateway.edge.errors", "appliance.gateway.chat.serving", False),
        ("appliance.gateway.chat.serving", "appliance.gateway.edge.body", True),
        ("appliance.audit.writer", "appliance.gateway.app", False),
        ("appliance.db.session", "appliance.audit.models", False),
        ("appliance.db.migrations.env", "appliance.audit.models", True),
        ("appliance.settings", "appliance.rag.config", True),
        ("appliance.settings", "appliance.rag.retrieve", False),
        ("webui.ui_chat", "appliance.gateway.chat.sse", False),
        ("tests.chaos.test_faults_backend", "tests.integration.gateway.conftest", False),
        ("tests.chaos.test_faults_backend", "tests.support.processes", True),
        ("bench.reliability.report", "tests.chaos.test_load_gateway", False),
        ("appliance.content.keywords", "appliance.errors", True),
        ("appliance.content.stream", "appliance.rag.retrieve", False),
        ("appliance.content.keywords", "appliance.gateway.chat.sse", False),
    ],
)
def test_the_rule_refuses_what_the_layering_forbids(
    source: str, target: str, allowed: bool
) -> None:
    source_unit, target_unit = unit_of(source), unit_of(target)
    assert source_unit is not None and target_unit is not None
    assert may_import(source_unit, target_unit) is allowed
