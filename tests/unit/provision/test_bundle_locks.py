"""A bundle's wheels/ and controller/wheels/ are exactly the files of the source tree's
reviewed locks (runtime.txt; controller.txt and build.txt), matched by SHA-256, plus the
appliance wheel built from that tree; other bytes or an unhashed pin are refused."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from appliance.audit.checkpoint import generate_key
from appliance.errors import InvalidRequest
from appliance.provision.bundle import BundleSpec, build, verify
from appliance.provision.locked_wheels import read_lock

ROOT = Path(__file__).resolve().parents[3]
PYPROJECT = """[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "{version}"
"""


def _wheel(directory: Path, name: str, version: str) -> Path:
    path = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{name}/__init__.py", f"# {name} {version}\n")
    return path


def _sdist(directory: Path, name: str, version: str) -> Path:
    """A source archive setuptools builds offline, as PyPI serves jieba's."""
    path = directory / f"{name}-{version}.tar.gz"
    files = {
        "pyproject.toml": PYPROJECT.format(name=name, version=version),
        f"{name}/__init__.py": "",
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    with tarfile.open(path, "w:gz") as tar:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}-{version}/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _pin(file: Path) -> str:
    name, version = file.name.removesuffix(".tar.gz").split("-")[:2]
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    return f"{name}=={version} \\\n    --hash=sha256:{'f' * 64} \\\n    --hash=sha256:{digest}\n"


def _site(tmp_path: Path) -> tuple[Path, Path, dict[str, list[Path]]]:
    """A source tree (a tiny ``appliance`` project with its three locks) and a directory
    holding every locked file, as scripts/bootstrap.sh leaves var/downloads/pypi."""
    source, found = tmp_path / "source", tmp_path / "found"
    (source / "appliance").mkdir(parents=True)
    (source / "appliance" / "__init__.py").write_text("")
    (source / "pyproject.toml").write_text(PYPROJECT.format(name="appliance", version="0.1.0"))
    found.mkdir()
    shared = _wheel(found, "shared_dep", "1.0")
    files = {
        "runtime.txt": [shared, _wheel(found, "gateway_dep", "2.0"), _sdist(found, "srconly", "3")],
        "controller.txt": [shared, _wheel(found, "ansible_core", "2.18.19")],
        "build.txt": [shared, _wheel(found, "setuptools_like", "84.2.1")],
    }
    (source / "requirements").mkdir()
    for lock, pinned in files.items():
        text = "# compiled\n" + "".join(_pin(f) for f in pinned)
        (source / "requirements" / lock).write_text(text)
    return source, found, files


def _spec(tmp_path: Path, source: Path, found: Path) -> BundleSpec:
    key = tmp_path / "keys" / "bundle.pem"
    if not key.exists():
        generate_key(key)
    return BundleSpec(
        output=tmp_path / "bundle.tar", signing_key=key, version="0.1.0",
        appliance_source=source, wheels_from=(found,), controller=True, as_directory=True,
    )  # fmt: skip


def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any download goes to a closed loopback port, so only the found files can be used."""
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")


def test_wheels_and_controller_wheels_are_exactly_the_locks_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _offline(monkeypatch)
    source, found, _ = _site(tmp_path)
    root = build(_spec(tmp_path, source, found), lambda _: None)

    wheels = sorted(p.name for p in (root / "wheels").glob("*"))
    assert wheels == [
        "appliance-0.1.0-py3-none-any.whl",
        "gateway_dep-2.0-py3-none-any.whl",
        "requirements.txt",
        "shared_dep-1.0-py3-none-any.whl",
        "srconly-3-py3-none-any.whl",
    ]
    controller = sorted(p.name for p in (root / "controller" / "wheels").iterdir())
    assert controller == [
        "ansible_core-2.18.19-py3-none-any.whl",
        "setuptools_like-84.2.1-py3-none-any.whl",
    ]
    # PyPI's files are the very bytes the lock names (hard links of the found ones).
    for name in ("gateway_dep-2.0-py3-none-any.whl", "shared_dep-1.0-py3-none-any.whl"):
        assert (root / "wheels" / name).read_bytes() == (found / name).read_bytes()
    locked = {d for lock in ("runtime.txt", "controller.txt", "build.txt")
              for pin in read_lock(source / "requirements" / lock) for d in pin.hashes}  # fmt: skip
    pins = (root / "controller" / "requirements.txt").read_text().splitlines()
    assert [line.split("==")[0] for line in pins] == [
        "ansible-core", "appliance", "gateway-dep", "setuptools-like", "shared-dep", "srconly",
    ]  # fmt: skip
    own = {"appliance", "srconly"}  # built here: pinned by their own hash
    for line in pins:
        name, digest = line.split("==")[0], line.rsplit("sha256:", 1)[1]
        assert (digest in locked) == (name not in own), line
    report = verify(root, tmp_path / "keys" / "bundle.pem.pub")
    assert report.ok, report.problems


def test_a_runtime_file_with_other_bytes_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The found gateway_dep wheel was swapped after the lock was reviewed: it is not taken,
    the index is asked for the locked file, and the build stops naming the pin."""
    _offline(monkeypatch)
    source, found, _ = _site(tmp_path)
    swapped = found / "gateway_dep-2.0-py3-none-any.whl"
    swapped.write_bytes(swapped.read_bytes() + b"tampered")
    with pytest.raises(InvalidRequest, match=r"pip download of 1 locked wheels \(gateway-dep==2"):
        build(_spec(tmp_path, source, found), lambda _: None)
    assert not list((tmp_path / "bundle.d").rglob("gateway_dep-*"))


def test_a_controller_file_with_other_bytes_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _offline(monkeypatch)
    source, found, _ = _site(tmp_path)
    swapped = found / "ansible_core-2.18.19-py3-none-any.whl"
    swapped.write_bytes(b"not the published wheel")
    with pytest.raises(InvalidRequest, match=r"pip download of 1 locked wheels \(ansible-core=="):
        build(_spec(tmp_path, source, found), lambda _: None)
    assert not list((tmp_path / "bundle.d").rglob("ansible_core-*"))


@pytest.mark.parametrize("lock", ["runtime.txt", "controller.txt", "build.txt"])
def test_a_pin_without_a_hash_is_refused_before_anything_is_written(
    tmp_path: Path, lock: str
) -> None:
    source, found, _ = _site(tmp_path)
    with (source / "requirements" / lock).open("a") as handle:
        handle.write("loose-pkg==1.0\n")
    with pytest.raises(InvalidRequest, match=r"not a hash-pinned requirement: loose-pkg==1\.0"):
        build(_spec(tmp_path, source, found), lambda _: None)
    assert not (tmp_path / "bundle.d").exists()


def test_controller_locks_that_disagree_on_a_version_are_refused(tmp_path: Path) -> None:
    source, found, _ = _site(tmp_path)
    (source / "requirements" / "build.txt").write_text(_pin(_wheel(tmp_path, "shared_dep", "1.1")))
    with pytest.raises(InvalidRequest, match=r"shared-dep: 1\.0 in one controller lock, 1\.1"):
        build(_spec(tmp_path, source, found), lambda _: None)


def test_the_shipped_controller_locks_cover_ansible_and_the_build_backend() -> None:
    names = {
        pin.name
        for lock in ("runtime.txt", "controller.txt", "build.txt")
        for pin in read_lock(ROOT / "requirements" / lock)
    }
    assert {"ansible-core", "ansible-runner", "setuptools", "wheel", "fastapi"} <= names
