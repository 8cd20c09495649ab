"""What the appliance installs is always checked: apt never trusts an unsigned repository,
and every pip install of the local runtime names a hash-pinned lock (or installs the
checkout itself, without dependencies)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNSIGNED = re.compile(
    r"trusted\s*=\s*yes|allow[-_]unauthenticated|AllowInsecureRepositories|allow[-_]insecure",
    re.IGNORECASE,
)


def _texts(*tops: str) -> list[tuple[Path, str]]:
    found = []
    for top in tops:
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and path.suffix in {".yml", ".yaml", ".j2", ".sh", ".cfg", ""}:
                found.append((path, path.read_text(errors="replace")))
    return found


def test_no_apt_source_or_install_skips_signatures() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path, text in _texts("playbooks", "inventory", "scripts")
        for match in UNSIGNED.finditer(text)
    ]
    assert offenders == []


def test_bootstrap_pip_installs_require_hashes() -> None:
    lines = (ROOT / "scripts" / "bootstrap.sh").read_text().splitlines()
    installs = [line.strip() for line in lines if re.search(r"pip\"? install\b", line)]
    assert len(installs) >= 4
    for line in installs:
        pinned = "--require-hashes" in line and "requirements/" in line
        checkout = '--no-deps --no-build-isolation -e "$ROOT"' in line
        assert pinned or checkout, line
