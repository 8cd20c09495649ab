"""The offline bundle's manifest (SHA-256 and SM3) and signature catch any change."""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from typer.testing import CliRunner

from appliance.audit.checkpoint import generate_key
from appliance.cli.main import app
from appliance.errors import InvalidRequest
from appliance.provision.bundle import ARCHIVE_KEY, BundleSpec, build, digests, sign_repo, verify


def _bundle(tmp_path: Path) -> tuple[Path, Path]:
    key = tmp_path / "keys" / "bundle.pem"
    generate_key(key)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    kc = tmp_path / "keycloak-26.7.3.zip"
    kc.write_bytes(b"PK\x05\x06" + bytes(18))
    spec = BundleSpec(
        output=tmp_path / "bundle.tar", signing_key=key, version="0.1.0",
        keycloak_zip=kc, model_dir=model, model_name="smol",
    )  # fmt: skip
    return build(spec, lambda _: None), key.with_name("bundle.pem.pub")


def test_digests_are_sha256_and_sm3(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"abc")
    d = digests(f)
    assert d["sha256"] == hashlib.sha256(b"abc").hexdigest()
    assert d["sm3"] == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_fresh_bundle_verifies(tmp_path: Path) -> None:
    archive, pub = _bundle(tmp_path)
    report = verify(archive, pub, tmp_path / "check")
    assert report.ok, report.problems
    # keycloak zip, model config, wheels/requirements.txt, sbom.cdx.json
    assert report.checked == 4


def test_altered_extra_and_resigned_files_are_caught(tmp_path: Path) -> None:
    archive, pub = _bundle(tmp_path)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    root = tmp_path / "x" / "bundle"
    (root / "model" / "smol" / "config.json").write_text("{}")
    (root / "model" / "smol" / "extra.bin").write_bytes(b"1")
    report = verify(root, pub, tmp_path / "unused")
    assert report.signature_ok
    assert "altered: model/smol/config.json" in report.problems
    assert "not in manifest: model/smol/extra.bin" in report.problems
    (root / "manifest.json").write_text((root / "manifest.json").read_text().replace("0.1.0", "9"))
    assert not verify(root, pub, tmp_path / "unused").signature_ok


def test_verifying_an_archive_leaves_no_copy_behind(tmp_path: Path) -> None:
    """The archive is unpacked under --scratch for the check and removed afterwards, also
    when the check fails half-way (a key that is not Ed25519)."""
    archive, pub = _bundle(tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    result = CliRunner().invoke(
        app, ["bundle", "verify", str(archive), "--public-key", str(pub), "--scratch", str(scratch)]
    )
    assert result.exit_code == 0, result.output
    assert "signature: valid" in result.output
    assert list(scratch.iterdir()) == []
    ec = tmp_path / "ec.pub"
    ec.write_bytes(
        generate_private_key(SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(InvalidRequest, match="is not an Ed25519 public key"):
        verify(archive, ec, scratch)
    assert list(scratch.iterdir()) == []


def test_archive_has_one_top_directory(tmp_path: Path) -> None:
    archive, _ = _bundle(tmp_path)
    with tarfile.open(archive) as tar:
        assert {n.split("/")[0] for n in tar.getnames()} == {"bundle"}


def _gpgv(keyring: Path, *files: Path) -> int:
    result = subprocess.run(
        ["/usr/bin/gpgv", "--keyring", str(keyring), *map(str, files)],
        capture_output=True, check=False,
    )  # fmt: skip
    return result.returncode


def test_apt_repo_is_signed_by_the_key_it_ships(tmp_path: Path) -> None:
    """InRelease and Release.gpg verify with the exported key (as apt's gpgv does with
    signed-by=), and no longer once Release changes; no private key is left behind."""
    repo = tmp_path / "debs"
    repo.mkdir()
    (repo / "Release").write_text("Origin: appliance-bundle\nSHA256:\n 00 0 Packages\n")
    sign_repo(repo)
    assert sorted(p.name for p in repo.iterdir()) == sorted(
        ["Release", "InRelease", "Release.gpg", ARCHIVE_KEY]
    )
    armoured = (repo / ARCHIVE_KEY).read_text()
    assert armoured.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert "PRIVATE" not in armoured
    keyring = tmp_path / "keyring.gpg"
    subprocess.run(
        ["/usr/bin/gpg", "--dearmor", "--output", str(keyring), str(repo / ARCHIVE_KEY)],
        check=True,
    )
    assert _gpgv(keyring, repo / "InRelease") == 0
    assert _gpgv(keyring, repo / "Release.gpg", repo / "Release") == 0
    (repo / "Release").write_text("Origin: someone else\n")
    assert _gpgv(keyring, repo / "Release.gpg", repo / "Release") != 0
