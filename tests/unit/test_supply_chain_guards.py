"""What the appliance installs is always checked: apt never trusts an unsigned repository,
every pip install of the local runtime names a hash-pinned lock (or installs the checkout
itself, without dependencies), and every pip install of the roles, online and offline,
requires hashes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
UNSIGNED = re.compile(
    r"trusted\s*=\s*yes|allow[-_]unauthenticated|AllowInsecureRepositories|allow[-_]insecure",
    re.IGNORECASE,
)


def _texts(*tops: str) -> list[tuple[Path, str]]:
    found = []
    for top in tops:
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and path.suffix in {".yml", ".yaml", ".j2", ".sh", ".cfg", ""}:
                found.append((path, path.read_text(errors="replace")))
    return found


def test_no_apt_source_or_install_skips_signatures() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path, text in _texts("playbooks", "inventory", "scripts")
        for match in UNSIGNED.finditer(text)
    ]
    assert offenders == []


def test_bootstrap_pip_installs_require_hashes() -> None:
    """Every pip install and download of the bootstrap (continued lines joined) is pinned by
    hash, bar the checkout's own editable install."""
    lines = (ROOT / "scripts" / "bootstrap.sh").read_text().replace("\\\n", " ").splitlines()
    installs = [line.strip() for line in lines if re.search(r"pip\"? (install|download)\b", line)]
    assert len(installs) >= 5
    for line in installs:
        pinned = "--require-hashes" in line and "requirements/" in line
        checkout = '--no-deps --no-build-isolation -e "$ROOT"' in line
        assert pinned or checkout, line


def _tasks(node: object) -> Iterator[dict[str, Any]]:
    """Every task of a task file or playbook, blocks and plays opened."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        nested = [node[key] for key in ("tasks", "pre_tasks", "post_tasks", "handlers",
                                        "block", "rescue", "always") if key in node]  # fmt: skip
        if nested:
            for child in nested:
                yield from _tasks(child)
        else:
            yield node


def _pip_installs() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((ROOT / "playbooks").rglob("*.yml")):
        for task in _tasks(yaml.safe_load(path.read_text())):
            assert not {"pip", "ansible.builtin.pip"} & set(task), f"{path}: pip module"
            for module in ("ansible.builtin.command", "ansible.builtin.shell", "command", "shell"):
                args = task.get(module)
                text = yaml.safe_dump(args)
                if args is not None and re.search(r"\bpip\b", text) and "install" in text:
                    found.append((f"{path.relative_to(ROOT)}: {task.get('name')}", args))
    return found


def test_every_pip_install_of_the_roles_requires_hashes() -> None:
    """Online and offline, every pip install on a node takes a requirements file whose every
    line is pinned by SHA-256: the bundle's own (--no-index), or a lock from requirements/."""
    installs = _pip_installs()
    assert len(installs) >= 4, installs
    for where, args in installs:
        assert isinstance(args, dict) and isinstance(args.get("argv"), list), where
        argv = [str(item) for item in args["argv"]]
        assert argv[1] == "install" and "--require-hashes" in argv, where
        requirements = [item for item in argv if item.startswith("--requirement=")]
        assert len(requirements) == 1, where
        assert [item for item in argv[2:] if not item.startswith("-")] == [], where


def _pip_builds_of_the_roles() -> list[tuple[str, list[str]]]:
    found = []
    for path in sorted((ROOT / "playbooks").rglob("*.yml")):
        for task in _tasks(yaml.safe_load(path.read_text())):
            for module in ("ansible.builtin.command", "ansible.builtin.shell", "command", "shell"):
                args = task.get(module)
                text = yaml.safe_dump(args)
                if args is not None and re.search(r"\bpip\b", text) and "install" not in text:
                    assert isinstance(args, dict) and isinstance(args.get("argv"), list), path
                    found.append((f"{path.relative_to(ROOT)}: {task.get('name')}", args["argv"]))
    return [(where, [str(item) for item in argv]) for where, argv in found]


def test_every_pip_build_of_the_roles_fetches_nothing() -> None:
    """The controller builds the appliance wheel with the build backend it already has
    (requirements/build.txt, by hash), never one an isolated build fetches from an index."""
    builds = _pip_builds_of_the_roles()
    assert [where for where, argv in builds if "wheel" in argv], builds
    for where, argv in builds:
        verb = argv[argv.index("pip") + 1]
        assert verb == "wheel", where
        assert {"--no-build-isolation", "--no-index", "--no-deps"} <= set(argv), where


PIP_CALL = re.compile(r'"pip",\s*"(wheel|download)",(?P<args>[^\]]*)\]', re.DOTALL)


def test_every_pip_build_of_the_provisioning_code_is_isolated_from_the_index() -> None:
    """A wheel the bundle builds never comes from a build backend pip fetched: each
    ``pip wheel``/``pip download`` runs without build isolation; the appliance wheel, from
    the local tree, also without an index."""
    calls = [
        (path.relative_to(ROOT), match.group(1), match.group("args"))
        for path in sorted((ROOT / "appliance").rglob("*.py"))
        for match in PIP_CALL.finditer(path.read_text())
    ]
    assert len(calls) >= 3, calls
    for where, verb, args in calls:
        assert '"--no-build-isolation"' in args, (where, verb)
        if "source" in args:
            assert '"--no-index"' in args and '"--no-deps"' in args, (where, verb)
