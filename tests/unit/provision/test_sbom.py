"""The bundle's CycloneDX SBOM lists every installable file with its SHA-256, and verify
names each file where the SBOM and the bundle disagree."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

from appliance.audit.checkpoint import generate_key
from appliance.provision import sbom
from appliance.provision.bundle import BundleSpec, build, verify, write_manifest


def _wheel(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("x/__init__.py", path.name)


def _pgvector_tar(path: Path) -> None:
    control = b"comment = 'vector'\ndefault_version = '0.8.1'\n"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("usr/share/postgresql/15/extension/vector.control")
        info.size = len(control)
        tar.addfile(info, io.BytesIO(control))


def _bundle(tmp_path: Path) -> tuple[Path, Path]:
    """An unpacked bundle with a wheel, a deb, Keycloak, pgvector and a two-file model."""
    key = tmp_path / "keys" / "bundle.pem"
    generate_key(key)
    wheels = tmp_path / "extra-wheels"
    wheels.mkdir()
    _wheel(wheels / "Demo_Pkg-1.2.3-py3-none-any.whl")
    # pgvector's Python client shares its name with the extension's build.
    _wheel(wheels / "pgvector-0.5.1-py3-none-any.whl")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    (model / "weights.safetensors").write_bytes(b"\x00" * 64)
    kc = tmp_path / "keycloak-quarkus-dist-26.7.3.zip"
    kc.write_bytes(b"PK\x05\x06" + bytes(18))
    spec = BundleSpec(
        output=tmp_path / "bundle.tar", signing_key=key, version="0.1.0",
        keycloak_zip=kc, model_dir=model, model_name="smol",
        extra_wheel_dirs=(wheels,), as_directory=True,
    )  # fmt: skip
    root = build(spec, lambda _: None)
    return root, key.with_name("bundle.pem.pub")


def _resign(root: Path, key: Path) -> None:
    """Rewrite the manifest as a builder would, so only the SBOM check can object."""
    write_manifest(root, key, "0.1.0")


def test_sbom_lists_every_artefact_with_purl_and_sha256(tmp_path: Path) -> None:
    root, _ = _bundle(tmp_path)
    debs = root / "debs"
    debs.mkdir()
    (debs / "libfoo1_1%3a2.0-3_amd64.deb").write_bytes(b"!<arch>\n")
    (root / "pgvector").mkdir()
    _pgvector_tar(root / "pgvector" / "pgvector-pg15.tar.gz")
    document = sbom.write(root, "0.1.0")
    assert document["bomFormat"] == "CycloneDX"
    assert document["specVersion"] == "1.5"
    by_path = {c["bom-ref"]: c for c in document["components"]}
    assert set(by_path) == {
        "wheels/Demo_Pkg-1.2.3-py3-none-any.whl",
        "wheels/pgvector-0.5.1-py3-none-any.whl",
        "debs/libfoo1_1%3a2.0-3_amd64.deb",
        "keycloak/keycloak-quarkus-dist-26.7.3.zip",
        "pgvector/pgvector-pg15.tar.gz",
        "model/smol/config.json",
        "model/smol/weights.safetensors",
    }
    wheel = by_path["wheels/Demo_Pkg-1.2.3-py3-none-any.whl"]
    assert wheel["purl"] == "pkg:pypi/demo-pkg@1.2.3"
    assert wheel["version"] == "1.2.3"
    deb = by_path["debs/libfoo1_1%3a2.0-3_amd64.deb"]
    assert deb["purl"] == "pkg:deb/debian/libfoo1@1%3A2.0-3?arch=amd64"
    assert deb["version"] == "1:2.0-3"
    assert by_path["keycloak/keycloak-quarkus-dist-26.7.3.zip"]["version"] == "26.7.3"
    assert by_path["pgvector/pgvector-pg15.tar.gz"]["version"] == "0.8.1"
    assert by_path["wheels/pgvector-0.5.1-py3-none-any.whl"]["purl"] == "pkg:pypi/pgvector@0.5.1"
    weights = by_path["model/smol/weights.safetensors"]
    assert weights["hashes"] == [
        {"alg": "SHA-256", "content": hashlib.sha256(b"\x00" * 64).hexdigest()}
    ]
    assert sbom.check(root) == []


def test_built_bundle_carries_an_sbom_that_verify_accepts(tmp_path: Path) -> None:
    root, pub = _bundle(tmp_path)
    report = verify(root, pub, tmp_path / "unused")
    assert report.ok, report.problems
    listed = json.loads((root / sbom.SBOM).read_text())["components"]
    assert len(listed) == 5


def test_verify_names_each_disagreement(tmp_path: Path) -> None:
    root, pub = _bundle(tmp_path)
    key = tmp_path / "keys" / "bundle.pem"
    document = json.loads((root / sbom.SBOM).read_text())
    # A component the bundle lacks, a file the SBOM lacks, a hash that differs.
    document["components"] = [
        c for c in document["components"] if c["bom-ref"] != "model/smol/config.json"
    ]
    ghost = dict(document["components"][0], **{"bom-ref": "wheels/ghost-1.0-py3-none-any.whl"})
    ghost["properties"] = [
        {"name": sbom.PATH_PROPERTY, "value": "wheels/ghost-1.0-py3-none-any.whl"}
    ]
    document["components"].append(ghost)
    (root / sbom.SBOM).write_text(json.dumps(document))
    (root / "model" / "smol" / "weights.safetensors").write_bytes(b"\x01" * 64)
    _resign(root, key)
    report = verify(root, pub, tmp_path / "unused")
    assert report.signature_ok
    assert sorted(report.problems) == [
        "SBOM hash differs: model/smol/weights.safetensors",
        "in SBOM, not in bundle: wheels/ghost-1.0-py3-none-any.whl",
        "not in SBOM: model/smol/config.json",
    ]


def test_a_bundle_without_sbom_fails_verification(tmp_path: Path) -> None:
    root, pub = _bundle(tmp_path)
    (root / sbom.SBOM).unlink()
    _resign(root, tmp_path / "keys" / "bundle.pem")
    report = verify(root, pub, tmp_path / "unused")
    assert not report.ok
    assert report.problems == (f"missing: {sbom.SBOM}",)


def test_wheels_from_extra_directories_are_pinned_by_hash_and_listed(tmp_path: Path) -> None:
    """A wheel added beside the appliance's is in wheels/requirements.txt with its SHA-256
    (the nodes install with --require-hashes) and in the SBOM with the same digest."""
    root, _ = _bundle(tmp_path)
    pins = (root / "wheels" / "requirements.txt").read_text().splitlines()
    components = {c["bom-ref"]: c for c in json.loads((root / sbom.SBOM).read_text())["components"]}
    for name, pin in (
        ("Demo_Pkg-1.2.3-py3-none-any.whl", "demo-pkg==1.2.3"),
        ("pgvector-0.5.1-py3-none-any.whl", "pgvector==0.5.1"),
    ):
        digest = hashlib.sha256((tmp_path / "extra-wheels" / name).read_bytes()).hexdigest()
        assert f"{pin} --hash=sha256:{digest}" in pins
        assert components[f"wheels/{name}"]["hashes"] == [{"alg": "SHA-256", "content": digest}]
