"""The controller's part of the offline bundle, and the hash-pinned requirements of its wheels.

An air-gapped site has no machine with the appliance CLI on it until the bundle installs one.
The builder adds::

    controller/wheels/          ansible-core, ansible-runner, the build backend (setuptools,
                                wheel) and what they need beyond wheels/: PyPI's own files
                                for each pin of requirements/controller.txt and build.txt
    controller/collections/     Ansible collection tarballs (the playbooks use only
                                ansible.builtin today, so usually empty)
    controller/requirements.txt every wheel the controller installs, with its SHA-256
    install-controller.sh       creates the venv and the /usr/local/bin links, no network

Every ``*requirements.txt`` a bundle carries pins each wheel to the SHA-256 of the file in
the bundle (``hashed_requirements``), so ``pip install --require-hashes`` refuses a wheel
that was swapped or added after the build, whatever the manifest check before it missed.
Those hashes are the reviewed locks' own (``locked_wheels`` takes no file the lock does not
name), except the appliance wheel, built from the tree, and a wheel built from a locked
source archive.
"""

from __future__ import annotations

import importlib.resources
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from appliance.errors import InvalidRequest
from appliance.provision import locked_wheels
from appliance.provision.locked_wheels import Pin
from appliance.provision.repack import file_sha256, normalize_name

INSTALLER = "install-controller.sh"
CONTROLLER = "controller"
# Relative to the source tree: the appliance with its admin extra (ansible-core,
# ansible-runner), and the build backend (setuptools, wheel), so the controller builds the
# appliance wheel for an online install without build isolation, from wheels pinned by hash.
CONTROLLER_LOCKS = (Path("requirements") / "controller.txt", Path("requirements") / "build.txt")

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


def _controller_pins(source: Path) -> list[Pin]:
    """The pins of ``CONTROLLER_LOCKS``, once each; two locks that pin one distribution at
    different versions are refused (the controller's venv would hold only one)."""
    pins: dict[str, Pin] = {}
    for lock in CONTROLLER_LOCKS:
        for pin in locked_wheels.read_lock(source / lock):
            known = pins.setdefault(pin.name, pin)
            if known.version != pin.version:
                raise InvalidRequest(
                    f"{pin.name}: {known.version} in one controller lock, {pin.version} in "
                    f"{lock}; recompile the locks (requirements/compile.sh)"
                )
    return list(pins.values())


def _wheel_pins(directory: Path) -> set[tuple[str, str]]:
    """``(name, version)`` of every wheel in ``directory``."""
    found = set()
    for wheel in directory.glob("*.whl"):
        name, version = wheel.name.split("-")[:2]
        found.add((normalize_name(name), version))
    return found


def _appliance_wheel(source: Path, target: Path) -> None:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(target), str(source)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise InvalidRequest(f"pip wheel {source} failed: {result.stderr.strip()[-800:]}")


def add_controller(
    root: Path,
    source: Path,
    collections: Iterable[Path],
    echo: Echo,
    found_in: Sequence[Path] = (),
) -> int:
    """Add the controller's wheels, collections, requirements and installer to ``root``.

    Pins that ``root/wheels`` already holds at the same version (the appliance's runtime
    dependencies, when the bundle carries them) are not repeated; the requirements file
    pins both directories' wheels. The others are PyPI's files of the source tree's
    ``CONTROLLER_LOCKS``, taken from ``found_in`` where their SHA-256 is locked, else
    downloaded. Returns how many wheels the controller installs.
    """
    shared, target = root / "wheels", root / CONTROLLER / "wheels"
    target.mkdir(parents=True, exist_ok=True)
    present = _wheel_pins(shared) if shared.is_dir() else set()
    pins = [pin for pin in _controller_pins(source) if (pin.name, pin.version) not in present]
    echo(f"controller: appliance from {source}, {len(pins)} pins of {source / 'requirements'}")
    locked_wheels.collect_pins(pins, target, found_in)
    for built in locked_wheels.wheels_from_sdists(target):
        echo(f"controller: {built} built from its locked source archive")
    if not any(shared.glob("appliance-*.whl")):
        _appliance_wheel(source, target)
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
