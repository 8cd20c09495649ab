"""An air-gapped controller installs from the bundle alone: the builder's controller step
(PyPI's files of the controller's locks, linked from where ``scripts/bootstrap.sh`` keeps
them, each checked by hash), then ``install-controller.sh`` into a scratch prefix with no
network (a network namespace of its own when run as root, and pip told never to reach an
index), after which the linked ``appliance`` and ``ansible-playbook`` run and the bundled
collection is listed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.provision.controller_bundle import INSTALLER, add_controller

REPO = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent
DOWNLOADED = REPO / "var" / "downloads" / "pypi"


def _offline(argv: list[str]) -> list[str]:
    """``argv`` in a new network namespace (only a down loopback) where one can be made."""
    if os.geteuid() == 0 and shutil.which("unshare"):
        return ["unshare", "--net", "--", *argv]
    return argv


def _collection(tmp_path: Path) -> Path:
    """A one-module collection tarball built offline, as a site's own collection would be."""
    src = tmp_path / "collection-src"
    (src / "plugins" / "modules").mkdir(parents=True)
    (src / "galaxy.yml").write_text(
        "namespace: appliance_test\nname: offline\nversion: 1.0.0\nreadme: README.md\n"
        "authors: [appliance]\n"
    )
    (src / "README.md").write_text("test collection\n")
    (src / "meta").mkdir()
    (src / "meta" / "runtime.yml").write_text("requires_ansible: '>=2.16'\n")
    out = tmp_path / "collections"
    subprocess.run(
        [str(VENV_BIN / "ansible-galaxy"), "collection", "build",
         "--output-path", str(out), str(src)],
        check=True, capture_output=True,
    )  # fmt: skip
    return next(out.glob("*.tar.gz"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("controller")
    bundle = tmp / "bundle"
    bundle.mkdir()
    found_in = [DOWNLOADED] if DOWNLOADED.is_dir() else []
    add_controller(bundle, REPO, [_collection(tmp)], lambda _: None, found_in)
    prefix, bin_dir = tmp / "opt" / "appliance-controller", tmp / "usr-local-bin"
    env = {
        "PATH": "/usr/bin:/bin", "HOME": str(tmp), "PIP_NO_INDEX": "1",
        "PIP_CONFIG_FILE": os.devnull, "LANG": "C.UTF-8",
    }  # fmt: skip
    result = subprocess.run(
        _offline(["bash", str(bundle / INSTALLER),
                  "--prefix", str(prefix), "--bin-dir", str(bin_dir)]),
        env=env, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return bundle, prefix, bin_dir


def test_linked_commands_run(installed: tuple[Path, Path, Path]) -> None:
    _, prefix, bin_dir = installed
    for name in ("appliance", "ansible-playbook", "ansible-vault"):
        assert (bin_dir / name).resolve() == (prefix / "bin" / name).resolve()
    help_text = subprocess.run(
        _offline([str(bin_dir / "appliance"), "--help"]),
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "bundle" in help_text and "deploy" in help_text
    version = subprocess.run(
        _offline([str(bin_dir / "ansible-playbook"), "--version"]),
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "ansible-playbook [core 2." in version
    assert str(prefix) in version


def test_bundled_collection_is_listed(installed: tuple[Path, Path, Path]) -> None:
    _, prefix, _ = installed
    listing = subprocess.run(
        [str(prefix / "bin" / "ansible-galaxy"), "collection", "list"],
        capture_output=True, text=True, check=True,
        env={"HOME": str(prefix), "PATH": "/usr/bin:/bin"},
    ).stdout  # fmt: skip
    assert "appliance_test.offline" in listing
    assert "1.0.0" in listing


def test_a_wheel_swapped_after_the_build_is_refused(
    installed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    bundle, _, _ = installed
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    wheel = next((copy / "controller" / "wheels").glob("ansible_runner-*.whl"))
    with wheel.open("ab") as handle:
        handle.write(b"\0")
    result = subprocess.run(
        _offline(["bash", str(copy / INSTALLER), "--prefix", str(tmp_path / "p"),
                  "--bin-dir", str(tmp_path / "b")]),
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PIP_CONFIG_FILE": os.devnull},
        capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert result.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in result.stderr
    assert not (tmp_path / "b" / "appliance").exists()


def test_the_installed_controller_builds_the_appliance_wheel_offline(
    installed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """The gateway role's build, as it runs on the controller: the build backend of
    requirements/build.txt came with the bundle, so nothing is fetched."""
    _, prefix, _ = installed
    pins = {
        line.split("==")[0]: line.split("==")[1].split()[0]
        for line in (REPO / "requirements" / "build.txt").read_text().splitlines()
        if "==" in line
    }
    freeze = subprocess.run(
        [str(prefix / "bin" / "python"), "-m", "pip", "freeze", "--all"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    for name in ("setuptools", "wheel"):
        assert f"{name}=={pins[name]}" in freeze
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".*", "var", "build", "*.egg-info"))
    built = tmp_path / "wheels"
    result = subprocess.run(
        _offline([str(prefix / "bin" / "python"), "-m", "pip", "wheel", "--no-deps",
                  "--no-build-isolation", "--no-index", "--wheel-dir", str(built), str(source)]),
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PIP_CONFIG_FILE": os.devnull},
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert [wheel.name.split("-")[0] for wheel in built.glob("*.whl")] == ["appliance"]
