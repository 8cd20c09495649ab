"""vLLM's wheels in a bundle are the lock's own files: matched by SHA-256, never by name."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from appliance.audit.checkpoint import generate_key
from appliance.cli.main import app
from appliance.errors import InvalidRequest
from appliance.provision.bundle import BundleSpec, build
from appliance.provision.locked_wheels import collect, read_lock

ROOT = Path(__file__).resolve().parents[3]
WHEEL = "tiny_pkg-1.0-py3-none-any.whl"


def _lock(tmp_path: Path, content: bytes) -> Path:
    lock = tmp_path / "lock.txt"
    digest = hashlib.sha256(content).hexdigest()
    lock.write_text(
        "# compiled\n"
        f"tiny-pkg==1.0 \\\n    --hash=sha256:{'0' * 64} \\\n    --hash=sha256:{digest}\n"
        "    # via -r lock.in\n"
    )
    return lock


def test_the_shipped_locks_parse_with_every_pin_hashed() -> None:
    for name in ("vllm-cpu.txt", "vllm-cuda.txt"):
        pins = read_lock(ROOT / "requirements" / name)
        assert any(pin.name == "torch" for pin in pins), name
        assert all(pin.hashes for pin in pins)


def test_a_pin_without_a_hash_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text("tiny-pkg==1.0\n")
    with pytest.raises(InvalidRequest, match=r"not a hash-pinned requirement: tiny-pkg==1\.0"):
        read_lock(lock)


def test_a_file_whose_hash_the_lock_names_is_linked_not_copied(tmp_path: Path) -> None:
    found = tmp_path / "found"
    found.mkdir()
    (found / WHEEL).write_bytes(b"the published wheel")
    target = tmp_path / "target"
    assert collect(_lock(tmp_path, b"the published wheel"), target, [found]) == 1
    assert (target / WHEEL).stat().st_ino == (found / WHEEL).stat().st_ino


def test_a_file_with_other_bytes_is_not_used_and_the_download_failure_names_the_pin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same name, other bytes: not taken. pip then asks an index (a closed loopback port
    here), fails, and the error says which pins it could not get."""
    found = tmp_path / "found"
    found.mkdir()
    (found / WHEEL).write_bytes(b"a swapped wheel")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    target = tmp_path / "target"
    with pytest.raises(InvalidRequest, match=r"pip download of 1 locked wheels \(tiny-pkg==1.0"):
        collect(_lock(tmp_path, b"the published wheel"), target, [found])
    assert not (target / WHEEL).exists()


def test_a_bundle_built_from_a_lock_pins_exactly_its_files(tmp_path: Path) -> None:
    key = tmp_path / "bundle.pem"
    generate_key(key)
    found = tmp_path / "found"
    found.mkdir()
    (found / WHEEL).write_bytes(b"the published wheel")
    spec = BundleSpec(
        output=tmp_path / "bundle.tar", signing_key=key, version="0.1.0", controller=False,
        vllm_lock=_lock(tmp_path, b"the published wheel"), vllm_wheels_dir=found,
        as_directory=True,
    )  # fmt: skip
    root = build(spec, lambda _: None)
    digest = hashlib.sha256(b"the published wheel").hexdigest()
    assert (root / "vllm-requirements.txt").read_text() == f"tiny-pkg==1.0 --hash=sha256:{digest}\n"
    assert [p.name for p in (root / "vllm-wheels").iterdir()] == [WHEEL]


def test_a_venv_and_a_lock_together_are_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    spec = BundleSpec(
        output=tmp_path / "bundle.tar", signing_key=tmp_path / "none.pem", version="0.1.0",
        vllm_venv=tmp_path / "venv", vllm_lock=tmp_path / "lock.txt",
    )  # fmt: skip
    with pytest.raises(InvalidRequest, match="not both"):
        build(spec, lambda _: None)
    assert not (tmp_path / "bundle.d").exists()


def test_extra_wheels_come_only_from_a_hashed_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--wheel-lock``: a requirement without its hash is refused before anything is
    written; one with hashes that no index serves fails with the pin named, before the
    appliance's own wheels are built."""
    key = tmp_path / "bundle.pem"
    generate_key(key)
    loose = tmp_path / "loose.txt"
    loose.write_text("tiny-pkg==1.0\n")
    argv = ["bundle", "build", "-o", str(tmp_path / "b.tar"), "--signing-key", str(key),
            "--no-debs", "--no-controller", "--directory"]  # fmt: skip
    result = CliRunner().invoke(app, [*argv, "--wheel-lock", str(loose)])
    assert result.exit_code == 1
    assert "not a hash-pinned requirement: tiny-pkg==1.0" in result.output
    assert not (tmp_path / "b.d").exists()
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    result = CliRunner().invoke(
        app, [*argv, "--wheel-lock", str(_lock(tmp_path, b"the published wheel"))]
    )
    assert result.exit_code == 1
    assert "pip download of 1 locked wheels (tiny-pkg==1.0" in result.output
    assert not list((tmp_path / "b.d" / "bundle" / "wheels").glob("appliance-*.whl"))
