"""The common role's node-side bundle check (playbooks/roles/common/library/
appliance_bundle_verify.py): its pure-Python Ed25519 verifier agrees with ``cryptography``,
and a bundle built by ``appliance bundle build`` passes it until one file changes."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.audit.checkpoint import generate_key
from appliance.provision.bundle import BundleSpec, build

MODULE = (
    Path(__file__).resolve().parents[3]
    / "playbooks" / "roles" / "common" / "library" / "appliance_bundle_verify.py"
)  # fmt: skip


@pytest.fixture(scope="module")
def node() -> ModuleType:
    spec = importlib.util.spec_from_file_location("appliance_bundle_verify", MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_rfc8032_test_vector(node: ModuleType) -> None:
    """RFC 8032 7.1, TEST 2 (one-byte message)."""
    public = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
    signature = bytes.fromhex(
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
    )
    assert node.ed25519_verify(public, bytes([0x72]), signature)
    assert not node.ed25519_verify(public, bytes([0x73]), signature)


def test_agrees_with_cryptography(node: ModuleType) -> None:
    for size in (0, 1, 64, 1000):
        key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        message = os.urandom(size)
        signature = key.sign(message)
        assert node.ed25519_verify(_raw(key), message, signature)
        assert not node.ed25519_verify(_raw(other), message, signature), "wrong key"
        assert not node.ed25519_verify(_raw(key), message + b"x", signature), "altered message"
        bent = bytes([signature[0] ^ 1]) + signature[1:]
        assert not node.ed25519_verify(_raw(key), message, bent), "altered signature"
        assert not node.ed25519_verify(_raw(key), message, signature[:63]), "short signature"


def test_reads_the_pem_keygen_writes_and_nothing_else(node: ModuleType, tmp_path: Path) -> None:
    generate_key(tmp_path / "k.pem")
    assert len(node.public_key_from_pem((tmp_path / "k.pem.pub").read_text())) == 32
    ec = (
        generate_private_key(SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="not an Ed25519 public key"):
        node.public_key_from_pem(ec.decode())


def _bundle(tmp_path: Path) -> tuple[Path, str]:
    key = tmp_path / "keys" / "bundle.pem"
    generate_key(key)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    (model / "weights.bin").write_bytes(os.urandom(3 << 20))
    spec = BundleSpec(
        output=tmp_path / "bundle.tar", signing_key=key, version="0.1.0",
        model_dir=model, model_name="smol", as_directory=True,
    )  # fmt: skip
    return build(spec, lambda _: None), key.with_name("bundle.pem.pub").read_text()


def test_built_bundle_passes_until_a_file_changes(node: ModuleType, tmp_path: Path) -> None:
    root, pem = _bundle(tmp_path)
    listed = len(json.loads((root / "manifest.json").read_text())["files"])
    assert node.check_bundle(str(root), pem) == (listed, [])

    weights = root / "model" / "smol" / "weights.bin"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 1  # same size, one bit
    weights.write_bytes(bytes(data))
    (root / "model" / "smol" / "extra.py").write_text("print('hi')")
    assert node.check_bundle(str(root), pem) == (
        listed,
        ["altered: model/smol/weights.bin", "not in manifest: model/smol/extra.py"],
    )


def test_wrong_key_or_changed_manifest_is_refused_before_reading_files(
    node: ModuleType, tmp_path: Path
) -> None:
    root, pem = _bundle(tmp_path)
    generate_key(tmp_path / "other.pem")
    bad = ["bad signature: manifest.json is not signed by appliance_bundle_public_key"]
    assert node.check_bundle(str(root), (tmp_path / "other.pem.pub").read_text()) == (0, bad)
    manifest = root / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"0.1.0"', '"0.1.1"'))
    assert node.check_bundle(str(root), pem) == (0, bad)
    (root / "manifest.json.sig").unlink()
    assert node.check_bundle(str(root), pem) == (0, ["missing: manifest.json.sig"])


def test_stamp_spares_unchanged_files_but_not_an_altered_one(
    node: ModuleType, tmp_path: Path
) -> None:
    """A passed bundle is recorded; the next run hashes nothing unchanged, and a file
    rewritten since (same size, its modification time put back) is hashed and refused."""
    root, pem = _bundle(tmp_path)
    stamp = str(tmp_path / "state" / "verified.json")
    listed = len(json.loads((root / "manifest.json").read_text())["files"])
    assert node.verify_bundle(str(root), pem, stamp) == (listed, listed, [], True)
    assert oct(os.stat(stamp).st_mode & 0o777) == "0o600"
    assert node.verify_bundle(str(root), pem, stamp) == (listed, 0, [], False)

    weights = root / "model" / "smol" / "weights.bin"
    before = weights.stat()
    data = bytearray(weights.read_bytes())
    data[0] ^= 1
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert node.verify_bundle(str(root), pem, stamp) == (
        listed,
        1,
        ["altered: model/smol/weights.bin"],
        False,
    )
    # A stamp of another manifest spares nothing.
    Path(stamp).write_text(
        Path(stamp).read_text().replace('"manifest_sha256": "', '"manifest_sha256": "0')
    )
    data[0] ^= 1
    weights.write_bytes(bytes(data))
    assert node.verify_bundle(str(root), pem, stamp) == (listed, listed, [], True)
