"""Wheels repacked from an installed environment install like the originals."""

from __future__ import annotations

import zipfile
from pathlib import Path

from appliance.provision.repack import repack_environment


def _install(site: Path, name: str, tag: str, requires: list[str], files: dict[str, str]) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    meta = [f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"]
    meta += [f"Requires-Dist: {r}\n" for r in requires]
    (info / "METADATA").write_text("".join(meta))
    (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n")
    (info / "INSTALLER").write_text("pip\n")
    rows = [f"{name}-1.0.dist-info/{f},," for f in ("METADATA", "WHEEL", "INSTALLER", "RECORD")]
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
        rows.append(f"{rel},,")
    rows.append(f"../../../bin/{name},,")
    (info / "RECORD").write_text("\n".join(rows) + "\n")


def test_tags_and_contents(tmp_path: Path) -> None:
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    _install(site, "app", "py3-none-any", ["dep"], {"app/__init__.py": "A"})
    _install(site, "dep", "cp312-cp312-linux_x86_64", [], {"dep/_c.abi3.so": "so"})
    out = tmp_path / "wheels"

    pins = repack_environment(site, out)

    assert pins == ["app==1.0", "dep==1.0"]
    names = sorted(p.name for p in out.iterdir())
    assert names == ["app-1.0-py3-none-any.whl", "dep-1.0-cp311-cp311-linux_x86_64.whl"]
    with zipfile.ZipFile(out / names[0]) as wheel:
        listed = wheel.namelist()
        record = wheel.read("app-1.0.dist-info/RECORD").decode()
    assert "app/__init__.py" in listed
    assert "app-1.0.dist-info/INSTALLER" not in listed
    assert not any(n.startswith("..") for n in listed)
    assert "app/__init__.py,sha256=" in record
