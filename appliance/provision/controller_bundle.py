"""The controller's part of the offline bundle, and the hash-pinned requirements of its wheels.

An air-gapped site has no machine with the appliance CLI on it until the bundle installs one.
The builder adds::

    controller/wheels/          ansible-core, ansible-runner, the build backend (setuptools,
                                wheel) and what they need beyond wheels/
    controller/collections/     Ansible collection tarballs (the playbooks use only
                                ansible.builtin today, so usually empty)
    controller/requirements.txt every wheel the controller installs, with its SHA-256
    install-controller.sh       creates the venv and the /usr/local/bin links, no network

Every ``*requirements.txt`` a bundle carries pins each wheel to the SHA-256 of the file in
the bundle (``hashed_requirements``), so ``pip install --require-hashes`` refuses a wheel
that was swapped or added after the build, whatever the manifest check before it missed.
The wheels are repacked from this interpreter's environment like ``wheels/`` (no download);
the hashes are the bundle's own files', not PyPI's.
"""

from __future__ import annotations

import importlib.resources
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from importlib.metadata import distributions
from pathlib import Path

from appliance.errors import InvalidRequest
from appliance.provision.repack import file_sha256, normalize_name, repack_environment

INSTALLER = "install-controller.sh"
CONTROLLER = "controller"
# The controller's own tools; the appliance's dependencies come with the appliance wheel.
CONTROLLER_ROOTS = ("ansible-core", "ansible-runner")
# The build backend of requirements/build.txt, so the controller builds the appliance wheel
# for an online install without build isolation, from wheels pinned by hash.
BUILD_ROOTS = ("setuptools", "wheel")

Echo = Callable[[str], None]


def hashed_requirements(wheel_dirs: Iterable[Path]) -> list[str]:
    """``name==version --hash=sha256:…`` for every wheel in ``wheel_dirs``, sorted by name."""
    lines = []
    for directory in wheel_dirs:
        for wheel in sorted(directory.glob("*.whl")):
            name, version = wheel.name.split("-")[:2]
            lines.append(f"{normalize_name(name)}=={version} --hash=sha256:{file_sha256(wheel)}")
    return sorted(lines)


def write_hashed_requirements(wheel_dirs: Iterable[Path], target: Path) -> int:
    """Write ``target`` from ``hashed_requirements``; returns how many wheels it pins."""
    lines = hashed_requirements(wheel_dirs)
    target.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return len(lines)


def _site_packages(prefix: Path) -> Path:
    found = sorted(prefix.glob("lib/python3*/site-packages"))
    if not found:
        raise InvalidRequest(f"{prefix} has no lib/python3*/site-packages")
    return found[0]


def _appliance_wheel(source: Path, target: Path) -> None:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(target), str(source)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise InvalidRequest(f"pip wheel {source} failed: {result.stderr.strip()[-800:]}")


def add_controller(
    root: Path, source: Path, collections: Iterable[Path], echo: Echo, prefix: Path | None = None
) -> int:
    """Add the controller's wheels, collections, requirements and installer to ``root``.

    Wheels already in ``root/wheels`` (the appliance and its dependencies, when the bundle
    carries them) are not repeated; the requirements file pins both directories' wheels.
    ``prefix`` is the environment to repack from (this interpreter's by default). Returns
    how many wheels the controller installs.
    """
    site_packages = _site_packages(prefix or Path(sys.prefix))
    present = {normalize_name(d.metadata["Name"]) for d in distributions(path=[str(site_packages)])}
    if missing := [name for name in CONTROLLER_ROOTS if name not in present]:
        raise InvalidRequest(
            f"{', '.join(missing)} not installed in {site_packages}: install the appliance "
            "with its admin extra (requirements/controller.txt) before building a bundle"
        )
    if missing := [name for name in BUILD_ROOTS if name not in present]:
        raise InvalidRequest(
            f"{', '.join(missing)} not installed in {site_packages}: install the build backend "
            "by hash (pip install --require-hashes -r requirements/build.txt) before building "
            "a bundle"
        )
    shared, target = root / "wheels", root / CONTROLLER / "wheels"
    target.mkdir(parents=True, exist_ok=True)
    echo(f"controller: appliance from {source}, ansible from {site_packages}")
    if not any(shared.glob("appliance-*.whl")):
        _appliance_wheel(source, target)
    repack_environment(site_packages, target, ["appliance", *CONTROLLER_ROOTS, *BUILD_ROOTS])
    for wheel in target.glob("*.whl"):
        if (shared / wheel.name).exists():
            wheel.unlink()
    (root / CONTROLLER / "collections").mkdir(exist_ok=True)
    for tarball in collections:
        shutil.copy2(tarball, root / CONTROLLER / "collections" / tarball.name)
    count = write_hashed_requirements(
        [d for d in (shared, target) if d.is_dir()], root / CONTROLLER / "requirements.txt"
    )
    script = importlib.resources.files("appliance.provision").joinpath(INSTALLER)
    (root / INSTALLER).write_text(script.read_text(encoding="utf-8"), encoding="utf-8")
    (root / INSTALLER).chmod(0o755)
    echo(f"controller: {count} wheels, installer {INSTALLER}")
    return count
